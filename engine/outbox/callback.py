"""Post one reply to a webhook source's callback URL, signed, with an idempotency key the receiver dedupes on."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from engine.ingest.webhook_auth import signed_headers
from engine.outbox.errors import Permanent, Transient

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
SENDER_NAME = "caredesk"  # the X-CareDesk-Source of what CareDesk sends


def callback_body(key: str, text: str, envelope: dict[str, Any]) -> bytes:
    """The JSON a source receives: reply id, its conversation and message, the customer's handle, the text."""
    fields = {k: envelope.get(k) for k in ("conversation_id", "in_reply_to", "customer_handle")}
    return json.dumps({"reply_id": key, **fields, "text": text}).encode()


def post(url: str, secret: str, key: str, body: bytes, *, timeout: float) -> None:
    """POST a signed reply; raises Transient (retry with the same key) or Permanent (refused for good)."""
    if not url:
        raise Permanent("no callback URL for this source: set one in Settings → Channels (webhook_callbacks)")
    if not secret:
        raise Permanent("no secret for this source: set one in Settings → Channels (webhook_secrets)")
    headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: key, **signed_headers(SENDER_NAME, secret, body)}
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise Transient(f"{url} did not answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:  # refused, reset, or not HTTP at all
        raise Transient(f"{url}: {type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if 200 <= status < 300:
        log.info("reply %s accepted by %s", key, url)
        return
    reason = f"{url} answered HTTP {status}"
    if status >= 500 or status in (408, 409, 425, 429):
        raise Transient(reason)
    raise Permanent(f"{reason}: the receiver refused it")
