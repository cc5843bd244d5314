"""Supervisor KPIs: one `dashboard()` call runs every query for one refresh; definitions live in engine/kpi_*.py.

Periods are half-open [start, end) on the ticket's creation time (UTC days for daily series); survey answers count
for the period their ticket was created in. A KPI without data (no rows, or a zero denominator) is None, never NaN.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import col

from engine.kpi.agent_nps import nps_measures
from engine.kpi.filters import KpiFilter, KpiParams, as_utc, ensure_kpi_indexes, stored_params
from engine.kpi.quality import (
    ConfidenceBin,
    ConfusionCell,
    EditDistance,
    IntentCount,
    IntentQuality,
    confidence_bins,
    confusion,
    edit_distances,
    intent_mix,
    intent_quality,
    mean_confidence,
)
from engine.kpi.queries import (
    ROLLUPS,
    DayRow,
    checks,
    confidence_counts,
    intent_counts,
    open_measures,
    pairs,
    ticket_days,
)
from engine.kpi.rollup import Reads, refresh_rollups
from engine.kpi.series import (
    DayChannel,
    Funnel,
    SentimentDay,
    TicketRef,
    funnel,
    point_tickets,
    sentiment_by_day,
    volume_by_day,
)
from engine.kpi.tiles import Kpi, kpis_from_totals, period_totals
from engine.store.models import Ticket, utcnow

__all__ = [
    "Alert",
    "DashboardData",
    "KpiFilter",
    "KpiParams",
    "all_time",
    "csv_text",
    "dashboard",
    "ensure_kpi_indexes",
    "filter_options",
    "kpis",
    "refresh",
    "sentiment_point",
]


@dataclass(frozen=True)
class Alert:
    """Something a supervisor should look at, in one sentence."""

    key: str
    message: str


@dataclass(frozen=True)
class DashboardData:
    """Everything one dashboard refresh shows."""

    kpi_filter: KpiFilter
    computed_at: datetime
    kpis: list[Kpi]
    daily: list[DayChannel]
    sentiment: list[SentimentDay]
    intent_mix: list[IntentCount]
    confidence: list[ConfidenceBin]
    mean_confidence: float | None
    funnel: Funnel
    confusion: list[ConfusionCell]
    intent_quality: list[IntentQuality]
    edit_distance: list[EditDistance]
    alerts: list[Alert] = field(default_factory=list)
    demo_tickets: int = 0  # demo tickets (seeded, their past simulated) among the period's tickets

    def kpi(self, key: str) -> Kpi:
        """The KPI with this key."""
        return next(k for k in self.kpis if k.key == key)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every table of the page as rows of plain values (for CSV export)."""
        return {
            "kpis": [
                {
                    "kpi": k.definition.label,
                    "value": k.value,
                    "previous_period": k.previous,
                    "unit": k.definition.unit,
                    "target": k.definition.target.text if k.definition.target else "",
                    "definition": k.definition.doc,
                    "demo": k.demo,
                }
                for k in self.kpis
            ],
            "volume_by_day_channel": [_plain(r) for r in self.daily],
            "sentiment_by_day": [_plain(r) for r in self.sentiment],
            "intent_mix": [_plain(r) for r in self.intent_mix],
            "confidence_bins": [
                _plain(r) | {"mean_confidence": r.mean_confidence, "accuracy": r.accuracy} for r in self.confidence
            ],
            "funnel": [{"stage": name, "tickets": value} for name, value in asdict(self.funnel).items()],
            "confusion_matrix": [_plain(r) for r in self.confusion],
            "intent_quality": [
                _plain(r) | {"precision": r.precision, "override_rate": r.override_rate} for r in self.intent_quality
            ],
            "edit_distance": [_plain(r) for r in self.edit_distance],
            "alerts": [_plain(a) for a in self.alerts],
        }


