"""The dashboard's SQL: grouped queries whose named sums (measures) every KPI and chart is computed from.

Three of them (ticket measures, reviews, intent bins) are kept per UTC day in rollups (engine/kpi/rollup.py): each is
written once, as a query over the tickets a clause selects, and runs both to rebuild a rollup's days and live on the
period's partial days. The open-ticket query (backlog, tickets past an SLA due) depends on the moment and
always runs live. Queries are built once per filter shape (which of the channel / intent filters is on) and cached;
values are bound at execution. Periods are half-open [start, end) on the ticket's creation time; SQLite `date()`
gives UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, case, cast, exists, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlmodel import col

from engine.kpi.filters import END, FCR, NOW, PREV_START, START, Shape, ticket_scope
from engine.kpi.rollup import Rollup
from engine.store.models import Feedback, FeedbackKind, Outcome, Route, Survey, Ticket, TicketStatus, TriageResult

BINS = 10


def _sum(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    """Count of rows where a condition holds (0, not NULL, when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _any(condition: ColumnElement[Any]) -> ColumnElement[Any]:
    """1 when a condition holds for any row of the group, else 0."""
    return func.max(case((condition, 1), else_=0))


def confidence_bin(confidence: Any) -> ColumnElement[Any]:
    """Bin 0..BINS-1 of a confidence in [0, 1]."""
    return case((confidence >= 1.0, BINS - 1), else_=cast(confidence * BINS, Integer))


_DEMO: ColumnElement[Any] = col(Ticket.demo).label("demo")
_route, _outcome, _resolved = col(Ticket.route), col(Ticket.outcome), col(Ticket.resolved_at).is_not(None)
_handle = col(Ticket.handle_seconds)
_first_resolved = func.coalesce(col(Ticket.first_resolved_at), col(Ticket.resolved_at))  # older rows: the last one
_REOPENED_SOON = exists().where(  # the first resolution did not hold: reopened within the FCR window
    col(Feedback.ticket_id) == col(Ticket.id),
    col(Feedback.kind) == FeedbackKind.REOPEN,
    col(Feedback.created_at) <= func.datetime(_first_resolved, FCR),
)
_first_due, _resolution_due = col(Ticket.first_response_due), col(Ticket.resolution_due)
_first_verdict, _resolution_verdict = col(Ticket.first_response_breached), col(Ticket.resolution_breached)
_breached = or_(_first_verdict.is_(True), _resolution_verdict.is_(True))
_OVERRIDDEN = exists().where(
    col(Feedback.ticket_id) == col(Ticket.id), col(Feedback.kind) == FeedbackKind.OVERRIDE_INTENT
)


def _survey_sum(aggregate: ColumnElement[Any]) -> ColumnElement[Any]:
    """Sum over the tickets of an aggregate over each ticket's survey answers (answers count for its creation day)."""
    per_ticket = select(aggregate).where(col(Survey.ticket_id) == col(Ticket.id)).scalar_subquery()
    return func.coalesce(func.sum(per_ticket), 0)


# Per (day, channel, intent) sums over the tickets created in a period; name -> (what it counts, SQL aggregate).
TICKET_MEASURES: dict[str, tuple[str, ColumnElement[Any]]] = {
    "tickets": ("tickets created", func.count()),
    "closed": ("tickets whose AI interaction has an outcome", _sum(_outcome.is_not(None))),
    "resolved_by_ai": ("outcome resolved by AI", _sum(_outcome == Outcome.RESOLVED_BY_AI)),
    "resolved": ("tickets resolved", _sum(_resolved)),
    "first_contact": (
        "resolved after one customer contact, not reopened within the FCR window of that resolution, not failed",
        _sum(
            _resolved
            & (func.coalesce(col(Ticket.first_contacts), col(Ticket.contacts)) <= 1)
            & ~_REOPENED_SOON
            & (func.coalesce(_outcome, "") != Outcome.FAILED)
        ),
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
    "sla_late": ("tickets that missed their first response or resolution due (engine.sla)", _sum(_breached)),
    "triaged": ("tickets triaged by the AI", _sum(col(Ticket.triaged_at).is_not(None))),
    "overridden": ("tickets whose intent an agent corrected", _sum(_OVERRIDDEN)),
    "auto_overridden": (
        "auto-resolved tickets that did not fail but whose intent an agent corrected",
        _sum((_route == Route.AUTO_RESOLVE) & (func.coalesce(_outcome, "") != Outcome.FAILED) & _OVERRIDDEN),
    ),
    "scored": ("tickets with a sentiment score", func.count(col(Ticket.valence))),
    "valence_sum": ("sum of their valence", func.coalesce(func.sum(col(Ticket.valence)), 0.0)),
    "negative": ("tickets with negative sentiment", _sum(col(Ticket.sentiment_label) == "negative")),
    "csat_sum": ("sum of their CSAT answers (1-10)", _survey_sum(func.sum(col(Survey.csat)))),
    "csat_answers": ("surveys with a CSAT answer", _survey_sum(func.count(col(Survey.csat)))),
    "ces_sum": ("sum of their customer effort answers (1-5)", _survey_sum(func.sum(col(Survey.ces)))),
    "ces_answers": ("surveys with an effort answer", _survey_sum(func.count(col(Survey.ces)))),
}


def _group(*keys: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """A rollup's group columns over tickets: creation day, channel, current intent, demo, then the query's own keys."""
    day = func.date(col(Ticket.created_at)).label("bucket")
    return [day, col(Ticket.channel).label("channel"), col(Ticket.intent).label("intent"), _DEMO, *keys]


def _day_source(clause: ColumnElement[bool]) -> Select:
    group = _group()
    columns = [aggregate.label(name) for name, (_, aggregate) in TICKET_MEASURES.items()]
    return select(*group, *columns).where(clause).group_by(*group)


DAY_ROLLUP = Rollup("day", (), tuple(TICKET_MEASURES), _day_source, monthly=False)


@dataclass(frozen=True)
class DayRow:
    """The ticket measures of one UTC day and channel, of the demo tickets or of the live ones."""

    day: str
    channel: str
    measures: dict[str, float]
    demo: bool = False


def ticket_days(connection: Connection, shape: Shape, bound: dict[str, Any]) -> list[DayRow]:
    """Ticket measures per day, channel and demo-or-live for the period bound as start/end."""
    names = list(TICKET_MEASURES)
    return [
        DayRow(
            str(row[0]),
            str(row[1]),
            {name: float(value or 0) for name, value in zip(names, row[3:], strict=True)},
            bool(row[2]),
        )
        for row in connection.execute(DAY_ROLLUP.read(shape, ("bucket", "channel", "demo")), bound)
    ]


@dataclass(frozen=True)
class _Reviewed:
    """The tickets an agent acted on (one row each, with their feedback summed) and what the AI predicted for them."""

    rows: Any  # the per-ticket subquery's columns
    source: Any  # the subquery joined to the ticket's latest triage row where the agent overrode the intent
    ai_intent: ColumnElement[Any]  # the model's prediction (for overridden tickets, from that triage row)
    confirmed: ColumnElement[Any]  # the intent an agent confirmed: overridden to, or sent a reply on; else NULL
    ai_confidence: ColumnElement[Any]
    overridden: ColumnElement[bool]


def _reviewed(clause: ColumnElement[bool]) -> _Reviewed:
    kind, distance = col(Feedback.kind), col(Feedback.edit_distance)
    sent = kind.in_([FeedbackKind.APPROVE, FeedbackKind.EDIT])
    per_ticket = (  # the tickets and their feedback (index-only lookups)
        select(
            col(Ticket.id).label("ticket_id"),
            *_group(),
            col(Ticket.intent_confidence).label("confidence"),
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
        .where(clause)
        .group_by(col(Ticket.id))  # SQLite: the other ticket columns depend on the id
        .subquery()
    )
    t = per_ticket.c
    overridden = t.overridden == 1
    latest_triage = select(func.max(col(TriageResult.id))).where(col(TriageResult.ticket_id) == t.ticket_id)
    triage = aliased(TriageResult)
    joined = per_ticket.outerjoin(triage, col(triage.id) == case((overridden, latest_triage.scalar_subquery())))
    return _Reviewed(
        rows=t,
        source=joined,
        ai_intent=case((overridden, col(triage.intent)), else_=t.intent),
        confirmed=case((overridden | (t.sends > 0), t.intent)),
        ai_confidence=case((overridden, col(triage.confidence)), else_=t.confidence),
        overridden=overridden,
    )


@dataclass(frozen=True)
class PairGroup:
    """The period's reviewed tickets with one AI intent, confirmed intent and override, and their drafts' fate."""

    ai_intent: str | None
    confirmed: str | None  # None: an agent only rejected the draft
    overridden: bool
    tickets: int
    accepted: int  # tickets with a draft sent unchanged
    edited: int  # tickets with a draft edited, then sent
    rejected: int  # tickets with a draft rejected
    sends: int  # replies sent from drafts
    edits: int  # of which edited
    distance_sum: int  # edit distance over sent drafts, in characters
    distance_max: int


PAIR_KEYS: tuple[tuple[str, Any], ...] = (("ai_intent", String), ("confirmed", String), ("overridden", Integer))
PAIR_MEASURES = ("tickets", "accepted", "edited", "rejected", "sends", "edits", "distance_sum", "distance_max")


def _pair_source(clause: ColumnElement[bool]) -> Select:
    r = _reviewed(clause)
    t = r.rows
    group = [
        t.bucket.label("bucket"),
        t.channel.label("channel"),
        t.intent.label("intent"),
        t.demo.label("demo"),
        r.ai_intent.label("ai_intent"),
        r.confirmed.label("confirmed"),
        r.overridden.label("overridden"),
    ]
    measures = (
        func.count().label("tickets"),
        func.sum(t.accepted).label("accepted"),
        func.sum(t.edited).label("edited"),
        func.sum(t.rejected).label("rejected"),
        func.sum(t.sends).label("sends"),
        func.sum(t.edits).label("edits"),
        func.coalesce(func.sum(t.distance), 0).label("distance_sum"),
        func.coalesce(func.max(t.distance_max), 0).label("distance_max"),
    )
    return select(*group, *measures).select_from(r.source).group_by(*group)


PAIR_ROLLUP = Rollup("pair", PAIR_KEYS, PAIR_MEASURES, _pair_source, maxima=frozenset({"distance_max"}))


def pairs(connection: Connection, shape: Shape, bound: dict[str, Any]) -> list[PairGroup]:
    """What agents did with the AI's work on the period's tickets, by AI intent, confirmed intent and override."""
    query = PAIR_ROLLUP.read(shape, tuple(name for name, _ in PAIR_KEYS))
    return [
        PairGroup(ai, confirmed, bool(overridden), *(int(n or 0) for n in counts))
        for ai, confirmed, overridden, *counts in connection.execute(query, bound)
    ]


@dataclass(frozen=True)
class CheckGroup:
    """The period's reviewed tickets by the AI's confidence bin and the current one, and whether the AI was right."""

    ai_bin: int | None
    current_bin: int | None  # bin of the ticket's confidence now (an override sets it to the agent's choice)
    overridden: bool
    checked: bool  # the AI predicted an intent and an agent confirmed one
    correct: bool  # ... the same one
    tickets: int
    ai_confidence_sum: float
    current_confidence_sum: float


CHECK_KEYS: tuple[tuple[str, Any], ...] = (
    ("ai_bin", Integer),
    ("current_bin", Integer),
    ("overridden", Integer),
    ("checked", Integer),
    ("correct", Integer),
)
CHECK_MEASURES = ("tickets", "ai_confidence_sum", "current_confidence_sum")


def _check_source(clause: ColumnElement[bool]) -> Select:
    r = _reviewed(clause)
    t = r.rows
    checked = r.ai_intent.is_not(None) & r.confirmed.is_not(None)
    group = [
        t.bucket.label("bucket"),
        t.channel.label("channel"),
        t.intent.label("intent"),
        t.demo.label("demo"),
        confidence_bin(r.ai_confidence).label("ai_bin"),
        confidence_bin(t.confidence).label("current_bin"),
        r.overridden.label("overridden"),
        case((checked, 1), else_=0).label("checked"),
        case((checked & (r.confirmed == r.ai_intent), 1), else_=0).label("correct"),
    ]
    measures = (
        func.count().label("tickets"),
        func.coalesce(func.sum(r.ai_confidence), 0.0).label("ai_confidence_sum"),
        func.coalesce(func.sum(t.confidence), 0.0).label("current_confidence_sum"),
    )
    return select(*group, *measures).select_from(r.source).group_by(*group)


CHECK_ROLLUP = Rollup("check", CHECK_KEYS, CHECK_MEASURES, _check_source)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def checks(connection: Connection, shape: Shape, bound: dict[str, Any]) -> list[CheckGroup]:
    """The period's reviewed tickets by confidence bins, override and whether the AI's intent was confirmed."""
    query = CHECK_ROLLUP.read(shape, tuple(name for name, _ in CHECK_KEYS))
    return [
        CheckGroup(
            _int_or_none(ai_bin),
            _int_or_none(current_bin),
            bool(overridden),
            bool(checked),
            bool(correct),
            int(tickets),
            float(ai_sum or 0),
            float(current_sum or 0),
        )
        for ai_bin, current_bin, overridden, checked, correct, tickets, ai_sum, current_sum in connection.execute(
            query, bound
        )
    ]


@lru_cache(maxsize=8)
def _open_query(shape: Shape) -> Select:
    """Open tickets (unresolved, or resolved later) at the end and at the start, whether any ticket existed then, and
    the tickets of the period and of the previous one past a due not yet recorded as breached (engine.sla.sweep
    records it soon)."""
    created, resolved = col(Ticket.created_at), col(Ticket.resolved_at)

    def count(*clauses: ColumnElement[bool]) -> Any:
        return select(func.count()).select_from(Ticket).where(*clauses, *ticket_scope(shape)).scalar_subquery()

    def open_at(moment: Any) -> Any:
        return count(resolved.is_(None), created < moment) + count(resolved >= moment, created < moment)

    def any_before(moment: Any) -> Any:
        return exists().where(created < moment, *ticket_scope(shape))

    def waiting(start: Any, end: Any) -> Any:  # range-scans the partial index ix_kpi_ticket_sla_open
        overdue = or_(_first_verdict.is_(None) & (_first_due < NOW), _resolution_due < NOW)
        return count(
            _resolution_verdict.is_(None), _first_verdict.is_not(True), overdue, created >= start, created < end
        )

    backlog = (open_at(END), open_at(START), any_before(END), any_before(START))
    return select(*backlog, waiting(START, END), waiting(PREV_START, START))


def open_measures(connection: Connection, shape: Shape, bound: dict[str, Any]) -> dict[bool, dict[str, float | None]]:
    """Backlog and tickets past an SLA due, by period (True = current); backlog None before any ticket."""
    at_end, at_start, any_end, any_start, waiting, waiting_before = connection.execute(_open_query(shape), bound).one()
    return {
        True: {"backlog": float(at_end) if any_end else None, "sla_waiting": float(waiting)},
        False: {"backlog": float(at_start) if any_start else None, "sla_waiting": float(waiting_before)},
    }


@dataclass(frozen=True)
class ConfidenceCount:
    """Tickets of the period in one bin of their current confidence (None: no confidence)."""

    bin: int | None
    tickets: int
    confidence_sum: float


def _bin_source(clause: ColumnElement[bool]) -> Select:
    confidence = col(Ticket.intent_confidence)
    group = _group(confidence_bin(confidence).label("bin"))
    measures = (func.count().label("tickets"), func.coalesce(func.sum(confidence), 0.0).label("confidence_sum"))
    return select(*group, *measures).where(clause).group_by(*group)


def _intent_source(clause: ColumnElement[bool]) -> Select:
    group = _group()
    return select(*group, func.count().label("tickets")).where(clause).group_by(*group)


BIN_ROLLUP = Rollup("bin", (("bin", Integer),), ("tickets", "confidence_sum"), _bin_source)
INTENT_ROLLUP = Rollup("intent", (), ("tickets",), _intent_source)
ROLLUPS = (DAY_ROLLUP, PAIR_ROLLUP, CHECK_ROLLUP, BIN_ROLLUP, INTENT_ROLLUP)


def confidence_counts(connection: Connection, shape: Shape, bound: dict[str, Any]) -> list[ConfidenceCount]:
    """Tickets per bin of their current confidence in the period."""
    rows = connection.execute(BIN_ROLLUP.read(shape, ("bin",)), bound)
    return [ConfidenceCount(_int_or_none(b), int(n), float(s or 0)) for b, n, s in rows]


def intent_counts(connection: Connection, shape: Shape, bound: dict[str, Any]) -> dict[str | None, int]:
    """Tickets per current intent in the period (None: not triaged)."""
    return {i: int(n) for i, n in connection.execute(INTENT_ROLLUP.read(shape, ("intent",)), bound)}


# Measures that come from the open-ticket query (the ticket measures are documented above).
OTHER_MEASURES: dict[str, str] = {
    "backlog": "tickets open at the end of the period (None before the first ticket)",
    "sla_waiting": "tickets of the period past a due not recorded yet, and no breach recorded (no double count)",
}
