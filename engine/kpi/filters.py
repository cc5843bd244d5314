"""What every KPI query takes: the filter (period, channels, intents), the cost parameters and the indexes."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, DateTime, String, and_, bindparam, func, text
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import col

from engine.store.models import Ticket

# Indexes the dashboard's queries rely on, besides the per-column ones models.py declares. The first one covers
# every ticket column the per-day measures read, by day, so rebuilding a day's rollup or reading a partial day live
# is an index range scan that never reads the table.
KPI_INDEXES = (
    "DROP INDEX IF EXISTS ix_kpi_ticket_day",  # replaced by ix_kpi_ticket_measures
    "DROP INDEX IF EXISTS ix_kpi_ticket_days",  # replaced by ix_kpi_ticket_measures
    "DROP INDEX IF EXISTS ix_kpi_ticket_sla_days",  # replaced by ix_kpi_ticket_measures (it covers demo and FCR too)
    "CREATE INDEX IF NOT EXISTS ix_kpi_ticket_measures ON ticket (date(created_at), channel, created_at, intent, "
    "demo, route, outcome, status, resolved_at, first_resolved_at, first_contacts, first_response_at, "
    "handle_seconds, contacts, triaged_at, valence, sentiment_label, intent_confidence, first_response_breached, "
    "resolution_breached)",
    "CREATE INDEX IF NOT EXISTS ix_kpi_ticket_created ON ticket (created_at, channel, intent)",
    "CREATE INDEX IF NOT EXISTS ix_kpi_ticket_resolved ON ticket (resolved_at, channel, intent, created_at)",
    "CREATE INDEX IF NOT EXISTS ix_kpi_feedback_ticket ON feedback (ticket_id, kind, edit_distance)",
    "CREATE INDEX IF NOT EXISTS ix_kpi_survey_ticket ON survey (ticket_id, csat, ces)",
    "DROP INDEX IF EXISTS ix_kpi_ticket_unanswered",  # replaced by ix_kpi_ticket_sla_open (per-ticket SLA)
    "CREATE INDEX IF NOT EXISTS ix_kpi_ticket_sla_open ON ticket (created_at, channel, intent, first_response_due, "
    "first_response_breached, resolution_due) WHERE resolution_breached IS NULL",
    "DROP INDEX IF EXISTS ix_kpi_survey_answered",  # replaced by ix_kpi_survey_ticket (answers roll up by ticket)
)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive ones are taken as UTC, as the store keeps them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Shape = tuple[bool, bool, bool]  # which filters are on: channels, intents, live only (no demo tickets)


@dataclass(frozen=True)
class KpiFilter:
    """Tickets created in [start, end), optionally only some channels and (current) intents; None or [] = all.

    `live_only` leaves out the demo tickets (seeded, their past simulated)."""

    start: datetime
    end: datetime
    channels: list[str] | None = None
    intents: list[str] | None = None
    live_only: bool = False

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

    def with_live_only(self, live_only: bool) -> KpiFilter:
        """The same filter, with or without the demo tickets."""
        return replace(self, live_only=live_only)

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> KpiFilter:
        """The period of equal length just before this one, with the same channels and intents."""
        return KpiFilter(self.start - self.length, self.start, self.channels, self.intents, self.live_only)

    @property
    def shape(self) -> Shape:
        """Which filters are on (channels, intents, live only): queries are built once per shape and reused."""
        return bool(self.channels), bool(self.intents), self.live_only

    def day_split(self) -> tuple[str, str, list[str]]:
        """The whole UTC days inside the period as ISO days [first, last), and the partial days at its edges."""
        start_day, end_day = self.start.date(), self.end.date()
        first = start_day if self.start == _midnight(self.start) else start_day + timedelta(days=1)
        if first >= end_day:  # no whole day: the one or two days the period touches
            last_day = (self.end - timedelta(microseconds=1)).date()
            return first.isoformat(), first.isoformat(), sorted({start_day.isoformat(), last_day.isoformat()})
        edges = [start_day] if first != start_day else []
        edges += [end_day] if self.end != _midnight(self.end) else []
        return first.isoformat(), end_day.isoformat(), [d.isoformat() for d in edges]

    def bind(self, now: datetime, params: KpiParams | None = None) -> dict[str, Any]:
        """Values of the bound parameters every KPI query uses (`params`: the stored measures' parameters)."""
        full_from, full_to, edges = self.day_split()
        return {
            "cover": cover(date.fromisoformat(full_from), date.fromisoformat(full_to)),
            "start": self.start,
            "end": self.end,
            "prev_start": self.start - self.length,
            "full_from": full_from,
            "full_to": full_to,
            "edges": edges,
            "channels": list(self.channels or []),
            "intents": list(self.intents or []),
            "now": as_utc(now),
            **stored_params(params or KpiParams()),
        }


def cover(first: date, end: date) -> list[str]:
    """The days [first, end) as whole months (YYYY-MM) where a month lies inside, else days (YYYY-MM-DD)."""
    out: list[str] = []
    day = first
    while day < end:
        next_month = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        if day.day == 1 and next_month <= end:
            out.append(day.strftime("%Y-%m"))
            day = next_month
        else:
            out.append(day.isoformat())
            day += timedelta(days=1)
    return out


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def stored_params(params: KpiParams) -> dict[str, str]:
    """The parameters stored measures depend on: the window in which a reopen means the first resolution did not hold,
    as an SQLite datetime modifier ('+604800 seconds')."""
    return {"fcr": f"+{round(params.fcr_reopen_days * 86400)} seconds"}


START = bindparam("start", type_=DateTime())
END = bindparam("end", type_=DateTime())
PREV_START = bindparam("prev_start", type_=DateTime())
NOW = bindparam("now", type_=DateTime())
FCR = bindparam("fcr", type_=String())  # the reopen window of first contact resolution, an SQLite datetime modifier
FULL_FROM = bindparam("full_from", type_=String())  # the period's whole UTC days: full_from <= day < full_to
FULL_TO = bindparam("full_to", type_=String())
COVER: BindParameter[Any] = bindparam("cover", expanding=True)  # the whole days as months (YYYY-MM) and days
EDGES: BindParameter[Any] = bindparam(
    "edges", expanding=True
)  # the period's partial UTC days (ISO), read live from the tickets


def ticket_scope(
    shape: Shape, channel: Any = Ticket.channel, intent: Any = Ticket.intent, demo: Any = Ticket.demo
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the channel, intent and live-only filters that are on (no period), on tickets or a rollup."""
    channels, intents, live_only = shape
    clauses: list[ColumnElement[bool]] = []
    if channels:
        clauses.append(col(channel).in_(bindparam("channels", expanding=True)))
    if intents:
        clauses.append(col(intent).in_(bindparam("intents", expanding=True)))
    if live_only:
        clauses.append(col(demo).is_(False))
    return clauses


def tickets_in(shape: Shape) -> ColumnElement[bool]:
    """Tickets created in [start, end) with the filters on (day bounds let SQLite range-scan ix_kpi_ticket_day)."""
    created = col(Ticket.created_at)
    day = func.date(created)
    return and_(day >= func.date(START), day <= func.date(END), created >= START, created < END, *ticket_scope(shape))


def edge_tickets(shape: Shape) -> ColumnElement[bool]:
    """Tickets created in the period's partial days (the rollups hold its whole days), with the filters on."""
    created = col(Ticket.created_at)
    return and_(func.date(created).in_(EDGES), created >= START, created < END, *ticket_scope(shape))


@dataclass(frozen=True)
class KpiParams:
    """The cost model and the alert thresholds (the settings page exposes them); SLAs are per ticket (engine.sla)."""

    agent_hourly_cost: float = 30.0  # fully loaded cost of one agent-hour
    ai_ticket_cost: float = 0.02  # compute cost of the AI's work on one ticket (triage, retrieval, draft)
    fcr_reopen_days: float = 7.0  # a reopen within this many days of the first resolution: not first contact
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
