"""Normalise one inbound message into Customer / Ticket / Message rows, deduplicated and threaded."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from engine.store.models import Customer, Direction, Message, Ticket, TicketStatus, utcnow

log = logging.getLogger(__name__)

SUBJECT_WORDS = 9


@dataclass(frozen=True)
class InboundMessage:
    """What every channel hands to intake, already decoded to text."""

    channel: str
    customer_name: str
    text: str
    customer_email: str | None = None
    customer_handle: str | None = None
    subject: str | None = None
    external_id: str | None = None
    thread_external_id: str | None = None  # the ticket's external id this message replies to
    received_at: datetime | None = None


@dataclass(frozen=True)
class IntakeResult:
    ticket_id: int
    message_id: int | None
    created_ticket: bool
    duplicate: bool


def subject_from(text: str) -> str:
    """A short subject line from the first words of a message."""
    words = text.split()
    subject = " ".join(words[:SUBJECT_WORDS])
    return subject + ("…" if len(words) > SUBJECT_WORDS else "")


def find_or_create_customer(session: Session, message: InboundMessage) -> Customer:
    """The customer with this email or handle, created on first contact."""
    customer = None
    if message.customer_email:
        customer = session.exec(select(Customer).where(Customer.email == message.customer_email)).first()
    if customer is None and message.customer_handle:
        customer = session.exec(select(Customer).where(Customer.handle == message.customer_handle)).first()
    if customer is None:
        customer = Customer(name=message.customer_name, email=message.customer_email, handle=message.customer_handle)
        session.add(customer)
        session.flush()
    return customer


def intake(session: Session, message: InboundMessage) -> IntakeResult:
    """Store one inbound message: a new ticket, or a reply threaded onto an existing one; duplicates are skipped."""
    at = message.received_at or utcnow()
    if message.external_id:
        seen = session.exec(select(Message).where(Message.external_id == message.external_id)).first()
        if seen is not None:
            return IntakeResult(seen.ticket_id, seen.id, created_ticket=False, duplicate=True)
    ticket = None
    if message.thread_external_id:
        ticket = session.exec(select(Ticket).where(Ticket.external_id == message.thread_external_id)).first()
    created = ticket is None
    if ticket is None:
        customer = find_or_create_customer(session, message)
        assert customer.id is not None
        ticket = Ticket(
            customer_id=customer.id,
            channel=message.channel,
            subject=message.subject or subject_from(message.text),
            external_id=message.external_id,
            created_at=at,
            updated_at=at,
        )
        session.add(ticket)
        session.flush()
    else:
        ticket.status = TicketStatus.OPEN if ticket.status == TicketStatus.RESOLVED else ticket.status
        ticket.updated_at = at
        ticket.triaged_at = None
        ticket.drafted_at = None
        session.add(ticket)
    assert ticket.id is not None
    author = message.customer_name
    row = Message(
        ticket_id=ticket.id,
        direction=Direction.INBOUND,
        author=author,
        body=message.text,
        external_id=message.external_id,
        created_at=at,
    )
    session.add(row)
    session.flush()
    return IntakeResult(ticket.id, row.id, created_ticket=created, duplicate=False)
