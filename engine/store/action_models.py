"""The action-run table: one row per store action the desk planned, with its (encrypted) summary and result.

The audit log refers to a run by id; what the action was about (addresses, names, amounts the customer gave) lives
here, tied to the ticket, so an erasure of the customer deletes it with the ticket.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from engine.privacy.crypto import EncryptedText
from engine.store.models import utcnow


class RunStatus(StrEnum):
    PREVIEW = "preview"  # a dry run: what would be done
    PLANNED = "planned"  # the write is about to be sent to the store (or was, and its answer was lost)
    DONE = "done"
    FAILED = "failed"


class ActionRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    action: str
    key: str = Field(index=True)  # the idempotency key sent to the store
    status: str = Field(default=RunStatus.PLANNED, index=True)
    actor: str = ""
    detail: str = Field(default="", sa_column=Column(EncryptedText, nullable=False, default=""))  # JSON
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
