"""Survey links on resolution replies, and what the public survey page does with a token.

Settings (`[surveys]` in caredesk.toml): `channels` (the channels whose resolution replies carry the link, default
all), `ai_resolved` (AI-resolved replies carry it too, default true), `expire_days` (14), `base_url` (the address
customers reach the desk at, default http://<host>:<port>). Every AI-resolved reply also carries "Not right? Ask a
person to look at this", which reopens the ticket to an agent with a flag and counts as an AI error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.config import Settings
from engine.outbox import too_long
from engine.privacy import audit
from engine.routing.auto_resolve import AI_AUTHOR
from engine.sla import reopen_clock
from engine.store.db import session_scope
from engine.store.models import Channel, Feedback, FeedbackKind, Message, Outcome, Ticket, TicketStatus, utcnow
from engine.surveys.answers import SurveyError, create_survey, find_survey, record_answer

log = logging.getLogger(__name__)

PERSON_REASON = "the customer asked for a person: the AI's answer was not right"


@dataclass(frozen=True)
class SurveySettings:
    """Which resolution replies carry a survey link, where it points, and how long it lives."""

    channels: tuple[str, ...] = field(default_factory=lambda: tuple(c.value for c in Channel))
    ai_resolved: bool = True
    expire_days: float = 14.0
    base_url: str = ""

    @classmethod
    def of(cls, settings: Settings) -> SurveySettings:
        """The `[surveys]` table of the settings with defaults."""
        given = dict(settings.surveys)
        base = str(given.get("base_url") or f"http://{settings.host}:{settings.port}").rstrip("/")
        return cls(
            channels=tuple(given.get("channels", cls().channels)),
            ai_resolved=bool(given.get("ai_resolved", True)),
            expire_days=float(given.get("expire_days", 14.0)),
            base_url=base,
        )


def with_links(session: Session, settings: Settings, message: Message) -> str:
    """The reply's text with its survey (and, from the AI, ask-a-person) links; the text alone when none apply."""
    ticket = session.get(Ticket, message.ticket_id)
    config = SurveySettings.of(settings)
    if ticket is None or ticket.status != TicketStatus.RESOLVED or ticket.channel not in config.channels:
        return message.body
    from_ai = message.author == AI_AUTHOR
    if from_ai and not config.ai_resolved:
        return message.body
    token = create_survey(session, ticket_id=ticket.id or 0).token
    lines = [f"How did we do? Two quick questions: {config.base_url}/survey/{token}"]
    if from_ai:
        lines.append(f"Not right? Ask a person to look at this: {config.base_url}/survey/{token}/person")
    footer = "\n\n" + "\n".join(lines)
    if footer in message.body or too_long(ticket.channel, message.body + footer):
        return message.body
    return message.body + footer


def token_state(db: SAEngine, token: str, *, settings: Settings, now: datetime | None = None) -> str:
    """'open', 'answered', 'expired' or 'invalid' for a survey link token."""
    with session_scope(db) as session:
        survey = find_survey(session, token)
        if survey is None:
            return "invalid"
        if survey.answered_at is not None:
            return "answered"
        return "expired" if _expired(survey.sent_at, settings, now) else "open"


def submit_answer(
    db: SAEngine, token: str, *, settings: Settings, csat: object, ces: object, comment: str = ""
) -> None:
    """Record the answer given through a survey link; raises SurveyError for a bad, used or expired link."""
    with session_scope(db) as session:
        survey = find_survey(session, token)
        if survey is not None and survey.answered_at is None and _expired(survey.sent_at, settings, None):
            raise SurveyError("this survey link has expired")
        record_answer(session, token=token, csat=csat, ces=ces, comment=comment)


def ask_for_person(db: SAEngine, token: str, *, settings: Settings) -> int:
    """Reopen the link's ticket to an agent, flagged as an AI error; returns the ticket id (raises SurveyError)."""
    with session_scope(db) as session:
        survey = find_survey(session, token)
        if survey is None:
            raise SurveyError("this link is not valid")
        if _expired(survey.sent_at, settings, None):
            raise SurveyError("this link has expired; please reply to our message instead")
        ticket = session.get(Ticket, survey.ticket_id)
        assert ticket is not None
        if ticket.status != TicketStatus.RESOLVED:
            return ticket.id or 0  # already with a person: asking twice changes nothing
        now = utcnow()
        ticket.status, ticket.resolved_at, ticket.updated_at = TicketStatus.OPEN, None, now
        ticket.needs_review, ticket.review_reason = True, PERSON_REASON  # the AI's intent may be what was wrong
        reopen_clock(ticket)
        ticket.reopens += 1
        if ticket.outcome == Outcome.RESOLVED_BY_AI:
            ticket.outcome = Outcome.FAILED  # the AI's answer did not settle it: an AI error on the dashboard
        ticket.route_reason = f"{ticket.route_reason} | {PERSON_REASON}".strip(" |")
        session.add(ticket)
        session.add(Feedback(ticket_id=ticket.id or 0, kind=FeedbackKind.REOPEN, reason=PERSON_REASON, agent=""))
        audit.append(session, actor="customer", action="asked_for_person", subject=f"ticket:{ticket.id}", details={})
        log.info("ticket %s reopened: %s", ticket.id, PERSON_REASON)
        return ticket.id or 0


def _expired(sent_at: datetime, settings: Settings, now: datetime | None) -> bool:
    sent_at = sent_at if sent_at.tzinfo is not None else sent_at.replace(tzinfo=UTC)
    return (now or utcnow()) - sent_at > timedelta(days=SurveySettings.of(settings).expire_days)
