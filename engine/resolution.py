"""How a ticket's handling stands or ended, in words: one state for the routing card, and for a resolved ticket
what was sent, by whom, and what the customer said in the survey."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from engine.store.models import SURVEY_AUTHOR, Direction, Message, Outcome, Route, Survey, Ticket

ROUTE_STATES = {
    Route.AUTO_RESOLVE: "Auto-resolve",
    Route.ASSIST: "Assist: an agent reviews",
    Route.ESCALATE: "Escalated",
}
OUTCOME_STATES = {
    Outcome.RESOLVED_WITH_EDIT: "Resolved: AI draft edited and sent by an agent",
    Outcome.RESOLVED_BY_AGENT: "Resolved by an agent",
    Outcome.ESCALATED: "Escalated",
    Outcome.FAILED: "Automatic answer failed: an agent took over",
}


def handling_state(route: str | None, outcome: str | None) -> str:
    """The one state a person reads for a ticket's route and outcome (the outcome wins once there is one)."""
    if outcome == Outcome.RESOLVED_BY_AI:
        return "Resolved by the AI" if route == Route.AUTO_RESOLVE else "Resolved: AI draft sent unchanged by an agent"
    if outcome in OUTCOME_STATES:
        return OUTCOME_STATES[Outcome(outcome)]
    return ROUTE_STATES[Route(route)] if route in ROUTE_STATES else "Not routed yet"


def failed_by_ai(outcome: str | None) -> bool:
    """True when the AI's automatic answer failed and a person took over."""
    return outcome == Outcome.FAILED


@dataclass(frozen=True)
class Resolution:
    """What a resolved ticket shows instead of a draft: how it ended, the reply sent, and the survey."""

    state: str
    resolved_at: datetime | None
    sent_by: str | None  # author of the last reply, None when nothing was sent
    sent_at: datetime | None
    survey: str  # the survey in words


def survey_text(survey: Survey | None) -> str:
    """The customer's survey answer in words, or whether one is still pending."""
    if survey is None:
        return "No survey sent."
    if survey.answered_at is None:
        return f"Survey sent {survey.sent_at:%d %b %H:%M}, not answered yet."
    comment = f' "{survey.comment}"' if survey.comment else ""
    return f"Survey answered: satisfaction {survey.csat}/10, effort {survey.ces}/5 (1 = least).{comment}"


def resolution(session: Session, ticket: Ticket) -> Resolution:
    """How a resolved ticket ended, its last reply and its latest survey."""
    reply = session.exec(
        select(Message)
        .where(Message.ticket_id == ticket.id, Message.direction == Direction.OUTBOUND)
        .where(Message.author != SURVEY_AUTHOR)  # a survey follow-up is not the reply that resolved it
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
    ).first()
    survey = session.exec(select(Survey).where(Survey.ticket_id == ticket.id).order_by(col(Survey.id).desc())).first()
    return Resolution(
        state=handling_state(ticket.route, ticket.outcome),
        resolved_at=ticket.resolved_at,
        sent_by=reply.author if reply is not None else None,
        sent_at=reply.created_at if reply is not None else None,
        survey=survey_text(survey),
    )
