"""What every KPI query takes: the filter (period, channels, intents), the cost/SLA parameters and the indexes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, DateTime, String, and_, bindparam, func, text
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlmodel import col

from engine.store.models import Ticket

# Indexes the dashboard's queries rely on, besides the per-column ones models.py declares. The first one covers
# every ticket column the daily KPI query reads, in (day, channel) order, so that query never sorts or reads the table.
KPI_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_kpi_ticket_day ON ticket (date(created_at), channel, created_at, intent, route, "
    "outcome, status, resolved_at, first_response_at, handle_seconds, contacts, triaged_at, valence, sentiment_label, "
    "intent_confidence)",
    "CREATE INDEX IF NOT EXISTS ix_kpi_ticket_created ON ticket (created_at, channel, intent)",
    "CREATE INDEX IF NOT EXISTS ix_kpi_ticket_resolved ON ticket (resolved_at, channel, intent, created_at)",
    "CREATE INDEX IF NOT EXISTS ix_kpi_feedback_ticket ON feedback (ticket_id, kind, edit_distance)",
    "CREATE INDEX IF NOT EXISTS ix_kpi_survey_answered ON survey (answered_at, ticket_id, csat, ces)",
)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive ones are taken as UTC, as the store keeps them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class KpiFilter:
    """Tickets created in [start, end), optionally only some channels and (current) intents; None or [] = all."""

    start: datetime
    end: datetime
    channels: list[str] | None = None
    intents: list[str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc(self.start))
        object.__setattr__(self, "end", as_utc(self.end))
        if self.end <= self.start:
            raise ValueError("the end of the period must be after its start")

    @classmethod
    def last_days(
        cls, days: int, *, now: datetime, channels: list[str] | None = None, intents: list[str] | None = None
    ) -> KpiFilter:
        """The `days` days up to now."""
        return cls(now - timedelta(days=days), now, channels, intents)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> KpiFilter:
        """The period of equal length just before this one, with the same channels and intents."""
        return KpiFilter(self.start - self.length, self.start, self.channels, self.intents)

    @property
    def shape(self) -> tuple[bool, bool]:
        """Which filters are on (channels, intents): queries are built once per shape and reused."""
        return bool(self.channels), bool(self.intents)

    def bind(self, params: KpiParams, now: datetime) -> dict[str, Any]:
        """Values of the bound parameters every KPI query uses."""
        return {
            "start": self.start,
            "end": self.end,
            "prev_start": self.start - self.length,
            "channels": list(self.channels or []),
            "intents": list(self.intents or []),
            "now": as_utc(now),
            "sla": f"+{round(params.sla_hours * 3600)} seconds",
        }


START = bindparam("start", type_=DateTime())
END = bindparam("end", type_=DateTime())
PREV_START = bindparam("prev_start", type_=DateTime())
NOW = bindparam("now", type_=DateTime())
SLA = bindparam("sla", type_=String())  # an SQLite datetime modifier, e.g. '+86400 seconds'


def ticket_scope(shape: tuple[bool, bool]) -> list[ColumnElement[bool]]:
    """WHERE clauses for the channel and intent filters that are on (no period)."""
    channels, intents = shape
    clauses: list[ColumnElement[bool]] = []
    if channels:
        clauses.append(col(Ticket.channel).in_(bindparam("channels", expanding=True)))
    if intents:
        clauses.append(col(Ticket.intent).in_(bindparam("intents", expanding=True)))
    return clauses


def not_indexed(column: Any) -> ColumnElement[Any]:
    """`+column`: the same value, but SQLite will not drive the query from an index on it."""
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


def tickets_in(
    shape: tuple[bool, bool], start: BindParameter[Any] = START, end: BindParameter[Any] = END, *, driving: bool = True
) -> ColumnElement[bool]:
    """Tickets created in [start, end) with the filters on.

    Driving (the query scans tickets): day bounds let SQLite range-scan ix_kpi_ticket_day. Otherwise the ticket is
    joined by id from another table and the period is only checked.
    """
    created = col(Ticket.created_at)
    if not driving:
        return and_(not_indexed(created) >= start, not_indexed(created) < end, *ticket_scope(shape))
    day = func.date(created)
    return and_(day >= func.date(start), day <= func.date(end), created >= start, created < end, *ticket_scope(shape))


@dataclass(frozen=True)
class KpiParams:
    """The cost model, the SLA and the alert thresholds (the settings page exposes them)."""

    agent_hourly_cost: float = 30.0  # fully loaded cost of one agent-hour
    ai_ticket_cost: float = 0.02  # compute cost of the AI's work on one ticket (triage, retrieval, draft)
    sla_hours: float = 24.0  # first response due within this many hours of creation
    confidence_alert: float = 0.80  # alert when mean intent confidence falls below this
    override_climb: float = 0.02  # alert when the override rate climbs by more than this vs the previous period

    @classmethod
    def from_settings(cls, settings: object) -> KpiParams:
        """The parameters a settings object defines (attributes of the same names); defaults for the others."""
        return cls(**{f.name: float(getattr(settings, f.name)) for f in fields(cls) if hasattr(settings, f.name)})


def ensure_kpi_indexes(db: SAEngine) -> None:
    """Create the indexes the dashboard queries use (idempotent)."""
    with db.begin() as connection:
        for statement in KPI_INDEXES:
            connection.execute(text(statement))
