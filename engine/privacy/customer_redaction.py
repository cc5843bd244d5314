"""Redaction of a ticket's texts with what the customer record adds: the customer's own name and country."""

from __future__ import annotations

from sqlmodel import Session

from engine.privacy.redaction import RedactionContext, redact
from engine.privacy.redaction_context import customer_context
from engine.store.models import Customer, Message, Ticket


def ticket_context(session: Session, ticket_id: int | None) -> RedactionContext:
    """The redaction context of a ticket's customer (an empty one when the ticket or customer is gone)."""
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    customer = session.get(Customer, ticket.customer_id) if ticket is not None else None
    return customer_context(customer.name, customer.email) if customer is not None else RedactionContext()


def message_pii_kinds(session: Session, message: Message) -> list[str]:
    """The kinds of personal data redaction hides in a message (EMAIL, NAME, ...), for the audit trail."""
    spans = redact(message.body, ticket_context(session, message.ticket_id)).spans
    return sorted({span.kind.name for span in spans})
