"""Bulk import of past tickets from .csv, .jsonl, .mbox or .eml: resumable, deduplicated, bad rows dead-lettered.

CSV and JSONL rows need `text`; optional: external_id, channel (email, chat, sms, social, voice), customer,
email, subject, created_at (ISO 8601), status (new, open, escalated, resolved), reply (the agent's answer),
resolved_at and intent (the team's label: kept as gold_intent, it trains the intent model). A checkpoint under
data_dir/imports records the rows done after every committed batch, so a rerun after an interruption continues
there; rows are deduplicated on external_id (or on a hash of the row when it has none), so nothing is stored
twice either way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mailbox
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlmodel import Session

from engine.config import Settings
from engine.ingest.attachments import extract_attachments
from engine.ingest.batch import run_batch
from engine.ingest.conversations import deliver
from engine.ingest.csv_rows import csv_columns, csv_records
from engine.ingest.dead_letter_store import IngestError, record_dead_letter, source_name
from engine.ingest.email_channel import store_email
from engine.ingest.email_parse import parse_email
from engine.ingest.field_limits import check_limits
from engine.ingest.intake import InboundMessage
from engine.ingest.text_decode import decode_text, repair_surrogates
from engine.runtime import Engine
from engine.store.models import Channel, Direction, Message, Ticket, TicketStatus

log = logging.getLogger(__name__)

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".mbox": "mbox", ".eml": "eml"}
ALIASES = {
    "text": ("text", "body", "message", "description"),
    "external_id": ("external_id", "id", "ticket_id"),
    "customer": ("customer", "customer_name", "name"),
    "email": ("email", "customer_email"),
    "created_at": ("created_at", "date", "timestamp"),
}
BATCH_ROWS = 200
DEAD_LETTER_KIND = "import"
IMPORTED_AUTHOR = "Support team (imported)"


@dataclass(frozen=True)
class SourceRow:
    """One record of an import file: fields (CSV/JSONL), a raw e-mail, or the reason it could not be read."""

    number: int
    fields: dict[str, Any] | None = None
    email: bytes | None = None
    error: str = ""
    raw: bytes = b""
    line: int = 0  # the first line in the file, when the format has lines that mean something (CSV)

    @property
    def where(self) -> str:
        """Where the record is in its file, for people: its line, else its row number."""
        return f"line {self.line}" if self.line else f"row {self.number}"


@dataclass
class ImportProgress:
    """Counts so far; `done` rows of `total` have been committed."""

    total: int
    done: int = 0
    imported: int = 0
    duplicates: int = 0
    failed: int = 0
    resumed_from: int = 0
    complete: bool = False
    format: str = ""
    file: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        """Share of rows done, 0..1."""
        return self.done / self.total if self.total else 1.0


def import_tickets(
    engine: Engine,
    path: Path,
    *,
    progress: Callable[[ImportProgress], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportProgress:
    """Import every ticket in `path`, continuing after the last checkpoint; returns the final counts."""
    file_format = FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise IngestError(f"cannot import {path.name}: use one of {', '.join(sorted(FORMATS))}")
    checkpoint = _checkpoint_path(engine.settings, path)
    state = _load_checkpoint(checkpoint) or ImportProgress(total=_count(path, file_format))
    state.format, state.file, state.resumed_from = file_format, path.name, state.done
    if state.resumed_from:
        log.info("resuming the import of %s after row %d", path.name, state.resumed_from)
    batch: list[SourceRow] = []
    for row in _rows(path, file_format):
        if row.number <= state.resumed_from:
            continue
        batch.append(row)
        if len(batch) >= batch_rows:
            _commit(engine, path, batch, state, checkpoint, progress)
            batch = []
    _commit(engine, path, batch, state, checkpoint, progress)
    state.complete = True
    _save_checkpoint(checkpoint, state)
    if progress is not None:
        progress(state)
    log.info(
        "imported %s: %d new, %d already there, %d dead-lettered",
        path.name,
        state.imported,
        state.duplicates,
        state.failed,
    )
    return state


def store_row(session: Session, settings: Settings, row: SourceRow, *, file_name: str) -> tuple[str, list[int]]:
    """Store one import record; returns ("imported" | "duplicate" | "failed", new attachment ids)."""
    try:
        if row.error:
            raise IngestError(row.error)
        if row.email is not None:
            result, ids = store_email(session, settings, parse_email(row.email), row.email)
            return ("duplicate" if result.duplicate else "imported"), ids
        assert row.fields is not None
        message, extras = row_message(row.fields)
        result = deliver(session, message)
        if result.created_ticket:
            _apply_history(session, result.ticket_id, message, extras)
        return ("duplicate" if result.duplicate else "imported"), []
    except IngestError as exc:
        record_dead_letter(
            session,
            source=_row_source(row, file_name),
            raw=_row_raw(row),
            error=f"{row.where}: {exc}",
            unique=True,
        )
        return "failed", []


def reprocess(engine: Engine, source: str, raw: str) -> None:
    """Dead-letter retry: validate and store the row's fields again."""
    try:
        fields = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise IngestError(f"not a JSON object: {exc}") from exc
    if not isinstance(fields, dict):
        raise IngestError("a row must be a JSON object")
    message, extras = row_message(fields)
    with engine.transaction() as session:
        result = deliver(session, message)
        if result.created_ticket:
            _apply_history(session, result.ticket_id, message, extras)
    engine.notify()


