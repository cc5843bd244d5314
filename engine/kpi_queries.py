"""The dashboard's SQL: five grouped queries whose named sums (measures) every KPI and chart is computed from.

Each query is built once per filter shape (which of the channel / intent filters is on) and cached; values are bound
at execution. Periods are half-open [start, end) on the ticket's creation time; SQLite `date()` gives UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, case, cast, exists, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlmodel import col

from engine.kpi_filter import END, NOW, PREV_START, SLA, START, ticket_scope, tickets_in
from engine.store.models import Feedback, FeedbackKind, Outcome, Route, Survey, Ticket, TicketStatus, TriageResult

BINS = 10
Shape = tuple[bool, bool]


def _sum(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    """Count of rows where a condition holds (0, not NULL, when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _any(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    """1 when a condition holds for any row of the group, else 0."""
    return func.max(case((condition, 1), else_=0))


def confidence_bin(confidence: Any) -> ColumnElement[Any]:
    """Bin 0..BINS-1 of a confidence in [0, 1]."""
    return case((confidence >= 1.0, BINS - 1), else_=cast(confidence * BINS, Integer))


_route, _outcome, _resolved = col(Ticket.route), col(Ticket.outcome), col(Ticket.resolved_at).is_not(None)
_handle = col(Ticket.handle_seconds)
_OVERRIDDEN = exists().where(
    col(Feedback.ticket_id) == col(Ticket.id), col(Feedback.kind) == FeedbackKind.OVERRIDE_INTENT
)

# Per (day, channel) sums over the tickets created in a period; name -> (what it counts, SQL aggregate).
TICKET_MEASURES: dict[str, tuple[str, ColumnElement[Any]]] = {
    "tickets": ("tickets created", func.count()),
    "closed": ("tickets whose AI interaction has an outcome", _sum(_outcome.is_not(None))),
    "resolved_by_ai": ("outcome resolved by AI", _sum(_outcome == Outcome.RESOLVED_BY_AI)),
    "resolved": ("tickets resolved", _sum(_resolved)),
    "first_contact": (
        "resolved after one customer contact, not failed",
        _sum(_resolved & (col(Ticket.contacts) <= 1) & (func.coalesce(_outcome, "") != Outcome.FAILED)),
    ),
    "handled": ("tickets an agent spent time on", _sum(_handle > 0)),
    "handle_minutes": ("agent minutes on them", func.coalesce(func.sum(case((_handle > 0, _handle))), 0.0) / 60.0),
    "agent_hours": (
        "agent hours on resolved tickets",
        func.coalesce(func.sum(case((_resolved, _handle))), 0.0) / 3600.0,
    ),
    "ai_resolved": ("resolved tickets the AI worked on (routed)", _sum(_resolved & _route.is_not(None))),
    "auto_resolved": ("tickets routed to auto-resolve", _sum(_route == Route.AUTO_RESOLVE)),
    "auto_failed": (
        "auto-resolved tickets that failed",
        _sum((_route == Route.AUTO_RESOLVE) & (_outcome == Outcome.FAILED)),
    ),
    "assisted": ("tickets routed to an agent with a draft", _sum(_route == Route.ASSIST)),
    "escalate_routed": ("tickets routed to escalation", _sum(_route == Route.ESCALATE)),
    "escalated": (
        "tickets routed or handed to a senior agent",
        _sum(
            or_(_route == Route.ESCALATE, _outcome == Outcome.ESCALATED, col(Ticket.status) == TicketStatus.ESCALATED)
        ),
    ),
    "sla_breaches": (
        "first response (or resolution, or none yet by now) later than the SLA after creation",
        _sum(
            func.coalesce(col(Ticket.first_response_at), col(Ticket.resolved_at), NOW)
            > func.datetime(col(Ticket.created_at), SLA)
        ),
    ),
    "triaged": ("tickets triaged by the AI", _sum(col(Ticket.triaged_at).is_not(None))),
    "overridden": ("tickets whose intent an agent corrected", _sum(_OVERRIDDEN)),
    "auto_overridden": (
        "auto-resolved tickets that did not fail but whose intent an agent corrected",
        _sum((_route == Route.AUTO_RESOLVE) & (func.coalesce(_outcome, "") != Outcome.FAILED) & _OVERRIDDEN),
    ),
    "scored": ("tickets with a sentiment score", func.count(col(Ticket.valence))),
    "valence_sum": ("sum of their valence", func.coalesce(func.sum(col(Ticket.valence)), 0.0)),
    "negative": ("tickets with negative sentiment", _sum(col(Ticket.sentiment_label) == "negative")),
}


@dataclass(frozen=True)
class DayRow:
    """The ticket measures of one UTC day and channel."""

    day: str
    channel: str
    measures: dict[str, float]


@lru_cache(maxsize=8)
def _day_query(shape: Shape) -> Select:
    day = func.date(col(Ticket.created_at))
    columns = [aggregate.label(name) for name, (_, aggregate) in TICKET_MEASURES.items()]
    return (
        select(day.label("day"), col(Ticket.channel), *columns)
        .where(tickets_in(shape))
        .group_by(day, col(Ticket.channel))
    )


def ticket_days(connection: Connection, shape: Shape, bound: dict[str, Any]) -> list[DayRow]:
    """Ticket measures per day and channel for the period bound as start/end (one index-only pass)."""
    names = list(TICKET_MEASURES)
    return [
        DayRow(str(row[0]), str(row[1]), {name: float(value) for name, value in zip(names, row[2:], strict=True)})
        for row in connection.execute(_day_query(shape), bound)
    ]


@dataclass(frozen=True)
class ReviewGroup:
    """The period's tickets an agent acted on, grouped by AI intent, confirmed intent, confidence bins and override."""

    ai_intent: str | None  # the model's prediction (for overridden tickets, from its latest triage row)
    confirmed: str | None  # the intent an agent confirmed: overridden to, or sent a reply on; None: only rejected
    ai_bin: int | None
    current_bin: int | None  # bin of the ticket's confidence now (an override sets it to the agent's choice)
    overridden: bool
    tickets: int
    ai_confidence_sum: float
    current_confidence_sum: float
    accepted: int  # tickets with a draft sent unchanged
    edited: int  # tickets with a draft edited, then sent
    rejected: int  # tickets with a draft rejected
    sends: int  # replies sent from drafts
    edits: int  # of which edited
    distance_sum: int  # edit distance over sent drafts, in characters
    distance_max: int


@lru_cache(maxsize=8)
def _review_query(shape: Shape) -> Select:
    kind, distance = col(Feedback.kind), col(Feedback.edit_distance)
    sent = kind.in_([FeedbackKind.APPROVE, FeedbackKind.EDIT])
    ticket_columns: tuple[ColumnElement[Any], ...] = (
        col(Ticket.id).label("ticket_id"),
        col(Ticket.intent).label("intent"),
        col(Ticket.intent_confidence).label("confidence"),
    )
    per_ticket = (  # the period's tickets (index-only range scan) and their feedback (index-only lookups)
        select(
            *ticket_columns,
            _any(kind == FeedbackKind.OVERRIDE_INTENT).label("overridden"),
            _any(kind == FeedbackKind.APPROVE).label("accepted"),
            _any(kind == FeedbackKind.EDIT).label("edited"),
            _any(kind == FeedbackKind.REJECT).label("rejected"),
            _sum(sent).label("sends"),
            _sum(kind == FeedbackKind.EDIT).label("edits"),
            func.sum(case((sent, distance))).label("distance"),
            func.max(case((sent, distance))).label("distance_max"),
        )
        .join(Feedback, col(Feedback.ticket_id) == col(Ticket.id))
        .where(tickets_in(shape))
        .group_by(col(Ticket.id))  # SQLite: the other ticket columns depend on the id
        .subquery()
    )
    t = per_ticket.c
    overridden = t.overridden == 1
    latest_triage = select(func.max(col(TriageResult.id))).where(col(TriageResult.ticket_id) == t.ticket_id)
    triage = aliased(TriageResult)
    ai_confidence = case((overridden, col(triage.confidence)), else_=t.confidence)
    keys = (
        case((overridden, col(triage.intent)), else_=t.intent),
        case((overridden | (t.sends > 0), t.intent)),
        confidence_bin(ai_confidence),
        confidence_bin(t.confidence),
        overridden,
    )
    return (
        select(
            *keys,
            func.count(),
            func.coalesce(func.sum(ai_confidence), 0.0),
            func.coalesce(func.sum(t.confidence), 0.0),
            func.sum(t.accepted),
            func.sum(t.edited),
            func.sum(t.rejected),
            func.sum(t.sends),
            func.sum(t.edits),
            func.coalesce(func.sum(t.distance), 0),
            func.coalesce(func.max(t.distance_max), 0),
        )
        .select_from(per_ticket)
        .outerjoin(triage, col(triage.id) == case((overridden, latest_triage.scalar_subquery())))
        .group_by(*keys)
    )


def reviews(connection: Connection, shape: Shape, bound: dict[str, Any]) -> list[ReviewGroup]:
    """What agents did with the AI's work on the period's tickets, grouped (one pass over their feedback)."""
    out = []
    for row in connection.execute(_review_query(shape), bound):
        ai, confirmed, ai_bin, current_bin, overridden, tickets, ai_sum, current_sum = row[:8]
        accepted, edited, rejected, sends, edits, distance, distance_max = (int(n or 0) for n in row[8:])
        out.append(
            ReviewGroup(
                ai,
                confirmed,
                None if ai_bin is None else int(ai_bin),
                None if current_bin is None else int(current_bin),
                bool(overridden),
                int(tickets),
                float(ai_sum),
                float(current_sum),
                accepted,
                edited,
                rejected,
                sends,
                edits,
                distance,
                distance_max,
            )
        )
    return out


@lru_cache(maxsize=8)
def _survey_query(shape: Shape) -> Select:
    current = col(Ticket.created_at) >= START
    csat, ces = col(Survey.csat), col(Survey.ces)
    return (
        select(current, func.sum(csat), func.count(csat), func.sum(ces), func.count(ces))
        .select_from(Survey)
        .join(Ticket, col(Ticket.id) == col(Survey.ticket_id))
        .where(
            col(Survey.answered_at) >= PREV_START, tickets_in(shape, PREV_START, driving=False)
        )  # answers follow tickets
        .group_by(current)
    )


def survey_sums(connection: Connection, shape: Shape, bound: dict[str, Any]) -> dict[bool, dict[str, float]]:
    """CSAT and CES sums and counts of answered surveys, by period (True = current)."""
    names = ("csat_sum", "csat_answers", "ces_sum", "ces_answers")
    return {
        bool(row[0]): {name: float(value or 0) for name, value in zip(names, row[1:], strict=True)}
        for row in connection.execute(_survey_query(shape), bound)
    }


@lru_cache(maxsize=8)
def _backlog_query(shape: Shape) -> Select:
    """Open tickets (unresolved, or resolved later) at the end and at the start, and whether any ticket existed then."""
    resolved = col(Ticket.resolved_at)

    def count(condition: ColumnElement[bool], moment: Any) -> Any:
        clauses = [condition, col(Ticket.created_at) < moment, *ticket_scope(shape)]
        return select(func.count()).select_from(Ticket).where(*clauses).scalar_subquery()

    def any_before(moment: Any) -> Any:
        return exists().where(col(Ticket.created_at) < moment, *ticket_scope(shape))

    return select(
        count(resolved.is_(None), END) + count(resolved >= END, END),
        count(resolved.is_(None), START) + count(resolved >= START, START),
        any_before(END),
        any_before(START),
    )


def backlog(connection: Connection, shape: Shape, bound: dict[str, Any]) -> tuple[float | None, float | None]:
    """Tickets open at the end and at the start of the period; None where no ticket existed yet."""
    at_end, at_start, any_end, any_start = connection.execute(_backlog_query(shape), bound).one()
    return (float(at_end) if any_end else None, float(at_start) if any_start else None)


@dataclass(frozen=True)
class IntentBin:
    """Tickets of the period with one current intent and confidence bin."""

    intent: str | None
    bin: int | None
    tickets: int
    confidence_sum: float


@lru_cache(maxsize=8)
def _intent_query(shape: Shape) -> Select:
    confidence = col(Ticket.intent_confidence)
    keys = (col(Ticket.intent), confidence_bin(confidence))
    return (
        select(*keys, func.count(), func.coalesce(func.sum(confidence), 0.0)).where(tickets_in(shape)).group_by(*keys)
    )


def intent_bins(connection: Connection, shape: Shape, bound: dict[str, Any]) -> list[IntentBin]:
    """Tickets per current intent and confidence bin in the period."""
    rows = connection.execute(_intent_query(shape), bound)
    return [IntentBin(i, None if b is None else int(b), int(n), float(s)) for i, b, n, s in rows]


# Measures that come from the survey and backlog queries (the ticket measures are documented above).
OTHER_MEASURES: dict[str, str] = {
    "csat_sum": "sum of CSAT answers (1-10)",
    "csat_answers": "surveys with a CSAT answer",
    "ces_sum": "sum of customer effort answers (1-5)",
    "ces_answers": "surveys with an effort answer",
    "backlog": "tickets open at the end of the period (None before the first ticket)",
}
