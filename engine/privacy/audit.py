"""Tamper-evident audit log: each row carries the SHA-256 of its own content and of the row before it.

`append` adds a row inside the caller's session (it commits with the caller's work, e.g. an erasure and its
tombstone together). Appends are serialised: a process-wide lock, and on SQLite a write lock taken before the last
row is read, so two sessions or processes cannot both chain onto the same row. `verify` walks the chain in id order
and names the first row whose content, link or position does not match.

The chain proves rows were not altered, removed or reordered in between; it cannot show that rows were cut off
the end, or that someone with write access rebuilt the whole chain. Keep a copy of `head()` elsewhere
(a backup, a printed report) and compare with `verify(..., expected_head=...)` to close that gap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from engine.store.audit_models import AuditEntry
from engine.store.db import begin_write
from engine.store.models import utcnow

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
_append_lock = threading.Lock()


@dataclass(frozen=True)
class Record:
    """One audit row to append: who did what to which subject, with details."""

    actor: str
    action: str
    subject: str = ""
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_id: int | None
    reason: str


def _canonical(value: Any) -> Any:
    """`value` as it reads back from a JSON column (tuples become lists, unknown types strings)."""
    return json.loads(json.dumps(value, default=str))


def entry_hash(*, id: int, at: datetime, actor: str, action: str, subject: str, details: Any, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of the row's fields and the previous row's hash."""
    row = {
        "id": id,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    payload = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hash_of(entry: AuditEntry) -> str:
    assert entry.id is not None
    return entry_hash(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        details=entry.details,
        prev_hash=entry.prev_hash,
    )


def _last(session: Session) -> AuditEntry | None:
    return session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1)).first()


def append(
    session: Session, *, actor: str, action: str, subject: str = "", details: dict[str, Any] | None = None
) -> AuditEntry:
    """Add one audit row chained to the last one; it is flushed, and committed with the caller's session."""
    return append_many(session, [Record(actor, action, subject, details)])[0]


def append_many(session: Session, records: Sequence[Record]) -> list[AuditEntry]:
    """Add rows chained to the last one and to each other, in order, with one read and one flush."""
    if not records:
        return []
    # Take the database write lock first, then the process lock: the last row cannot change under us until this
    # session commits or rolls back.
    begin_write(session)
    with _append_lock:
        last = _last(session)
        last_id, prev_hash = (last.id or 0, last.hash) if last else (0, GENESIS_HASH)
        entries = []
        at = utcnow()
        for offset, record in enumerate(records, start=1):
            entry = AuditEntry(
                id=last_id + offset,
                at=at,
                actor=record.actor,
                action=record.action,
                subject=record.subject,
                details=_canonical(record.details or {}),
                prev_hash=prev_hash,
                hash="",
            )
            entry.hash = prev_hash = _hash_of(entry)
            entries.append(entry)
        session.add_all(entries)
        session.flush()
    for record in records:
        log.debug("audit %s %s %s", record.actor, record.action, record.subject)
    return entries


def head(session: Session) -> tuple[int, str] | None:
    """(id, hash) of the newest row, to keep outside the database; None for an empty log."""
    last = _last(session)
    return (last.id or 0, last.hash) if last else None


def verify(session: Session, *, expected_head: tuple[int, str] | None = None) -> VerifyResult:
    """Check every row's hash and link in id order; name the first broken row."""
    prev_hash, expected_id, checked = GENESIS_HASH, 1, 0
    rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    for entry in rows:
        if entry.id != expected_id:
            return VerifyResult(False, checked, entry.id, f"rows {expected_id}..{(entry.id or 0) - 1} are missing")
        if entry.prev_hash != prev_hash:
            return VerifyResult(
                False, checked, entry.id, "link to the previous row does not match (a row was removed or reordered)"
            )
        if _hash_of(entry) != entry.hash:
            return VerifyResult(False, checked, entry.id, "row content does not match its hash (the row was altered)")
        prev_hash, expected_id, checked = entry.hash, expected_id + 1, checked + 1
    if expected_head is not None:
        head_id, head_hash = expected_head
        row = next((r for r in rows if r.id == head_id), None)
        if row is None or row.hash != head_hash:
            return VerifyResult(
                False, checked, head_id, "the saved head row is missing or differs (log cut or rebuilt)"
            )
    return VerifyResult(True, checked, None, f"{checked} rows, chain intact")