def row_message(fields: dict[str, Any]) -> tuple[InboundMessage, dict[str, Any]]:
    """The inbound message and history fields (status, reply, intent, resolved_at) of one row; IngestError if bad."""
    values = {
        str(k).strip().lower(): repair_surrogates(str(v)).strip() for k, v in fields.items() if k and v is not None
    }
    pick = {name: next((values[a] for a in aliases if values.get(a)), "") for name, aliases in ALIASES.items()}
    if not pick["text"]:
        raise IngestError("the text is empty")
    channel = values.get("channel", "").lower() or Channel.EMAIL
    if channel not in set(Channel):
        raise IngestError(f"channel {channel!r} is not one of {', '.join(Channel)}")
    status = values.get("status", "").lower()
    if status and status not in set(TicketStatus):
        raise IngestError(f"status {status!r} is not one of {', '.join(TicketStatus)}")
    created = parse_time(pick["created_at"]) if pick["created_at"] else None
    resolved = parse_time(values["resolved_at"]) if values.get("resolved_at") else created
    key = (
        pick["external_id"] or "import:" + hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:32]
    )
    message = InboundMessage(
        channel=channel,
        customer_name=pick["customer"] or pick["email"] or "Unknown customer",
        text=pick["text"],
        customer_email=pick["email"].lower() or None,
        customer_handle=pick["customer"] or None,
        subject=values.get("subject") or None,
        external_id=key,
        received_at=created,
    )
    check_limits(message)
    return message, {
        "status": status,
        "reply": values.get("reply", ""),
        "intent": values.get("intent", ""),
        "resolved_at": resolved,
    }


