"""The audit log table: append-only rows chained by SHA-256 hashes (see engine.privacy.audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from engine.store.models import utcnow


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)  # assigned by audit.append: last id + 1
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(index=True)  # user name, "system", "model:<version>", ...
    action: str = Field(index=True)  # e.g. "login", "reveal_pii", "erase_customer", "ai_route"
    subject: str = Field(default="", index=True)  # e.g. "ticket:42", "customer:7"
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    prev_hash: str
    hash: str = Field(unique=True)
