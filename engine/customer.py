"""What the public, customer-facing pages ask of the engine: the survey behind a link, and its answer."""

from __future__ import annotations

from typing import Literal

from engine.runtime import Engine
from engine.surveys import find_survey, record_answer

SurveyState = Literal["open", "answered", "invalid"]


def survey_state(engine: Engine, token: str) -> SurveyState:
    """Whether a survey link can still be answered, was answered already, or is not valid."""
    with engine.session() as session:
        survey = find_survey(session, token)
    if survey is None:
        return "invalid"
    return "answered" if survey.answered_at is not None else "open"


def answer_survey(engine: Engine, token: str, *, csat: int, ces: int, comment: str) -> None:
    """Record a customer's answer given through the survey link (SurveyError when it cannot be recorded)."""
    with engine.transaction() as session:
        record_answer(session, token=token, csat=csat, ces=ces, comment=comment)
