"""A customer's two opt-outs, set by an agent on the ticket or by a platform through the webhook API, each audited.

- AI handling (`Customer.ai_opt_in`): opted out, the AI neither drafts for them nor answers them alone; a person does.
- Earlier tickets in drafts (`Customer.ai_drafts_opt_out`): opted out, their tickets never feed a draft (reply memory,
  similar tickets, their own earlier tickets).

A new customer's AI handling starts at the `ai_opt_in_default` setting. A customer who asks for a person is marked
(`asked_for_person_at`): the AI never answers any of their tickets alone after that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from engine.privacy import audit
from engine.store.models import Customer, utcnow

AI_HANDLING = "ai_handling"
EARLIER_TICKETS = "earlier_tickets"
LABELS = {AI_HANDLING: "AI handling", EARLIER_TICKETS: "earlier tickets used in drafts"}


class ConsentError(ValueError):
    """A consent change that cannot be made; the message says why."""


class AiOptedOut(RuntimeError):
    """The customer opted out of AI handling: a person writes their reply."""


@dataclass(frozen=True)
class Consent:
    """What a customer allows the AI to do, as the ticket screen shows it."""

    customer_id: int
    ai_handling: bool  # the AI may draft for them and answer them alone
    earlier_tickets: bool  # their tickets may feed drafts
    asked_for_person_at: datetime | None


def consent_of(customer: Customer) -> Consent:
    """The customer's current choices."""
    return Consent(customer.id or 0, customer.ai_opt_in, not customer.ai_drafts_opt_out, customer.asked_for_person_at)


def set_consent(
    session: Session,
    customer_id: int,
    *,
    ai_handling: bool | None = None,
    earlier_tickets: bool | None = None,
    actor: str,
    via: str,
) -> list[str]:
    """Change either choice (None: leave it); every change is audited with who made it and through what.

    Returns the changed choices' names (empty when nothing changed)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise ConsentError(f"customer {customer_id} does not exist")
    current = consent_of(customer)
    wanted = {AI_HANDLING: ai_handling, EARLIER_TICKETS: earlier_tickets}
    changed = [name for name, value in wanted.items() if value is not None and value != getattr(current, name)]
    for name in changed:
        allowed = bool(wanted[name])
        if name == AI_HANDLING:
            customer.ai_opt_in = allowed
        else:
            customer.ai_drafts_opt_out = not allowed
        audit.append(
            session,
            actor=actor,
            action="consent_changed",
            subject=f"customer:{customer_id}",
            details={"choice": name, "allowed": allowed, "via": via},
        )
    if changed:
        session.add(customer)
        session.flush()
    return changed


def mark_asked_for_person(customer: Customer) -> audit.Record | None:
    """Record that the customer asked for a person; the audit record to append the first time, else None."""
    if customer.asked_for_person_at is not None:
        return None
    customer.asked_for_person_at = utcnow()
    return audit.Record("customer", "asked_for_person", f"customer:{customer.id}", {})
