"""KPIs on hand-built tickets whose values are known, empty data, filters, exports and the demo history."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.config import DEMO_DATA_DIR
from engine.demo.history import enrich_demo_history
from engine.demo.seed import seed_demo_queue
from engine.kpi.dashboard import (
    KpiFilter,
    KpiParams,
    all_time,
    csv_text,
    dashboard,
    ensure_kpi_indexes,
    kpis,
    refresh,
    sentiment_point,
)
from engine.kpi.filters import cover
from engine.kpi.queries import checks, confidence_counts, intent_counts, pairs, ticket_days
from engine.store.models import Customer, Feedback, Message, Survey, Ticket, TriageResult

START = datetime(2026, 6, 1, tzinfo=UTC)
END = datetime(2026, 6, 11, tzinfo=UTC)
PERIOD = KpiFilter(START, END)


def day(d: int, hour: int = 9) -> datetime:
    return datetime(2026, 6, d, hour, tzinfo=UTC) if d > 0 else datetime(2026, 5, 31 + d, hour, tzinfo=UTC)


def add_ticket(
    session: Session,
    created: datetime,
    *,
    channel: str = "email",
    intent: str | None = None,
    confidence: float | None = None,
    valence: float | None = None,
    resolved_after: timedelta | None = None,
    first_response_after: timedelta | None = None,
    feedback: list[dict[str, Any]] | None = None,
    survey: tuple[int, int] | None = None,
    ai_confidence: float | None = None,
    **fields: Any,
) -> Ticket:
    """A ticket with a triage row (when it has an intent), feedback rows and an answered survey."""
    customer = Customer(name="Test Customer")
    session.add(customer)
    session.flush()
    assert customer.id is not None
    resolved = created + resolved_after if resolved_after is not None else None
    label = None if valence is None else ("negative" if valence < -0.3 else "positive" if valence > 0.3 else "neutral")
    ticket = Ticket(
        customer_id=customer.id,
        channel=channel,
        subject=f"{channel} {intent}",
        intent=intent,
        intent_confidence=confidence,
        valence=valence,
        sentiment_label=label,
        triaged_at=created if intent else None,
        created_at=created,
        resolved_at=resolved,
        status="resolved" if resolved else "open",
        first_response_at=created + first_response_after if first_response_after is not None else None,
        **fields,
    )
    session.add(ticket)
    session.flush()
    assert ticket.id is not None
    ai_intent = next((f["old_intent"] for f in feedback or [] if f["kind"] == "override_intent"), intent)
    if intent:
        predicted = ai_confidence if ai_confidence is not None else confidence
        session.add(TriageResult(ticket_id=ticket.id, intent=ai_intent or "", confidence=predicted or 0.0))
    for row in feedback or []:
        session.add(Feedback(ticket_id=ticket.id, created_at=created + timedelta(minutes=5), **row))
    if survey is not None:
        csat, ces = survey
        session.add(
            Survey(ticket_id=ticket.id, token=f"t{ticket.id}", csat=csat, ces=ces, answered_at=resolved or created)
        )
    session.flush()
    return ticket


@pytest.fixture
def desk(db: SAEngine, session: Session) -> SAEngine:
    """Seven tickets in the period, two in the previous one and one old open ticket (see the expected values)."""
    minutes, hours = timedelta(minutes=1), timedelta(hours=1)
    add_ticket(session, datetime(2026, 5, 1, tzinfo=UTC), intent="A", confidence=0.9)  # open since May: backlog
    # previous period
    add_ticket(
        session, day(-5), channel="chat", intent="A", confidence=0.97, route="auto_resolve",
        outcome="resolved_by_ai", resolved_after=2 * minutes, first_response_after=2 * minutes, survey=(10, 1),
    )  # fmt: skip
    add_ticket(
        session, day(-3), intent="B", confidence=0.8, route="assist", outcome="resolved_by_agent",
        resolved_after=hours, first_response_after=hours, handle_seconds=900,
    )  # fmt: skip
    # current period
    add_ticket(
        session, day(2), channel="chat", intent="A", confidence=0.95, valence=0.5, route="auto_resolve",
        outcome="resolved_by_ai", resolved_after=2 * minutes, first_response_after=2 * minutes, survey=(9, 1),
    )  # fmt: skip
    add_ticket(
        session, day(3), intent="A", confidence=0.92, valence=-0.6, route="auto_resolve", outcome="failed",
        resolved_after=5 * hours, first_response_after=minutes, contacts=2, handle_seconds=600, survey=(3, 4),
    )  # fmt: skip
    add_ticket(  # auto-resolved, then an agent corrected the intent from A (0.88) to B
        session, day(3, 11), intent="B", confidence=1.0, ai_confidence=0.88, valence=0.0, route="auto_resolve",
        outcome="resolved_by_ai", resolved_after=2 * minutes, first_response_after=2 * minutes,
        feedback=[{"kind": "override_intent", "old_intent": "A", "new_intent": "B"}],
    )  # fmt: skip
    add_ticket(
        session, day(4), channel="chat", intent="B", confidence=0.85, valence=-0.4, route="assist",
        outcome="resolved_with_edit", resolved_after=30 * hours, first_response_after=30 * hours, handle_seconds=300,
        feedback=[{"kind": "edit", "old_intent": "B", "edit_distance": 40}], survey=(8, 2),
        first_response_due=day(5), first_response_breached=True, resolution_due=day(6), resolution_breached=False,
    )  # fmt: skip
    add_ticket(
        session, day(5), channel="sms", intent="C", confidence=0.45, valence=-0.8, route="escalate",
        outcome="escalated", resolved_after=3 * hours, first_response_after=2 * hours, handle_seconds=1200,
        feedback=[{"kind": "reject", "old_intent": "C", "reason": "wrong policy"}],
    )  # fmt: skip
    add_ticket(  # open, no answer yet, its first response due a day later: past due by the end, not swept yet
        session, day(9, 0), channel="chat", intent="A", confidence=0.7, route="assist", first_response_due=day(10, 0),
        resolution_due=day(12),
    )  # fmt: skip
    add_ticket(session, day(10, 23) + timedelta(minutes=30))  # just arrived, not triaged
    session.commit()
    ensure_kpi_indexes(db)
    return db


def values(db: SAEngine, kpi_filter: KpiFilter = PERIOD) -> dict[str, tuple[float | None, float | None]]:
    return {k.key: (k.value, k.previous) for k in kpis(db, kpi_filter, now=END)}


def test_every_kpi_matches_its_hand_computed_value(desk: SAEngine) -> None:
    got = values(desk)
    assert got["ai_resolution_rate"] == (pytest.approx(2 / 5), pytest.approx(1 / 2))
    assert got["first_contact_resolution"][0] == pytest.approx(4 / 5)
    assert got["avg_handle_time"][0] == pytest.approx(2100 / 3 / 60)
    assert got["csat"] == (pytest.approx(20 / 3), pytest.approx(10.0))
    assert got["ces"][0] == pytest.approx(7 / 3)
    assert got["ai_error_rate"] == (pytest.approx(2 / 3), pytest.approx(0.0))
    assert got["agent_productivity"][0] == pytest.approx(5 / (2100 / 3600))
    assert got["cost_per_ticket"][0] == pytest.approx((2100 / 3600 * 30 + 5 * 0.02) / 5)
    assert got["escalation_rate"][0] == pytest.approx(1 / 7)
    assert got["sla_breaches"][0] == 2  # a first response recorded as breached, and an open ticket past its due
    assert got["backlog"] == (3, 1)
    assert got["override_rate"] == (pytest.approx(1 / 6), pytest.approx(0.0))


def test_trends_targets_and_cost_parameters(desk: SAEngine) -> None:
    data = dashboard(desk, PERIOD, now=END)
    ai = data.kpi("ai_resolution_rate")
    assert ai.trend == "down" and ai.improving is False and ai.on_target is False
    assert data.kpi("ces").on_target is False  # 2.33 is not below 2.0
    assert data.kpi("ai_error_rate").definition.target is not None
    cheap = {
        k.key: k.value for k in kpis(desk, PERIOD, params=KpiParams(agent_hourly_cost=60, ai_ticket_cost=1), now=END)
    }
    assert cheap["cost_per_ticket"] == pytest.approx((2100 / 3600 * 60 + 5 * 1.0) / 5)
    with Session(desk) as session:  # the escalation missed its resolution due
        escalation = session.exec(select(Ticket).where(Ticket.channel == "sms")).one()
        escalation.resolution_due, escalation.resolution_breached = day(5, 10), True
        session.add(escalation)
        session.commit()
    assert values(desk)["sla_breaches"][0] == 3
    before_due = {k.key: k.value for k in kpis(desk, PERIOD, now=day(9, 12))}
    assert before_due["sla_breaches"] == 2  # the open ticket is not past its due yet


def test_charts_and_model_quality(desk: SAEngine) -> None:
    data = dashboard(desk, PERIOD, now=END)
    assert sum(r.tickets for r in data.daily) == 7
    june3 = next(s for s in data.sentiment if s.day == "2026-06-03")
    assert june3.mean_valence == pytest.approx(-0.3) and june3.negative_share == pytest.approx(0.5)
    assert data.funnel.tickets == 7 and data.funnel.triaged == 6
    assert (data.funnel.auto_resolved, data.funnel.assisted, data.funnel.escalated) == (3, 2, 1)
    assert (data.funnel.accepted, data.funnel.edited, data.funnel.rejected) == (0, 1, 1)
    assert {(c.ai_intent, c.confirmed): c.tickets for c in data.confusion} == {("A", "B"): 1, ("B", "B"): 1}
    quality = {q.intent: q for q in data.intent_quality}
    assert quality["A"].predicted == 4 and quality["A"].precision == 0.0 and quality["A"].override_rate == 0.25
    assert quality["B"].predicted == 1 and quality["B"].precision == 1.0
    assert quality["C"].precision is None
    histogram = {round(b.low, 1): b.predicted for b in data.confidence if b.predicted}
    assert histogram == {0.4: 1, 0.7: 1, 0.8: 2, 0.9: 2}  # the overridden ticket counts at the AI's 0.88, not 1.0
    bin8 = next(b for b in data.confidence if round(b.low, 1) == 0.8)
    assert bin8.reviewed == 2 and bin8.accuracy == 0.5 and bin8.mean_confidence == pytest.approx((0.88 + 0.85) / 2)
    assert data.mean_confidence == pytest.approx((0.95 + 0.92 + 0.88 + 0.85 + 0.45 + 0.7) / 6)
    assert [(e.intent, e.sent, e.edited, e.mean_distance) for e in data.edit_distance] == [("B", 1, 1, 40.0)]
    assert {i.intent: i.tickets for i in data.intent_mix} == {"A": 3, "B": 2, "C": 1, "(not triaged)": 1}
    assert {a.key for a in data.alerts} == {"low_confidence", "override_climbing"}


def test_filters_narrow_every_number(desk: SAEngine) -> None:
    chat = values(desk, KpiFilter(START, END, channels=["chat"]))
    assert chat["ai_resolution_rate"][0] == pytest.approx(1 / 2)
    assert chat["backlog"][0] == 1
    only_b = dashboard(desk, KpiFilter(START, END, intents=["B"]), now=END)
    assert only_b.funnel.tickets == 2
    assert only_b.kpi("override_rate").value == pytest.approx(1 / 2)


def test_tickets_behind_a_sentiment_point_most_negative_first(desk: SAEngine) -> None:
    refs = sentiment_point(desk, PERIOD, "2026-06-03", "email")
    assert [r.valence for r in refs] == [-0.6, 0.0]
    assert sentiment_point(desk, PERIOD, "2026-06-03", "chat") == []
    assert len(sentiment_point(desk, PERIOD, "2026-06-04", None)) == 1


def test_empty_database_says_no_data_everywhere(db: SAEngine) -> None:
    ensure_kpi_indexes(db)
    data = dashboard(db, PERIOD, now=END)
    assert all(k.value is None and k.previous is None and k.trend is None for k in data.kpis)
    assert data.daily == [] and data.confusion == [] and data.intent_mix == [] and data.alerts == []
    assert data.mean_confidence is None and data.funnel.tickets == 0
    assert all(b.predicted == 0 and b.accuracy is None for b in data.confidence)
    assert data.tables()["kpis"][0]["value"] is None


def test_a_range_without_tickets_has_no_data_but_keeps_the_backlog(desk: SAEngine) -> None:
    later = values(desk, KpiFilter(datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 8, 8, tzinfo=UTC)))
    assert all(value is None for key, (value, _) in later.items() if key != "backlog")
    assert later["backlog"][0] == 3
    before = values(desk, KpiFilter(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 2, 1, tzinfo=UTC)))
    assert all(value is None for value, _ in before.values())


def test_all_time_starts_at_the_first_ticket(desk: SAEngine, db: SAEngine) -> None:
    period = all_time(db, now=END)
    assert period.start == datetime(2026, 5, 1, tzinfo=UTC)
    assert dashboard(db, period, now=END).funnel.tickets == 10


def test_every_table_exports_as_csv(desk: SAEngine) -> None:
    tables = dashboard(desk, PERIOD, now=END).tables()
    assert {"kpis", "volume_by_day_channel", "confusion_matrix", "intent_quality", "edit_distance"} <= set(tables)
    rows = list(csv.DictReader(io.StringIO(csv_text(tables["intent_quality"]))))
    assert {r["intent"] for r in rows} == {"A", "B", "C"} and "override_rate" in rows[0]
    assert csv_text([]) == ""


def test_a_filter_must_have_a_positive_length() -> None:
    with pytest.raises(ValueError, match="end of the period"):
        KpiFilter(END, START)


def test_demo_history_is_consistent_and_fills_every_chart(db: SAEngine, session: Session) -> None:
    now = datetime(2026, 6, 30, 12, tzinfo=UTC)
    seed_demo_queue(session, DEMO_DATA_DIR, count=120, now=now)
    enriched = enrich_demo_history(session, now=now)
    session.commit()
    assert enriched > 20
    assert enrich_demo_history(session, now=now) == 0  # applying it twice changes nothing
    resolved = session.exec(select(Ticket).where(col(Ticket.route).is_not(None))).all()
    for ticket in resolved:
        assert ticket.outcome and ticket.resolved_at and ticket.first_response_at and ticket.triaged_at
        assert ticket.created_at <= ticket.first_response_at <= ticket.resolved_at <= now
        inbound = session.exec(select(Message).where(Message.ticket_id == ticket.id, Message.direction == "inbound"))
        assert ticket.contacts == len(inbound.all())
    for survey in session.exec(select(Survey).where(col(Survey.answered_at).is_not(None))):
        assert survey.csat is not None and 1 <= survey.csat <= 10 and survey.ces is not None and 1 <= survey.ces <= 5
    for edit in session.exec(select(Feedback).where(Feedback.kind == "edit")):
        assert edit.final_text.startswith(edit.draft_text) and edit.edit_distance == len(edit.final_text) - len(
            edit.draft_text
        )
    data = dashboard(db, KpiFilter.last_days(30, now=now), now=now)
    assert data.daily and data.sentiment and data.intent_mix and data.confusion and data.edit_distance
    assert any(b.reviewed for b in data.confidence) and data.funnel.auto_resolved and data.funnel.edited
    assert all(k.value is not None for k in data.kpis if k.key != "agent_nps")  # agents answer live, never simulated


def _everything(db: SAEngine, kpi_filter: KpiFilter, *, live: bool) -> dict[str, Any]:
    """Every rollup query's rows for a period: from the rollups, or (live) all days read from the tickets."""
    bound = kpi_filter.bind(END)
    if live:
        first, last = kpi_filter.start.date(), (kpi_filter.end - timedelta(microseconds=1)).date()
        days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        bound |= {"full_from": "9999", "full_to": "9999", "cover": [], "edges": days}
    shape = kpi_filter.shape
    with db.connect() as connection:
        return {
            "days": sorted(
                (r.day, r.channel, sorted(r.measures.items())) for r in ticket_days(connection, shape, bound)
            ),
            "pairs": sorted(pairs(connection, shape, bound), key=repr),
            "checks": sorted(checks(connection, shape, bound), key=repr),
            "bins": sorted(confidence_counts(connection, shape, bound), key=repr),
            "intents": sorted(intent_counts(connection, shape, bound).items(), key=repr),
        }


