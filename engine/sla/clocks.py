"""Each ticket's SLA clocks: its dues, set when it arrives (and again when triage changes its priority), and whether
each was met, recorded when the first reply is sent and when the ticket is resolved, or breached as time passes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, or_, select

from engine.sla.hours import as_utc
from engine.sla.policy import SlaSettings, priority_of
from engine.store.models import Ticket, TicketStatus, utcnow


def start_clock(ticket: Ticket, sla: SlaSettings) -> bool:
    """Set the ticket's dues from its channel and priority (what is already decided stays); True when they changed.

    A ticket that is already resolved (imported history) gets its verdicts from its recorded times.
    """
    dues = sla.dues(ticket.channel, priority_of(ticket.urgency, ticket.valence), ticket.created_at)
    if dues.policy == ticket.sla_policy and ticket.first_response_due is not None:
        return False
    ticket.sla_policy = dues.policy
    if ticket.first_response_breached is None:
        ticket.first_response_due = dues.first_response
    if ticket.resolution_breached is None:
        ticket.resolution_due = dues.resolution
    if ticket.status == TicketStatus.RESOLVED:
        answered = ticket.first_response_at or ticket.resolved_at
        if answered is not None:
            record_first_response(ticket, answered)
        if ticket.resolved_at is not None:
            record_resolution(ticket, ticket.resolved_at)
    return True


def start_clocks(session: Session, sla: SlaSettings, ticket_ids: Iterable[int]) -> None:
    """Give these tickets their dues if they have none yet (new tickets, at intake)."""
    ids = list(ticket_ids)
    if not ids:
        return
    query = select(Ticket).where(col(Ticket.id).in_(ids), col(Ticket.first_response_due).is_(None))
    for ticket in session.exec(query):
        start_clock(ticket, sla)
        session.add(ticket)


def record_first_response(ticket: Ticket, at: datetime) -> None:
    """The first reply reached the customer's channel at `at`: met or breached (once; later replies change nothing)."""
    if ticket.first_response_breached is None and ticket.first_response_due is not None:
        ticket.first_response_breached = as_utc(at) > as_utc(ticket.first_response_due)


def record_resolution(ticket: Ticket, at: datetime) -> None:
    """The ticket was resolved at `at`: met or breached (a breach already recorded stays)."""
    if ticket.resolution_breached is None and ticket.resolution_due is not None:
        ticket.resolution_breached = as_utc(at) > as_utc(ticket.resolution_due)


def reopen_clock(ticket: Ticket) -> None:
    """A resolution that did not hold was not met after all: the next one decides (a breach stays)."""
    if ticket.resolution_breached is False:
        ticket.resolution_breached = None


def first_reply_sent(session: Session, ticket_id: int, at: datetime) -> None:
    """Record the first response of a ticket whose reply a channel accepted at `at`."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None and ticket.first_response_breached is None:
        record_first_response(ticket, at)
        session.add(ticket)


def sweep(session: Session, now: datetime | None = None) -> list[int]:
    """Record as breached every due that passed undecided; returns the tickets breached by this sweep."""
    moment = as_utc(now or utcnow())
    first_late = col(Ticket.first_response_breached).is_(None) & (col(Ticket.first_response_due) < moment)
    resolution_late = col(Ticket.resolution_breached).is_(None) & (col(Ticket.resolution_due) < moment)
    tickets = list(session.exec(select(Ticket).where(or_(first_late, resolution_late))))
    for ticket in tickets:
        if ticket.first_response_breached is None and _passed(ticket.first_response_due, moment):
            ticket.first_response_breached = True
        if ticket.resolution_breached is None and _passed(ticket.resolution_due, moment):
            ticket.resolution_breached = True
        session.add(ticket)
    return [t.id for t in tickets if t.id is not None]


def _passed(due: datetime | None, moment: datetime) -> bool:
    return due is not None and as_utc(due) < moment


def breached(ticket: Ticket) -> bool:
    """Whether the ticket missed its first response or its resolution."""
    return bool(ticket.first_response_breached or ticket.resolution_breached)
