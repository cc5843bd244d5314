"""Chart series: volume and sentiment by day and channel, the AI outcome funnel, and the tickets behind one point."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, Select, bindparam, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from engine.kpi.filters import Shape, tickets_in
from engine.kpi.queries import DayRow, PairGroup
from engine.store.models import Ticket


@dataclass(frozen=True)
class DayChannel:
    """Tickets created on one UTC day in one channel, with their sentiment."""

    day: str  # YYYY-MM-DD
    channel: str
    tickets: int
    scored: int  # tickets with a sentiment score
    mean_valence: float | None
    negative_share: float | None


@dataclass(frozen=True)
class SentimentDay:
    """Mean valence and share of negative tickets on one day, all filtered channels together."""

    day: str
    scored: int
    mean_valence: float | None
    negative_share: float | None


@dataclass(frozen=True)
class Funnel:
    """How the period's tickets were routed, and what agents did with the AI's drafts."""

    tickets: int = 0
    triaged: int = 0
    auto_resolved: int = 0
    assisted: int = 0
    escalated: int = 0
    accepted: int = 0  # tickets with a draft sent unchanged
    edited: int = 0  # tickets with a draft edited, then sent
    rejected: int = 0  # tickets with a draft rejected


@dataclass(frozen=True)
class TicketRef:
    """One ticket behind a chart point."""

    id: int
    subject: str
    channel: str
    intent: str | None
    sentiment: str | None
    valence: float | None
    status: str
    created_at: datetime


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def volume_by_day(rows: Iterable[DayRow]) -> list[DayChannel]:
    """Tickets and sentiment per day and channel (demo and live tickets together), days in order."""
    merged: dict[tuple[str, str], defaultdict[str, float]] = {}
    for row in rows:
        sums = merged.setdefault((row.day, row.channel), defaultdict(float))
        for name, value in row.measures.items():
            sums[name] += value
    out = []
    for (day, channel), m in sorted(merged.items()):
        out.append(
            DayChannel(
                day,
                channel,
                int(m["tickets"]),
                int(m["scored"]),
                _ratio(m["valence_sum"], m["scored"]),
                _ratio(m["negative"], m["scored"]),
            )
        )
    return out


def sentiment_by_day(rows: Iterable[DayRow]) -> list[SentimentDay]:
    """Each day's mean valence and negative share over its scored tickets, all channels together."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for row in rows:
        total = totals[row.day]
        total[0] += row.measures["scored"]
        total[1] += row.measures["valence_sum"]
        total[2] += row.measures["negative"]
    return [
        SentimentDay(day, int(scored), _ratio(valence, scored), _ratio(negative, scored))
        for day, (scored, valence, negative) in sorted(totals.items())
    ]


def funnel(totals: Mapping[str, float | None], pairs: Iterable[PairGroup]) -> Funnel:
    """Routing counts from the ticket measures and draft decisions from the period's reviews."""
    groups = list(pairs)

    def count(name: str) -> int:
        return int(totals.get(name) or 0)

    return Funnel(
        tickets=count("tickets"),
        triaged=count("triaged"),
        auto_resolved=count("auto_resolved"),
        assisted=count("assisted"),
        escalated=count("escalate_routed"),
        accepted=sum(g.accepted for g in groups),
        edited=sum(g.edited for g in groups),
        rejected=sum(g.rejected for g in groups),
    )


@lru_cache(maxsize=16)
def _point_query(shape: Shape, one_channel: bool) -> Select:
    created = col(Ticket.created_at)
    query = (
        select(
            col(Ticket.id),
            col(Ticket.subject),
            col(Ticket.channel),
            col(Ticket.intent),
            col(Ticket.sentiment_label),
            col(Ticket.valence),
            col(Ticket.status),
            created,
        )
        .where(tickets_in(shape))
        .where(created >= bindparam("day_start", type_=DateTime()), created < bindparam("day_end", type_=DateTime()))
        .order_by(col(Ticket.valence).is_(None), col(Ticket.valence), col(Ticket.id))
        .limit(bindparam("limit"))
    )
    return query.where(col(Ticket.channel) == bindparam("channel")) if one_channel else query


def point_tickets(
    connection: Connection, shape: Shape, bound: dict[str, Any], day: date, channel: str | None, limit: int = 200
) -> list[TicketRef]:
    """The period's tickets created on one UTC day (in one channel, or all), most negative first."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=bound["start"].tzinfo)
    values = bound | {"day_start": start, "day_end": start + timedelta(days=1), "channel": channel, "limit": limit}
    return [TicketRef(*row) for row in connection.execute(_point_query(shape, channel is not None), values)]
