"""The monthly in-app question to agents: how likely are they to recommend the AI assist to a colleague (0-10).

Asked once per agent per calendar month (UTC) after sign-in; an answer or a dismissal settles the month, and the
question comes back the next month. The answers make the dashboard's Agent NPS (engine/kpi/agent_nps.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from engine.runtime import Engine
from engine.store.models import utcnow
from engine.store.pulse_models import AgentPulse

QUESTION = "How likely are you to recommend the AI assist to a colleague?"
SCALE = (0, 10)


class PulseError(ValueError):
    """An answer that cannot be recorded; the message says why."""


def month_of(moment: datetime) -> str:
    """The calendar month (UTC) a moment falls in, as YYYY-MM."""
    return f"{moment:%Y-%m}"


def pulse_due(desk: Engine, agent: str, *, now: datetime | None = None) -> bool:
    """Whether the agent has neither answered nor dismissed the question this month."""
    month = month_of(now or utcnow())
    with desk.session() as session:
        query = select(AgentPulse.id).where(AgentPulse.agent == agent, AgentPulse.month == month)
        return bool(agent) and session.exec(query).first() is None


def answer_pulse(desk: Engine, agent: str, score: object, *, now: datetime | None = None) -> None:
    """Record the agent's answer for this month; raises PulseError for a score outside 0-10 or a second answer."""
    low, high = SCALE
    if isinstance(score, bool) or not isinstance(score, int | float) or score != int(score):
        raise PulseError(f"the answer must be a whole number from {low} to {high}, got {score!r}")
    if not low <= int(score) <= high:
        raise PulseError(f"the answer must be from {low} to {high}, got {score}")
    _settle(desk, agent, int(score), now or utcnow())


def dismiss_pulse(desk: Engine, agent: str, *, now: datetime | None = None) -> None:
    """The agent dismissed the question: not asked again before next month."""
    _settle(desk, agent, None, now or utcnow())


def _settle(desk: Engine, agent: str, score: int | None, now: datetime) -> None:
    if not agent:
        raise PulseError("sign in to answer")
    try:
        with desk.transaction() as session:
            session.add(AgentPulse(agent=agent, month=month_of(now), score=score, at=now))
    except IntegrityError as exc:
        raise PulseError("you already answered this month; thank you") from exc
