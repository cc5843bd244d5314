"""Keep what could not be ingested: the raw input, where it came from and why it failed."""

from __future__ import annotations

import base64
import logging

from sqlmodel import Session, col, select

from engine.store.models import DeadLetter

log = logging.getLogger(__name__)

BASE64_PREFIX = "base64:"
PREVIEW_CHARS = 2000


class IngestError(ValueError):
    """Input that cannot be ingested; the message is the reason shown to people."""


def source_name(kind: str, detail: str = "") -> str:
    """The dead letter's source: a kind that picks the retry handler, then detail (e.g. `webhook:crm`)."""
    return f"{kind}:{detail}" if detail else kind


def source_kind(source: str) -> str:
    """The handler kind of a dead letter's source."""
    return source.split(":", 1)[0]


def pack_raw(data: bytes | str) -> str:
    """Raw input as storable text: UTF-8 text as is, anything else base64 with a prefix."""
    if isinstance(data, str):
        return BASE64_PREFIX + base64.b64encode(data.encode()).decode() if data.startswith(BASE64_PREFIX) else data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    else:
        if "\x00" not in text and not text.startswith(BASE64_PREFIX):
            return text
    return BASE64_PREFIX + base64.b64encode(data).decode()


def unpack_raw(raw: str) -> bytes:
    """The original bytes of a packed raw input."""
    if raw.startswith(BASE64_PREFIX):
        return base64.b64decode(raw[len(BASE64_PREFIX) :])
    return raw.encode("utf-8")


def raw_preview(raw: str, limit: int = PREVIEW_CHARS) -> str:
    """A readable preview of a raw input (binary shown with replacement characters)."""
    text = unpack_raw(raw).decode("utf-8", errors="replace") if raw.startswith(BASE64_PREFIX) else raw
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def record_dead_letter(
    session: Session, *, source: str, raw: bytes | str, error: str, unique: bool = False
) -> DeadLetter:
    """Store a dead letter; with `unique`, an unresolved one with the same source and raw input is reused."""
    packed = pack_raw(raw)
    if unique:  # the raw input is encrypted with a random IV: compare the source's open letters in Python
        query = select(DeadLetter).where(DeadLetter.source == source, col(DeadLetter.resolved).is_(False))
        query = query.order_by(col(DeadLetter.id))
        seen = next((letter for letter in session.exec(query) if letter.raw == packed), None)
        if seen is not None:
            return seen
    letter = DeadLetter(source=source, raw=packed, error=error)
    session.add(letter)
    session.flush()
    log.warning("dead letter %s from %s: %s", letter.id, source, error)
    return letter
