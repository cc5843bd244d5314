"""The dead-letter desk: list what failed, retry it after a fix (success resolves it), or discard it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select

from engine.ingest import attachments, bulk_import, email_channel, webhook
from engine.ingest.dead_letter_store import raw_preview, source_kind
from engine.ingest.webhook_refusals import Capacity, capacity
from engine.runtime import Engine
from engine.store.models import DeadLetter

log = logging.getLogger(__name__)

Handler = Callable[[Engine, str, str], None]
HANDLERS: dict[str, Handler] = {
    webhook.DEAD_LETTER_KIND: webhook.reprocess,
    email_channel.DEAD_LETTER_KIND: email_channel.reprocess,
    bulk_import.DEAD_LETTER_KIND: bulk_import.reprocess,
    attachments.DEAD_LETTER_KIND: attachments.reprocess,
}
DISCARDED = "[discarded]"


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    source: str
    error: str
    retries: int
    resolved: bool
    created_at: datetime
    preview: str
    received: int = 1


@dataclass(frozen=True)
class RetryOutcome:
    ok: bool
    message: str


def list_dead_letters(engine: Engine, *, include_resolved: bool = False, limit: int = 500) -> list[DeadLetterRow]:
    """Dead letters, newest first, with a readable preview of the raw input."""
    query = select(DeadLetter).order_by(col(DeadLetter.id).desc()).limit(limit)
    if not include_resolved:
        query = query.where(DeadLetter.resolved == False)  # noqa: E712
    with engine.session() as session:
        letters = list(session.exec(query))
    return [
        DeadLetterRow(
            id=letter.id or 0,
            source=letter.source,
            error=letter.error,
            retries=letter.retries,
            resolved=letter.resolved,
            created_at=letter.created_at,
            preview=raw_preview(letter.raw),
            received=letter.received,
        )
        for letter in letters
    ]


def open_dead_letter_count(engine: Engine) -> int:
    """How many dead letters wait for a decision."""
    with engine.session() as session:
        query = select(func.count()).select_from(DeadLetter).where(DeadLetter.resolved == False)  # noqa: E712
        return int(session.exec(query).one())


def dead_letter_capacity(engine: Engine) -> Capacity:
    """How full the dead-letter table is (`dead_letter_max_rows`)."""
    with engine.session() as session:
        return capacity(session, engine.settings)


def retry_dead_letter(engine: Engine, letter_id: int) -> RetryOutcome:
    """Run the input through its channel's processing again; success marks the dead letter resolved."""
    with engine.session() as session:
        letter = session.get(DeadLetter, letter_id)
    if letter is None:
        return RetryOutcome(False, f"dead letter {letter_id} does not exist")
    if letter.resolved:
        return RetryOutcome(True, "already resolved")
    handler = HANDLERS.get(source_kind(letter.source))
    if handler is None:
        return RetryOutcome(False, f"no retry is known for source {letter.source!r}")
    try:
        handler(engine, letter.source, letter.raw)
    except Exception as exc:  # the reason is stored and shown; the raw input stays
        reason = str(exc) or type(exc).__name__
        _update(engine, letter_id, resolved=False, error=reason)
        log.warning("retry of dead letter %d failed: %s", letter_id, reason)
        return RetryOutcome(False, reason)
    _update(engine, letter_id, resolved=True)
    return RetryOutcome(True, "processed")


def discard_dead_letter(engine: Engine, letter_id: int, *, agent: str = "") -> bool:
    """Mark a dead letter as dealt with without processing it (the raw input is kept for the record)."""
    with engine.transaction() as session:
        letter = session.get(DeadLetter, letter_id)
        if letter is None:
            return False
        letter.resolved = True
        letter.error = f"{DISCARDED} by {agent or 'an agent'}: {letter.error}"
        session.add(letter)
    return True


def _update(engine: Engine, letter_id: int, *, resolved: bool, error: str | None = None) -> None:
    with engine.transaction() as session:
        letter = session.get(DeadLetter, letter_id)
        if letter is None:
            return
        letter.retries += 1
        letter.resolved = resolved
        if error is not None:
            letter.error = error
        session.add(letter)
