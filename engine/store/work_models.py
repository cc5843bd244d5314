"""The work-failure table: a ticket a background stage failed on, its tries, backoff and "needs attention" flag."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from engine.store.models import utcnow


class WorkFailure(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("ticket_id", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    stage: str  # triage, routing, actions, drafting, outbox
    failures: int = 0
    last_error: str = ""  # the exception type and its redacted message
    next_try_at: datetime = Field(default_factory=utcnow)
    needs_attention: bool = Field(default=False, index=True)  # tried MAX_TRIES times: set aside for a person
    updated_at: datetime = Field(default_factory=utcnow)