def _assert_rollups_are_live(db: SAEngine) -> None:
    refresh(db)
    for kpi_filter in (PERIOD, KpiFilter(START, END, ["chat", "email"], ["B"]), all_time(db, now=END)):
        rolled, live = _everything(db, kpi_filter, live=False), _everything(db, kpi_filter, live=True)
        assert rolled == live and rolled["days"]


def test_rollups_stay_equal_to_the_live_queries_whatever_changes(desk: SAEngine, session: Session) -> None:
    _assert_rollups_are_live(desk)
    escalated = session.exec(select(Ticket).where(Ticket.route == "escalate")).one()
    escalated.outcome, escalated.route, escalated.channel = "resolved_by_agent", "assist", "chat"  # outcome, route
    failed = session.exec(select(Ticket).where(Ticket.outcome == "failed")).one()
    assert failed.id is not None
    session.add(Feedback(ticket_id=failed.id, kind="override_intent", old_intent="A", new_intent="C"))
    failed.intent = "C"
    waiting = session.exec(select(Ticket).where(Ticket.route == "assist", col(Ticket.resolved_at).is_(None))).one()
    assert waiting.id is not None
    session.add(Survey(ticket_id=waiting.id, token="late", csat=2, ces=5, answered_at=END))  # a survey
    session.add(TriageResult(ticket_id=waiting.id, intent="B", confidence=0.55))
    moved = session.exec(select(Ticket).where(Ticket.outcome == "resolved_with_edit")).first()
    assert moved is not None
    moved.created_at = day(7)  # to another day
    session.commit()
    _assert_rollups_are_live(desk)
    rejected = session.exec(select(Feedback).where(Feedback.kind == "reject")).one()
    session.delete(rejected)
    session.commit()
    _assert_rollups_are_live(desk)
    data = dashboard(desk, PERIOD, now=END)
    assert data.funnel.rejected == 0 and data.kpi("csat").value == pytest.approx(22 / 4)


