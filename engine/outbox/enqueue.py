"""Put a reply in the outbox, addressed over the channel its ticket came in on, in the reply's own transaction."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from sqlmodel import Session, col, select

from engine.ingest.webhook import source_of_key
from engine.outbox.config import too_long
from engine.store.models import Channel, Customer, Direction, Message, Ticket
from engine.store.outbox_models import DeliveryState, OutboundReply

log = logging.getLogger(__name__)


class NoRoute(ValueError):
    """The ticket did not come from a channel CareDesk can answer; the message says why."""


def enqueue_reply(session: Session, message: Message) -> OutboundReply:
    """Queue an outbound message for delivery (once per message); one that cannot go out is stored as failed."""
    if message.id is None:
        session.flush()
    existing = session.exec(select(OutboundReply).where(OutboundReply.message_id == message.id)).first()
    if existing is not None:
        return existing
    ticket = session.get(Ticket, message.ticket_id)
    assert ticket is not None and message.id is not None
    row = OutboundReply(ticket_id=message.ticket_id, message_id=message.id, channel=ticket.channel)
    try:
        row.route, row.source, envelope = address(session, ticket)
        row.envelope = json.dumps(envelope)
        problem = too_long(ticket.channel, message.body)
        if problem:
            raise NoRoute(problem)
    except NoRoute as exc:
        row.state, row.reason = DeliveryState.FAILED, f"not sent: {exc}"
        log.warning("reply on ticket %s not sent: %s", ticket.id, exc)
    if row.route == "webhook":
        row.key = f"reply-{uuid.uuid4().hex}"  # the idempotency key every attempt carries
    session.add(row)
    session.flush()
    return row


def address(session: Session, ticket: Ticket) -> tuple[str, str, dict[str, Any]]:
    """(route, webhook source, envelope) of a reply on `ticket`; raises NoRoute when there is nowhere to send it."""
    customer = session.get(Customer, ticket.customer_id)
    inbound = session.exec(
        select(Message.external_id)
        .where(Message.ticket_id == ticket.id, Message.direction == Direction.INBOUND)
        .order_by(col(Message.created_at), col(Message.id))
    ).all()
    if ticket.channel == Channel.EMAIL:
        if customer is None or not customer.email:
            raise NoRoute(f"ticket {ticket.id} has no customer e-mail address")
        ids = [i for i in inbound if i and i.startswith("<")]
        subject = ticket.subject if ticket.subject.lower().startswith("re:") else f"Re: {ticket.subject}"
        envelope = {
            "to": customer.email,
            "subject": subject,
            "in_reply_to": ids[-1] if ids else None,
            "references": ids,
        }
        return "email", "", envelope
    source = next((s for s in (source_of_key(ticket.external_id), *map(source_of_key, inbound)) if s), None)
    if source is None:
        raise NoRoute(f"ticket {ticket.id} did not arrive through a channel CareDesk can answer (demo or imported)")
    last = next((i for i in reversed(inbound) if source_of_key(i)), None)
    envelope = {
        "conversation_id": _id_part(ticket.external_id, "c"),
        "in_reply_to": _id_part(last, "m"),
        "customer_handle": customer.handle if customer else None,
    }
    return "webhook", source, envelope


def _id_part(key: str | None, kind: str) -> str | None:
    """The platform's own id inside a webhook key (`wh:<source>:<kind>:<id>`)."""
    parts = (key or "").split(":", 3)
    return parts[3] if len(parts) == 4 and parts[2] == kind else None
