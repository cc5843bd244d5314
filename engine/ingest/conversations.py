"""Thread a channel message onto its conversation's ticket, then hand it to intake."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from sqlmodel import Session, col, select

from engine.ingest.intake import InboundMessage, IntakeResult, intake
from engine.store.models import Message, Ticket

log = logging.getLogger(__name__)


def deliver(
    session: Session,
    message: InboundMessage,
    *,
    conversation_key: str | None = None,
    thread_keys: Sequence[str] = (),
    ticket_id: int | None = None,
) -> IntakeResult:
    """Intake `message` onto the ticket of its conversation, found by key, by a referenced message or by id.

    A message that starts a conversation opens a ticket whose external id is `conversation_key`, so later
    messages of the same conversation thread onto it.
    """
    ticket = _find_ticket(session, conversation_key, thread_keys, ticket_id)
    thread = _ticket_key(session, ticket) if ticket is not None else None
    return intake(session, replace(message, thread_external_id=thread, ticket_external_id=conversation_key))


def _find_ticket(
    session: Session, conversation_key: str | None, thread_keys: Sequence[str], ticket_id: int | None
) -> Ticket | None:
    keys = [k for k in (conversation_key, *thread_keys) if k]
    for key in keys:
        ticket = _ticket_by_key(session, key)
        if ticket is not None:
            return ticket
    if keys:
        query = select(Message.ticket_id).where(col(Message.external_id).in_(keys)).order_by(col(Message.id).desc())
        found = session.exec(query).first()
        if found is not None:
            return session.get(Ticket, found)
    return session.get(Ticket, ticket_id) if ticket_id is not None else None


def _ticket_by_key(session: Session, key: str) -> Ticket | None:
    return session.exec(select(Ticket).where(Ticket.external_id == key)).first()


def _ticket_key(session: Session, ticket: Ticket) -> str:
    """The ticket's external id, given one if it had none, so intake can thread onto it."""
    if ticket.external_id is None:
        ticket.external_id = f"caredesk:ticket:{ticket.id}"
        session.add(ticket)
        session.flush()
    return ticket.external_id
