"""Send an agent's reply back to the channel the ticket came from: SMTP for e-mail, the source's callback URL else.

Blocking (network with timeouts and retries): call it from a worker thread (`run.io_bound`), never the UI loop.
A reply that cannot be delivered is kept as a dead letter and can be retried from the dead-letter page.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlmodel import col, select

from engine.app import Engine
from engine.ingest.dead_letter_store import IngestError, record_dead_letter, source_name
from engine.ingest.email_channel import new_message_id, send_email
from engine.ingest.webhook import source_of_key
from engine.ingest.webhook_auth import signed_headers
from engine.store.models import Channel, Customer, Direction, Message, Ticket

log = logging.getLogger(__name__)

DEAD_LETTER_KIND = "reply"
ATTEMPTS = 3
BACKOFF_SECONDS = 0.5
CALLBACK_TIMEOUT = 5.0
REPLY_SOURCE = "caredesk"


@dataclass(frozen=True)
class ReplyReceipt:
    """What happened to a reply; store `external_id` on the outbound Message so answers thread back."""

    delivered: bool
    channel: str
    external_id: str | None = None
    detail: str = ""
    dead_letter_id: int | None = None


class NoRoute(IngestError):
    """The ticket did not come from a channel CareDesk can answer (e.g. an imported or demo ticket)."""


def send_reply_to_channel(engine: Engine, ticket_id: int, text: str, *, agent: str = "") -> ReplyReceipt:
    """Deliver `text` to the customer over the ticket's channel; a failed delivery becomes a dead letter."""
    try:
        payload = reply_payload(engine, ticket_id, text, agent=agent)
    except NoRoute as exc:
        return ReplyReceipt(False, "", detail=str(exc))
    try:
        deliver_reply(engine, payload)
    except (IngestError, OSError, httpx.HTTPError) as exc:
        with engine.transaction() as session:
            letter = record_dead_letter(
                session,
                source=source_name(DEAD_LETTER_KIND, payload["channel"]),
                raw=json.dumps(payload),
                error=f"reply not delivered: {exc}",
            )
        return ReplyReceipt(False, payload["channel"], payload["reply_id"], str(exc), letter.id)
    return ReplyReceipt(True, payload["channel"], payload["reply_id"], "delivered")


def reply_payload(engine: Engine, ticket_id: int, text: str, *, agent: str = "") -> dict[str, Any]:
    """Everything needed to (re)send the reply, as JSON-able data; raises NoRoute when there is nowhere to send it."""
    with engine.session() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise NoRoute(f"ticket {ticket_id} does not exist")
        customer = session.get(Customer, ticket.customer_id)
        inbound = session.exec(
            select(Message.external_id)
            .where(Message.ticket_id == ticket_id, Message.direction == Direction.INBOUND)
            .order_by(col(Message.created_at), col(Message.id))
        ).all()
    base = {"ticket_id": ticket_id, "channel": ticket.channel, "text": text, "agent": agent}
    if ticket.channel == Channel.EMAIL:
        if customer is None or not customer.email:
            raise NoRoute(f"ticket {ticket_id} has no customer e-mail address")
        ids = [i for i in inbound if i and i.startswith("<")]
        subject = ticket.subject if ticket.subject.lower().startswith("re:") else f"Re: {ticket.subject}"
        return base | {
            "route": "email",
            "reply_id": new_message_id(engine.settings, ticket_id),
            "to": customer.email,
            "subject": subject,
            "in_reply_to": ids[-1] if ids else None,
            "references": ids,
        }
    source = next((s for s in (source_of_key(ticket.external_id), *map(source_of_key, inbound)) if s), None)
    if source is None:
        raise NoRoute(f"ticket {ticket_id} did not arrive through a channel CareDesk can answer")
    last = next((i for i in reversed(inbound) if source_of_key(i)), None)
    return base | {
        "route": "webhook",
        "reply_id": f"reply-{uuid.uuid4().hex}",
        "source": source,
        "conversation_id": _id_part(ticket.external_id, "c"),
        "in_reply_to": _id_part(last, "m"),
        "customer_handle": customer.handle if customer else None,
    }


def deliver_reply(engine: Engine, payload: dict[str, Any]) -> None:
    """Send a prepared reply, retrying transient failures; raises when it could not be delivered."""
    if payload["route"] == "email":
        _with_retries(
            lambda: send_email(
                engine.settings,
                to=payload["to"],
                subject=payload["subject"],
                body=payload["text"],
                message_id=payload["reply_id"],
                in_reply_to=payload["in_reply_to"],
                references=payload["references"],
            )
        )
    else:
        _with_retries(lambda: _post_callback(engine, payload))


def reprocess(engine: Engine, source: str, raw: str) -> None:
    """Dead-letter retry: send the stored reply again (same reply id, so the receiver can drop repeats)."""
    deliver_reply(engine, json.loads(raw))


def _post_callback(engine: Engine, payload: dict[str, Any]) -> None:
    source = payload["source"]
    url = engine.settings.extra.get("webhook_callbacks", {}).get(source)
    if not url:
        raise IngestError(f"no callback URL for source {source!r}: set one under webhook_callbacks")
    secret = engine.settings.extra.get("webhook_secrets", {}).get(source, "")
    body = json.dumps(
        {k: payload[k] for k in ("reply_id", "conversation_id", "in_reply_to", "customer_handle", "text")}
    )
    headers = {"Content-Type": "application/json", **signed_headers(REPLY_SOURCE, secret, body.encode())}
    response = httpx.post(url, content=body.encode(), headers=headers, timeout=CALLBACK_TIMEOUT)
    if response.status_code >= 300:
        raise _CallbackRefused(response.status_code, url)


class _CallbackRefused(IngestError):
    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"{url} answered HTTP {status}")
        self.transient = status >= 500 or status in (408, 429)


def _with_retries(send: Callable[[], None]) -> None:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            send()
            return
        except (OSError, httpx.TransportError, _CallbackRefused) as exc:  # SMTP errors are OSErrors
            if attempt == ATTEMPTS or (isinstance(exc, _CallbackRefused) and not exc.transient):
                raise
            log.info("reply attempt %d failed (%s); retrying", attempt, exc)
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))


def _id_part(key: str | None, kind: str) -> str | None:
    """The platform's own id inside a webhook key (`wh:<source>:<kind>:<id>`)."""
    parts = (key or "").split(":", 3)
    return parts[3] if len(parts) == 4 and parts[2] == kind else None