def test_a_change_rebuilds_only_its_day_and_a_lost_trigger_rebuilds_everything(desk: SAEngine) -> None:
    refresh(desk)
    assert refresh(desk) == 0
    with desk.begin() as connection:
        connection.execute(text("UPDATE ticket SET valence = -1 WHERE id = (SELECT max(id) FROM ticket)"))
    assert refresh(desk) == 2  # its day, then its month
    with desk.begin() as connection:  # e.g. a schema upgrade that rebuilt the ticket table
        connection.execute(text("DROP TRIGGER kpi_dirty_ticket_update"))
    assert refresh(desk) == 9 + 2  # every day with tickets, and their months
    assert dashboard(desk, PERIOD, now=END).sentiment[-1].mean_valence == -1  # the newest ticket's new valence


def test_a_period_shorter_than_a_day_is_read_live() -> None:
    short = KpiFilter(day(3, 8), day(3, 12))
    assert short.day_split() == ("2026-06-04", "2026-06-04", ["2026-06-03"])
    assert PERIOD.day_split() == ("2026-06-01", "2026-06-11", [])


def test_the_whole_days_are_read_as_months_where_they_can() -> None:
    assert cover(date(2026, 1, 30), date(2026, 4, 2)) == [
        "2026-01-30",
        "2026-01-31",
        "2026-02",
        "2026-03",
        "2026-04-01",
    ]
    assert cover(date(2026, 6, 1), date(2026, 6, 1)) == []


