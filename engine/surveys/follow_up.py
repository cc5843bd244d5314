"""Survey follow-ups: where a channel (or AI-resolved tickets) is surveyed by a follow-up message instead of a link in
the reply, a due job sends one, `follow_up_hours` after resolution, through the outbox; exactly once per ticket.

A ticket gets no follow-up when it already had a survey link or follow-up, is demo data, or was resolved longer ago
than a survey link lives (`expire_days`) before the follow-up came due (so turning follow-ups on does not survey old
tickets).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, exists, select

from engine.config import Settings
from engine.outbox import enqueue_reply
from engine.routing.auto_resolve import AI_AUTHOR
from engine.store.db import session_scope
from engine.store.models import SURVEY_AUTHOR, Direction, Message, Survey, Ticket, TicketStatus, utcnow
from engine.surveys.answers import create_survey
from engine.surveys.links import FOLLOW_UP, LINK, SurveySettings

log = logging.getLogger(__name__)

CHECK_SECONDS = 300  # how often the job looks for follow-ups that came due


def follow_up_text(link: str) -> str:
    """The follow-up message a customer gets."""
    return f"Thank you for contacting us. How did we do? Two quick questions: {link}"


def due_tickets(session: Session, config: SurveySettings, now: datetime) -> list[Ticket]:
    """Resolved live tickets whose follow-up came due, that never had a survey link or follow-up."""
    due = now - timedelta(hours=config.follow_up_hours)
    surveyed = exists().where(col(Survey.ticket_id) == col(Ticket.id), col(Survey.via).in_([LINK, FOLLOW_UP]))
    query = (
        select(Ticket)
        .where(Ticket.status == TicketStatus.RESOLVED, col(Ticket.demo).is_(False))
        .where(col(Ticket.resolved_at) <= due, col(Ticket.resolved_at) > due - timedelta(days=config.expire_days))
        .where(~surveyed)
        .order_by(col(Ticket.resolved_at))
    )
    return list(session.exec(query))


def send_follow_ups(db: SAEngine, settings: Settings, *, now: datetime | None = None) -> int:
    """Queue the survey follow-ups that came due (one transaction); returns how many were queued."""
    now = now or utcnow()
    config = SurveySettings.of(settings)
    if FOLLOW_UP not in (config.ai_resolved, *config.channels.values()):
        return 0
    sent = 0
    with session_scope(db) as session:
        for ticket in due_tickets(session, config, now):
            if config.method(ticket.channel, from_ai=_resolved_by_ai(session, ticket)) != FOLLOW_UP:
                continue
            survey = create_survey(session, ticket_id=ticket.id or 0, now=now, via=FOLLOW_UP)
            survey.via, survey.sent_at = FOLLOW_UP, now  # the link lives from now
            message = Message(
                ticket_id=ticket.id or 0,
                direction=Direction.OUTBOUND,
                author=SURVEY_AUTHOR,
                body=follow_up_text(config.link(survey.token)),
                created_at=now,
            )
            session.add_all([survey, message])
            session.flush()
            enqueue_reply(session, message)
            sent += 1
    if sent:
        log.info("%d survey follow-ups queued", sent)
    return sent


def _resolved_by_ai(session: Session, ticket: Ticket) -> bool:
    """Whether the reply that resolved the ticket came from the AI."""
    author = session.exec(
        select(Message.author)
        .where(Message.ticket_id == ticket.id, Message.direction == Direction.OUTBOUND)
        .where(Message.author != SURVEY_AUTHOR)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
    ).first()
    return author == AI_AUTHOR
