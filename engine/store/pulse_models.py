"""The agents' monthly answer to "How likely are you to recommend the AI assist to a colleague?" (Agent NPS)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from engine.store.models import utcnow


class AgentPulse(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("agent", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    agent: str = Field(index=True)  # the user name
    month: str  # YYYY-MM (UTC) the question was asked for
    score: int | None = None  # 0-10; None: the agent dismissed the question this month
    at: datetime = Field(default_factory=utcnow, index=True)
