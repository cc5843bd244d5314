"""One length limit per message field, for every channel.

The webhook refuses a longer field (422, kept as a dead letter) and the import dead-letters the row, since their
senders can fix and send again; an e-mail is cut to the limits, since its sender cannot, and its original .eml
keeps every character.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.ingest.dead_letter_store import IngestError
from engine.ingest.intake import InboundMessage

FIELD_LIMITS: dict[str, int] = {
    "subject": 300,
    "text": 20_000,
    "customer_name": 200,
    "customer_handle": 200,
    "customer_email": 320,
}
CUT_MARK = "…"


def check_limits(message: InboundMessage) -> None:
    """Raise IngestError naming every field of `message` over its limit."""
    over = [
        f"{name} is {len(value):,} characters; the limit is {limit:,}"
        for name, limit in FIELD_LIMITS.items()
        if len(value := getattr(message, name) or "") > limit
    ]
    if over:
        raise IngestError("; ".join(over))


def cut_to_limits(message: InboundMessage) -> InboundMessage:
    """`message` with every field cut to its limit (ending in "…" where it was cut)."""
    cuts: dict[str, Any] = {
        name: value[: limit - len(CUT_MARK)] + CUT_MARK
        for name, limit in FIELD_LIMITS.items()
        if len(value := getattr(message, name) or "") > limit
    }
    return replace(message, **cuts) if cuts else message