def test_short_periods_count_exactly(desk: SAEngine) -> None:
    data = dashboard(desk, KpiFilter(day(3, 8), day(3, 12)), now=END)
    assert data.funnel.tickets == 2 and {i.intent for i in data.intent_mix} == {"A", "B"}


def test_a_month_read_whole_follows_a_change_on_one_of_its_days(desk: SAEngine, session: Session) -> None:
    months = KpiFilter(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))  # read as May and June
    before = dashboard(desk, months, now=END)
    add_ticket(session, datetime(2026, 5, 20, 10, tzinfo=UTC), intent="D", confidence=0.6)
    session.commit()
    after = dashboard(desk, months, now=END)
    assert after.funnel.tickets == before.funnel.tickets + 1
    assert {i.intent: i.tickets for i in after.intent_mix}["D"] == 1


def test_a_change_on_a_partial_day_is_read_live_without_a_rebuild(desk: SAEngine, session: Session) -> None:
    until_now = KpiFilter(START, day(10, 23) + timedelta(minutes=45))  # "now" is late on June 10
    refresh(desk)
    before = dashboard(desk, until_now, now=END)
    add_ticket(session, day(10, 22), channel="voice", intent="A", confidence=0.9)
    session.commit()
    after = dashboard(desk, until_now, now=END)
    assert after.funnel.tickets == before.funnel.tickets + 1
    assert {r.channel for r in after.daily if r.day == "2026-06-10"} >= {"voice"}
    assert refresh(desk) == 2  # June 10 and its month were left for a refresh that reads them whole
