"""Attachments: keep the original (encrypted) under the data dir, extract its text, and send the ticket to triage."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from sqlmodel import Session, col, select

from engine.config import Settings
from engine.ingest.dead_letter_store import IngestError, record_dead_letter, source_name
from engine.ingest.extractors import ExtractionError, Limits, extract_text
from engine.ingest.intake import IntakeResult
from engine.privacy.crypto import DecryptionError
from engine.privacy.file_crypto import read_decrypted, write_encrypted
from engine.store.attachment_models import Attachment, AttachmentStatus
from engine.store.models import Ticket, utcnow

log = logging.getLogger(__name__)

ATTACHMENTS_DIR = "attachments"
DEAD_LETTER_KIND = "attachment"


class AttachmentHost(Protocol):
    """What attachment work uses: sessions, the settings (data dir, limits) and a wake-up for triage."""

    @property
    def settings(self) -> Settings: ...

    def session(self) -> Session: ...

    def transaction(self) -> AbstractContextManager[Session]: ...

    def notify(self) -> None: ...


def safe_filename(name: str) -> str:
    """A file name without directories or control characters, never empty."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = re.sub(r"[\x00-\x1f\x7f]", "", base).strip().strip(".")
    return cleaned[:200] or "attachment"


def save_attachment(
    session: Session,
    settings: Settings,
    *,
    ticket_id: int,
    message_id: int | None,
    filename: str,
    content_type: str,
    data: bytes,
    status: AttachmentStatus = AttachmentStatus.PENDING,
) -> Attachment:
    """Store the original bytes encrypted (content-addressed under data_dir/attachments) and its Attachment row.

    PENDING rows get their text extracted later; STORED ones are kept only (e.g. the raw e-mail).
    """
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(ATTACHMENTS_DIR) / digest[:2] / digest
    target = settings.data_dir / relative
    if not target.exists():
        write_encrypted(target, data)
    attachment = Attachment(
        ticket_id=ticket_id,
        message_id=message_id,
        filename=safe_filename(filename),
        content_type=content_type or "application/octet-stream",
        size=len(data),
        sha256=digest,
        path=relative.as_posix(),
        status=status,
    )
    session.add(attachment)
    session.flush()
    return attachment


def save_attachments(
    session: Session, settings: Settings, result: IntakeResult, files: Iterable[tuple[str, str, bytes]]
) -> list[int]:
    """Keep each (name, content type, bytes) file of a newly stored message; returns the ids to extract."""
    ids = []
    for filename, content_type, data in files:
        attachment = save_attachment(
            session,
            settings,
            ticket_id=result.ticket_id,
            message_id=result.message_id,
            filename=filename,
            content_type=content_type,
            data=data,
        )
        assert attachment.id is not None
        ids.append(attachment.id)
    return ids


def attachment_file(engine: AttachmentHost, attachment_id: int) -> tuple[bytes, Attachment] | None:
    """The original content of an attachment, decrypted, and its row (for a download link), or None."""
    with engine.session() as session:
        attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        return None
    path = engine.settings.data_dir / attachment.path
    return (read_decrypted(path, attachment.sha256), attachment) if path.is_file() else None


def ticket_attachments(session: Session, ticket_id: int) -> list[Attachment]:
    """A ticket's attachments, oldest first."""
    query = select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(col(Attachment.id))
    return list(session.exec(query))


def extracted_texts(session: Session, message_ids: Sequence[int]) -> dict[int, str]:
    """Per message, the text extracted from its attachments (for triage and drafting)."""
    if not message_ids:
        return {}
    query = (
        select(Attachment.message_id, Attachment.filename, Attachment.extracted_text)
        .where(col(Attachment.message_id).in_(list(message_ids)), Attachment.extracted_text != "")
        .order_by(col(Attachment.id))
    )
    texts: dict[int, list[str]] = {}
    for message_id, filename, text in session.exec(query):
        if message_id is not None:
            texts.setdefault(message_id, []).append(f"[attachment {filename}]\n{text}")
    return {message_id: "\n\n".join(parts) for message_id, parts in texts.items()}


def process_attachment(engine: AttachmentHost, attachment_id: int) -> Attachment:
    """Extract an attachment's text and send its ticket back to triage; raises ExtractionError with the reason."""
    with engine.session() as session:
        attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise IngestError(f"attachment {attachment_id} no longer exists")
    path = engine.settings.data_dir / attachment.path
    try:
        if not path.is_file():
            raise ExtractionError(f"the stored original {attachment.path} is missing")
        data = _original(path, attachment)
        text = extract_text(data, attachment.content_type, attachment.filename, _limits(engine))
    except ExtractionError as exc:
        _finish(engine, attachment_id, AttachmentStatus.FAILED, error=str(exc))
        raise
    status = AttachmentStatus.STORED if text is None else AttachmentStatus.DONE
    return _finish(engine, attachment_id, status, text=text or "")


def extract_attachments(engine: AttachmentHost, attachment_ids: Iterable[int]) -> int:
    """Extract each attachment; failures become dead letters. Returns how many succeeded."""
    done = 0
    for attachment_id in attachment_ids:
        try:
            process_attachment(engine, attachment_id)
            done += 1
        except (ExtractionError, IngestError) as exc:
            with engine.session() as session:
                attachment = session.get(Attachment, attachment_id)
            raw: dict[str, int | str] = {"attachment_id": attachment_id}
            if attachment is not None:
                raw |= {"filename": attachment.filename, "content_type": attachment.content_type}
            with engine.transaction() as session:
                record_dead_letter(
                    session,
                    source=source_name(DEAD_LETTER_KIND, str(attachment_id)),
                    raw=json.dumps(raw),
                    error=str(exc),
                    unique=True,
                )
    return done


def pending_attachment_ids(engine: AttachmentHost) -> list[int]:
    """Attachments stored but not extracted yet (e.g. the app stopped before it got to them)."""
    with engine.session() as session:
        query = select(Attachment.id).where(Attachment.status == AttachmentStatus.PENDING).order_by(col(Attachment.id))
        return [i for i in session.exec(query) if i is not None]


def extract_pending_attachments(engine: AttachmentHost) -> int:
    """Extract every pending attachment; returns how many succeeded."""
    return extract_attachments(engine, pending_attachment_ids(engine))


def reprocess(engine: AttachmentHost, source: str, raw: str) -> None:
    """Dead-letter retry: extract the attachment again (after a fix or a raised limit)."""
    process_attachment(engine, int(json.loads(raw)["attachment_id"]))


def _finish(
    engine: AttachmentHost, attachment_id: int, status: AttachmentStatus, *, text: str = "", error: str = ""
) -> Attachment:
    with engine.transaction() as session:
        attachment = session.get(Attachment, attachment_id)
        if attachment is None:
            raise IngestError(f"attachment {attachment_id} no longer exists")
        attachment.status, attachment.extracted_text, attachment.error = status, text, error
        attachment.processed_at = utcnow()
        session.add(attachment)
        if text:
            _retriage(session, attachment.ticket_id)
    if text:
        engine.notify()
    return attachment


def _retriage(session: Session, ticket_id: int) -> None:
    """New text arrived for the ticket: triage and draft it again."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None:
        ticket.triaged_at = None
        ticket.drafted_at = None
        session.add(ticket)


def _original(path: Path, attachment: Attachment) -> bytes:
    try:
        return read_decrypted(path, attachment.sha256)
    except DecryptionError as exc:
        raise ExtractionError(f"the stored original {attachment.path} cannot be decrypted: {exc}") from exc


def _limits(engine: AttachmentHost) -> Limits:
    return Limits.from_extra(engine.settings.extra)
