"""The attachment table: originals kept on disk under the data dir, with the text extracted from them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from engine.privacy.crypto import EncryptedText
from engine.store.models import utcnow


class AttachmentStatus(StrEnum):
    PENDING = "pending"  # stored, text not extracted yet
    DONE = "done"  # text extracted (possibly empty)
    STORED = "stored"  # kept, nothing to extract (audio, unknown binary)
    FAILED = "failed"  # extraction failed; `error` says why and a dead letter holds the retry


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    filename: str
    content_type: str = "application/octet-stream"
    size: int = 0
    sha256: str = Field(index=True)
    path: str  # relative to the data dir
    status: str = Field(default=AttachmentStatus.PENDING, index=True)
    extracted_text: str = Field(default="", sa_column=Column(EncryptedText, nullable=False, default=""))
    error: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
