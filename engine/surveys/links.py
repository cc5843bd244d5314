"""Survey links on resolution replies, and what the public survey page does with a token.

Settings (`[surveys]` in caredesk.toml, or the Settings page): `channels` (per channel, how a ticket an agent resolved
is surveyed: "link" in the resolution reply, "follow_up" message after `follow_up_hours`, or "off"; a list of channels
means "link" for those and "off" for the others; default "link" everywhere), `ai_resolved` (the same for tickets the
AI answered alone, default "link"), `follow_up_hours` (24), `expire_days` (14), `base_url` (the address customers
reach the desk at, default http://<host>:<port>). Every AI-resolved reply also carries "Not right? Ask a person to look
at this", which reopens the ticket to an agent with a flag and counts as an AI error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.config import Settings
from engine.outbox import too_long
from engine.privacy import audit
from engine.routing.auto_resolve import AI_AUTHOR
from engine.sla import reopen_clock
from engine.store.db import session_scope
from engine.store.models import (
    SURVEY_AUTHOR,
    Channel,
    Feedback,
    FeedbackKind,
    Message,
    Outcome,
    Ticket,
    TicketStatus,
    utcnow,
)
from engine.surveys.answers import SurveyError, create_survey, find_survey, record_answer

log = logging.getLogger(__name__)

PERSON_REASON = "the customer asked for a person: the AI's answer was not right"
LINK, FOLLOW_UP, OFF, PERSON = "link", "follow_up", "off", "person"  # PERSON: a token with the ask-a-person link only
METHODS = {LINK: "Link in the reply", FOLLOW_UP: "Follow-up message", OFF: "No survey"}


@dataclass(frozen=True)
class SurveySettings:
    """How resolved tickets are surveyed (per channel, and for AI-resolved ones), where links point, how long they
    live."""

    channels: dict[str, str] = field(default_factory=lambda: {c.value: LINK for c in Channel})
    ai_resolved: str = LINK
    follow_up_hours: float = 24.0
    expire_days: float = 14.0
    base_url: str = ""

    @classmethod
    def of(cls, settings: Settings) -> SurveySettings:
        """The `[surveys]` table of the settings with defaults (an unknown method is read as "link", with a warning)."""
        given = dict(settings.surveys)
        base = str(given.get("base_url") or f"http://{settings.host}:{settings.port}").rstrip("/")
        raw = given.get("channels", cls().channels)
        listed = raw if isinstance(raw, dict) else dict.fromkeys(raw, LINK)
        return cls(
            channels={c.value: _method(listed.get(c.value, OFF), f"channels.{c.value}") for c in Channel},
            ai_resolved=_method(given.get("ai_resolved", LINK), "ai_resolved"),
            follow_up_hours=float(given.get("follow_up_hours", 24.0)),
            expire_days=float(given.get("expire_days", 14.0)),
            base_url=base,
        )

    def method(self, channel: str, *, from_ai: bool) -> str:
        """How a ticket of this channel, resolved by the AI's reply or by an agent's, is surveyed."""
        return self.ai_resolved if from_ai else self.channels.get(channel, OFF)

    def link(self, token: str) -> str:
        """The survey page of a token."""
        return f"{self.base_url}/survey/{token}"


def survey_table(
    current: dict[str, Any], *, channels: dict[str, str], ai_resolved: str, hours: object
) -> dict[str, Any]:
    """The `[surveys]` table with new methods and follow-up delay; raises ValueError for a bad method or delay."""
    for where, value in [*((f"channel {c}", m) for c, m in channels.items()), ("AI-resolved", ai_resolved)]:
        if value not in METHODS:
            raise ValueError(f"{where}: the survey must be one of {', '.join(METHODS)}, got {value!r}")
    try:
        delay = float(str(hours))
    except ValueError:
        delay = -1.0
    if not 0 < delay <= 24 * 30:
        raise ValueError(f"the follow-up delay must be a number of hours from 0 to 720, got {hours!r}")
    return {**current, "channels": dict(channels), "ai_resolved": ai_resolved, "follow_up_hours": delay}


def _method(value: object, where: str) -> str:
    if isinstance(value, bool):
        return LINK if value else OFF
    if value in METHODS:
        return str(value)
    log.warning("surveys.%s = %r is not one of %s: a link is used", where, value, ", ".join(METHODS))
    return LINK


def with_links(session: Session, settings: Settings, message: Message) -> str:
    """The reply's text with its survey link (when the survey goes in the reply) and, from the AI, the ask-a-person
    link; the text alone when none apply."""
    ticket = session.get(Ticket, message.ticket_id)
    if ticket is None or ticket.status != TicketStatus.RESOLVED or message.author == SURVEY_AUTHOR:
        return message.body
    config = SurveySettings.of(settings)
    from_ai = message.author == AI_AUTHOR
    in_reply = config.method(ticket.channel, from_ai=from_ai) == LINK
    if not (in_reply or from_ai):
        return message.body
    # only the ask-a-person link: a follow-up may still carry the survey
    survey = create_survey(session, ticket_id=ticket.id or 0, via=LINK if in_reply else PERSON)
    lines = []
    if in_reply:
        survey.via = LINK
        lines.append(f"How did we do? Two quick questions: {config.link(survey.token)}")
    if from_ai:
        lines.append(f"Not right? Ask a person to look at this: {config.link(survey.token)}/person")
    session.add(survey)
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
