"""Reopen a resolved ticket: the resolution did not hold, which the learning loop and the KPIs count."""

from __future__ import annotations

from sqlmodel import Session

from engine.feedback.capture import FeedbackError
from engine.privacy import audit
from engine.sla import reopen_clock
from engine.store.models import Feedback, FeedbackKind, Ticket, TicketStatus, utcnow


def reopen_ticket(session: Session, *, ticket_id: int, reason: str, agent: str) -> Feedback:
    """Put a resolved ticket back in the queue with the agent's reason; stored as feedback and audited."""
    reason = reason.strip()
    if not reason:
        raise FeedbackError("say why the ticket is reopened")
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise FeedbackError(f"ticket {ticket_id} does not exist")
    if ticket.status != TicketStatus.RESOLVED:
        raise FeedbackError("only a resolved ticket can be reopened")
    now = utcnow()
    ticket.status = TicketStatus.OPEN
    ticket.resolved_at = None
    reopen_clock(ticket)
    ticket.reopens += 1
    ticket.updated_at = now
    feedback = Feedback(
        ticket_id=ticket_id,
        kind=FeedbackKind.REOPEN,
        old_intent=ticket.intent,
        reason=reason,
        agent=agent,
        created_at=now,
    )
    session.add(ticket)
    session.add(feedback)
    audit.append(
        session,
        actor=agent,
        action="ticket_reopened",
        subject=f"ticket:{ticket_id}",
        details={"reason": reason, "outcome_was": ticket.outcome or ""},
    )
    session.flush()
    return feedback