def parse_time(value: str) -> datetime:
    """An ISO 8601 or RFC 2822 date, or Unix seconds; UTC when no offset is given."""
    text = value.strip()
    try:
        parsed = (
            datetime.fromtimestamp(float(text), UTC)
            if text.replace(".", "", 1).isdigit()
            else datetime.fromisoformat(text)
        )
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (ValueError, TypeError, IndexError) as exc:
            raise IngestError(f"date {value!r} is not ISO 8601 (e.g. 2024-05-01T09:30:00Z)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _apply_history(session: Session, ticket_id: int, message: InboundMessage, extras: dict[str, Any]) -> None:
    """Keep what the history says about the ticket: its label, the agent's reply and its final status."""
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    ticket.gold_intent = extras["intent"] or None
    ticket.imported = True
    at = extras["resolved_at"] or message.received_at or ticket.created_at
    if extras["reply"]:
        session.add(
            Message(
                ticket_id=ticket_id,
                direction=Direction.OUTBOUND,
                author=IMPORTED_AUTHOR,
                body=extras["reply"],
                created_at=at,
            )
        )
        ticket.first_response_at = at
    if extras["status"]:
        ticket.status = extras["status"]
    if ticket.status == TicketStatus.RESOLVED:
        ticket.resolved_at = at
        ticket.updated_at = at
    session.add(ticket)


def _commit(
    engine: Engine,
    path: Path,
    batch: list[SourceRow],
    state: ImportProgress,
    checkpoint: Path,
    progress: Callable[[ImportProgress], None] | None,
) -> None:
    if not batch:
        return
    jobs = [partial(store_row, settings=engine.settings, row=row, file_name=path.name) for row in batch]
    results = run_batch(engine.db, jobs)
    attachment_ids: list[int] = []
    for row, result in zip(batch, results, strict=True):
        if isinstance(result, Exception):
            with engine.transaction() as session:
                record_dead_letter(
                    session,
                    source=_row_source(row, path.name),
                    raw=_row_raw(row),
                    error=f"{row.where}: {result}",
                    unique=True,
                )
            state.failed += 1
            continue
        outcome, ids = result
        attachment_ids += ids
        state.imported += outcome == "imported"
        state.duplicates += outcome == "duplicate"
        state.failed += outcome == "failed"
    state.done = batch[-1].number
    _save_checkpoint(checkpoint, state)
    engine.notify()
    extract_attachments(engine, attachment_ids)
    if progress is not None:
        progress(state)


def _rows(path: Path, file_format: str) -> Iterator[SourceRow]:
    if file_format == "csv":
        yield from _csv_rows(path)
    elif file_format == "jsonl":
        yield from _jsonl_rows(path)
    elif file_format == "mbox":
        box = mailbox.mbox(str(path), create=False)
        for number, key in enumerate(box.iterkeys(), 1):
            yield SourceRow(number, email=box.get_bytes(key))
    else:
        yield SourceRow(1, email=path.read_bytes())


def _csv_rows(path: Path) -> Iterator[SourceRow]:
    columns = csv_columns(path)
    if not any(c in ALIASES["text"] for c in columns):
        raise IngestError(f"{path.name} has no text column (found: {', '.join(columns) or 'no header'})")
    for number, record in enumerate(csv_records(path), 1):
        yield SourceRow(number, fields=record.fields, error=record.error, raw=record.raw, line=record.line)


def _jsonl_rows(path: Path) -> Iterator[SourceRow]:
    with path.open("rb") as handle:
        number = 0
        for line in handle:
            if not line.strip():
                continue
            number += 1
            try:
                record = json.loads(decode_text(line))
            except json.JSONDecodeError as exc:
                yield SourceRow(number, error=f"malformed JSON: {exc}", raw=line.rstrip(b"\r\n"))
                continue
            if isinstance(record, dict):
                yield SourceRow(number, fields=record)
            else:
                yield SourceRow(number, error="a line must be a JSON object", raw=line.rstrip(b"\r\n"))


def _count(path: Path, file_format: str) -> int:
    if file_format == "mbox":
        return len(mailbox.mbox(str(path), create=False))
    return sum(1 for _ in _rows(path, file_format))


def _row_source(row: SourceRow, file_name: str) -> str:
    kind = "email" if row.email is not None else DEAD_LETTER_KIND
    return source_name(kind, f"{file_name}#{row.number}")


def _row_raw(row: SourceRow) -> bytes | str:
    if row.email is not None:
        return row.email
    return json.dumps(row.fields) if row.fields is not None else row.raw


def _checkpoint_path(settings: Settings, path: Path) -> Path:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return settings.data_dir / "imports" / f"{digest.hexdigest()[:32]}.json"


def _load_checkpoint(checkpoint: Path) -> ImportProgress | None:
    if not checkpoint.is_file():
        return None
    state = ImportProgress(**json.loads(checkpoint.read_text(encoding="utf-8")))
    if state.complete:  # imported before: go through it again; rows already stored count as duplicates
        return ImportProgress(total=state.total, notes=["this file was imported before"])
    return state


def _save_checkpoint(checkpoint: Path, state: ImportProgress) -> None:
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    partial_file = checkpoint.with_suffix(".part")
    partial_file.write_text(json.dumps(asdict(state)), encoding="utf-8")
    os.replace(partial_file, checkpoint)
