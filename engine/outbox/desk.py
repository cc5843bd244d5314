"""What the screens ask of the outbox: each reply's delivery state, failed deliveries, retry, a test message."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import col, func, select

from engine.config import Settings
from engine.ingest.dead_letter_store import IngestError
from engine.ingest.email_channel import MailServer
from engine.ingest.webhook_auth import source_secret
from engine.outbox import callback, email
from engine.outbox.config import OutboxSettings, callback_url
from engine.outbox.errors import DeliveryError, Permanent
from engine.privacy import audit
from engine.store.db import session_scope
from engine.store.models import Ticket, utcnow
from engine.store.outbox_models import DeliveryState, OutboundReply

log = logging.getLogger(__name__)

STATE_TEXT = {
    DeliveryState.QUEUED: "Queued",
    DeliveryState.SENDING: "Sending",
    DeliveryState.SENT: "Sent",
    DeliveryState.FAILED: "Not delivered",
}


@dataclass(frozen=True)
class Delivery:
    """What the UI shows about one reply's delivery."""

    id: int
    ticket_id: int
    message_id: int
    channel: str
    state: str
    attempts: int
    reason: str
    key: str
    next_attempt_at: datetime
    sent_at: datetime | None

    @property
    def label(self) -> str:
        """'Sent', 'Queued (attempt 3 failed: ...)', 'Not delivered: ...'."""
        text = STATE_TEXT.get(DeliveryState(self.state), self.state)
        if self.state == DeliveryState.QUEUED and self.attempts:
            return f"{text}: attempt {self.attempts} failed ({self.reason}); retrying"
        if self.state == DeliveryState.FAILED:
            return f"{text}: {self.reason}"
        return text


def _delivery(row: OutboundReply) -> Delivery:
    return Delivery(
        row.id or 0,
        row.ticket_id,
        row.message_id,
        row.channel,
        row.state,
        row.attempts,
        row.reason,
        row.key,
        row.next_attempt_at,
        row.sent_at,
    )


def ticket_deliveries(db: SAEngine, ticket_id: int) -> dict[int, Delivery]:
    """The delivery of each outbound message of a ticket, by message id."""
    with session_scope(db) as session:
        rows = session.exec(select(OutboundReply).where(OutboundReply.ticket_id == ticket_id))
        return {row.message_id: _delivery(row) for row in rows}


def failed_deliveries(db: SAEngine, *, limit: int = 200) -> list[Delivery]:
    """Replies that did not reach their customer, newest first."""
    with session_scope(db) as session:
        query = (
            select(OutboundReply)
            .where(OutboundReply.state == DeliveryState.FAILED)
            .order_by(col(OutboundReply.id).desc())
            .limit(limit)
        )
        return [_delivery(row) for row in session.exec(query)]


def delivery_counts(db: SAEngine) -> dict[str, int]:
    """How many replies are in each delivery state."""
    with session_scope(db) as session:
        rows = session.exec(select(OutboundReply.state, func.count()).group_by(OutboundReply.state))
        return {state: int(count) for state, count in rows}


def retry_delivery(db: SAEngine, delivery_id: int, *, actor: str) -> str:
    """Queue a failed reply again (same Message-ID or idempotency key); audited."""
    with session_scope(db) as session:
        row = session.get(OutboundReply, delivery_id)
        if row is None:
            raise ValueError(f"delivery {delivery_id} does not exist")
        if row.state != DeliveryState.FAILED:
            raise ValueError(f"delivery {delivery_id} is {row.state}, not failed")
        if not row.route:
            raise ValueError(f"this reply has nowhere to go: {row.reason}")
        previous = row.reason
        row.state, row.attempts, row.next_attempt_at, row.reason = DeliveryState.QUEUED, 0, utcnow(), ""
        session.add(row)
        ticket = session.get(Ticket, row.ticket_id)
        audit.append(
            session,
            actor=actor,
            action="delivery_retried",
            subject=f"ticket:{ticket.id if ticket else row.ticket_id}",
            details={"delivery": delivery_id, "previous": previous},
        )
    return "Queued again; it goes out within seconds"


def send_notice(settings: Settings, *, to: str, subject: str, body: str) -> str:
    """E-mail a notice to staff from the support address (blocking); returns the server that accepted it.

    Raises DeliveryError when it was not accepted (or no SMTP server is set)."""
    try:
        server = MailServer.from_table(settings.smtp, "smtp")
    except IngestError as exc:
        raise Permanent(str(exc)) from exc
    key = f"<notice-{uuid.uuid4().hex}@{server.domain}>"
    email.send(server, email.compose(server, to=to, subject=subject, body=body, message_id=key))
    return f"{server.host}:{server.port}"


def send_test_message(settings: Settings, *, to: str = "", source: str = "") -> str:
    """Send a test e-mail to `to`, or a signed test callback to `source`; says what happened (blocking)."""
    key = f"test-{uuid.uuid4().hex}"
    try:
        if to:
            body = "This is a test message from CareDesk: replies to customers go out through this server."
            where = send_notice(settings, to=to, subject="CareDesk test message", body=body)
            return f"Test e-mail accepted by {where} for {to}"
        payload = callback.callback_body(key, "This is a test message from CareDesk.", {"conversation_id": "test"})
        timeout = OutboxSettings.of(settings).callback_timeout
        callback.post(
            callback_url(settings, source), source_secret(settings, source) or "", key, payload, timeout=timeout
        )
        return f"Test callback accepted by {callback_url(settings, source)}"
    except DeliveryError as exc:
        return f"Not sent: {exc}"