def _plain(row: Any) -> dict[str, Any]:
    assert is_dataclass(row) and not isinstance(row, type)
    return asdict(row)


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV text with a header (empty string for no rows)."""
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def alerts(kpis: list[Kpi], confidence: float | None, params: KpiParams) -> list[Alert]:
    """Mean confidence below the alert level, and an override rate climbing against the previous period."""
    found: list[Alert] = []
    if confidence is not None and confidence < params.confidence_alert:
        found.append(
            Alert("low_confidence", f"Mean intent confidence is {confidence:.2f}, below {params.confidence_alert:.2f}.")
        )
    override = next((k for k in kpis if k.key == "override_rate"), None)
    if (
        override is not None
        and override.value is not None
        and override.previous is not None
        and override.value - override.previous > params.override_climb
    ):
        found.append(
            Alert(
                "override_climbing",
                f"Agents override the AI's intent more often: {override.value:.1%} of tickets, "
                f"up from {override.previous:.1%} in the previous period.",
            )
        )
    return found


@dataclass(frozen=True)
class _Periods:
    kpis: list[Kpi]
    days: list[DayRow]  # the current period's day rows
    totals: dict[str, float | None]  # the current period's measure totals
    demo: dict[str, float | None]  # the demo tickets' share of them


def _period_kpis(connection: Connection, kpi_filter: KpiFilter, params: KpiParams, now: datetime) -> _Periods:
    """The KPIs of the period and the previous one (three queries)."""
    bound = kpi_filter.bind(now, params)
    shape = kpi_filter.shape
    days = ticket_days(connection, shape, bound)
    previous_days = ticket_days(connection, shape, kpi_filter.previous().bind(now, params))
    opened = open_measures(connection, shape, bound)
    nps = nps_measures(connection, bound)
    current = period_totals(days, opened[True] | nps[True])
    previous = period_totals(previous_days, opened[False] | nps[False])
    demo = period_totals((day for day in days if day.demo), {})
    return _Periods(kpis_from_totals(current, previous, params, demo), days, current, demo)


def refresh(db: SAEngine, params: KpiParams | None = None) -> int:
    """Rebuild the days and months of the rollups whose tickets changed (all after a definition or parameter change)."""
    with db.connect() as connection:
        return refresh_rollups(connection, ROLLUPS, stored_params(params or KpiParams()))


def _refresh_for(connection: Connection, kpi_filter: KpiFilter, params: KpiParams) -> None:
    """Rebuild the marked days and months that a refresh of this period and the previous one reads whole."""
    reads = Reads.whole(period.day_split()[:2] for period in (kpi_filter, kpi_filter.previous()))
    refresh_rollups(connection, ROLLUPS, stored_params(params), reads)


def kpis(
    db: SAEngine, kpi_filter: KpiFilter, *, params: KpiParams | None = None, now: datetime | None = None
) -> list[Kpi]:
    """Every KPI for the period and the previous period of equal length."""
    params = params or KpiParams()
    with db.connect() as connection:
        _refresh_for(connection, kpi_filter, params)
        return _period_kpis(connection, kpi_filter, params, now or utcnow()).kpis


def dashboard(
    db: SAEngine, kpi_filter: KpiFilter, *, params: KpiParams | None = None, now: datetime | None = None
) -> DashboardData:
    """Run every dashboard query for one refresh (seven queries) and shape the results for the page."""
    params = params or KpiParams()
    now = now or utcnow()
    bound = kpi_filter.bind(now, params)
    with db.connect() as connection:
        _refresh_for(connection, kpi_filter, params)
        periods = _period_kpis(connection, kpi_filter, params, now)
        reviewed = pairs(connection, kpi_filter.shape, bound)
        checked = checks(connection, kpi_filter.shape, bound)
        counts = confidence_counts(connection, kpi_filter.shape, bound)
        intents = intent_counts(connection, kpi_filter.shape, bound)
    confidence = mean_confidence(counts, checked)
    return DashboardData(
        kpi_filter=kpi_filter,
        computed_at=now,
        kpis=periods.kpis,
        daily=volume_by_day(periods.days),
        sentiment=sentiment_by_day(periods.days),
        intent_mix=intent_mix(intents),
        confidence=confidence_bins(counts, checked),
        mean_confidence=confidence,
        funnel=funnel(periods.totals, reviewed),
        confusion=confusion(reviewed),
        intent_quality=intent_quality(intents, reviewed),
        edit_distance=edit_distances(reviewed),
        alerts=alerts(periods.kpis, confidence, params),
        demo_tickets=int(periods.demo["tickets"] or 0),
    )


def all_time(
    db: SAEngine, *, now: datetime | None = None, channels: list[str] | None = None, intents: list[str] | None = None
) -> KpiFilter:
    """A filter from the first ticket until now (the last day when there are no older tickets)."""
    now = now or utcnow()
    with db.connect() as connection:
        first = connection.execute(select(func.min(col(Ticket.created_at)))).scalar()
    start = now - timedelta(days=1) if first is None else min(as_utc(first), now - timedelta(days=1))
    return KpiFilter(start, now, channels, intents)


def filter_options(db: SAEngine) -> tuple[list[str], list[str]]:
    """The channels and intents that occur on tickets, for the filter menus."""
    with db.connect() as connection:
        channels = [
            c for (c,) in connection.execute(select(col(Ticket.channel)).distinct().order_by(col(Ticket.channel)))
        ]
        query = (
            select(col(Ticket.intent)).where(col(Ticket.intent).is_not(None)).distinct().order_by(col(Ticket.intent))
        )
        intents = [str(i) for (i,) in connection.execute(query)]
    return channels, intents


def sentiment_point(db: SAEngine, kpi_filter: KpiFilter, day: str, channel: str | None) -> list[TicketRef]:
    """The tickets behind one sentiment point (day YYYY-MM-DD, channel or None for all)."""
    bound = kpi_filter.bind(utcnow())
    with db.connect() as connection:
        return point_tickets(connection, kpi_filter.shape, bound, datetime.fromisoformat(day[:10]).date(), channel)
