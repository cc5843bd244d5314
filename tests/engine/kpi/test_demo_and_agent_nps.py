"""Demo figures are marked and can be left out; Agent NPS comes from the agents' monthly answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.agent_pulse import PulseError, answer_pulse, dismiss_pulse, pulse_due
from engine.config import DEMO_DATA_DIR
from engine.demo.history import enrich_demo_history
from engine.demo.seed import seed_demo_queue
from engine.kpi.dashboard import KpiFilter, dashboard
from engine.store.models import Customer, Message, Survey, Ticket
from tests.engine.outbox.test_outbox import make_engine

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


def live_ticket(session: Session, *, csat: int) -> Ticket:
    """A ticket worked today: answered, resolved after one contact, its survey answered."""
    customer = Customer(name="Live Customer", email="live@example.com")
    session.add(customer)
    session.flush()
    created = NOW - timedelta(hours=3)
    ticket = Ticket(customer_id=customer.id or 0, subject="Where is my order?", created_at=created)
    ticket.first_response_at = created + timedelta(minutes=20)
    ticket.mark_resolved(created + timedelta(minutes=20))
    session.add(ticket)
    session.flush()
    session.add(Message(ticket_id=ticket.id or 0, body="Where is my order?", created_at=created))
    session.add(Survey(ticket_id=ticket.id or 0, token="live-token", csat=csat, ces=1, answered_at=NOW))
    session.commit()
    return ticket


def test_demo_figures_are_marked_and_live_only_shows_the_live_day_alone(db: SAEngine, session: Session) -> None:
    seed_demo_queue(session, DEMO_DATA_DIR, count=80, now=NOW)
    assert enrich_demo_history(session, now=NOW) > 10
    session.commit()
    live_ticket(session, csat=3)
    month = KpiFilter.last_days(30, now=NOW)
    both = dashboard(db, month, now=NOW)
    assert both.demo_tickets > 10
    assert both.kpi("csat").demo and both.kpi("first_contact_resolution").demo, "figures counting demo tickets"
    assert both.kpi("csat").value is not None and both.kpi("csat").value > 3
    live = dashboard(db, month.with_live_only(True), now=NOW)
    assert live.demo_tickets == 0 and not any(k.demo for k in live.kpis)
    assert live.kpi("csat").value == 3 and live.kpi("first_contact_resolution").value == 1.0
    assert sum(d.tickets for d in live.daily) == 1 and live.funnel.tickets == 1
    today = KpiFilter(NOW - timedelta(hours=6), NOW, live_only=True)
    assert dashboard(db, today, now=NOW).kpi("csat").value == 3, "a fresh live day shows only live figures"
    exported = both.tables()["kpis"]
    assert {row["kpi"]: row["demo"] for row in exported}["CSAT"] is True


def test_agent_nps_comes_from_monthly_answers_next_to_its_target(tmp_path: Path) -> None:
    desk = make_engine(tmp_path / "data")
    db = desk.db
    answers = {"maria": 10, "sam": 9, "aiko": 8, "tunde": 3}  # 2 promoters, 1 passive, 1 detractor: NPS 25
    for agent, score in answers.items():
        assert pulse_due(desk, agent, now=NOW)
        answer_pulse(desk, agent, score, now=NOW)
        assert not pulse_due(desk, agent, now=NOW), "asked once a month"
    dismiss_pulse(desk, "lea", now=NOW)
    assert not pulse_due(desk, "lea", now=NOW), "dismissed: not asked again this month"
    assert pulse_due(desk, "lea", now=NOW + timedelta(days=2)), "asked again next month"
    with pytest.raises(PulseError, match="already answered"):
        answer_pulse(desk, "maria", 0, now=NOW)
    for bad in (11, -1, 7.5, "9", True):
        with pytest.raises(PulseError):
            answer_pulse(desk, "newcomer", bad, now=NOW)
    after = NOW + timedelta(minutes=1)  # periods are half-open: the answers given at NOW are inside this one
    nps = dashboard(db, KpiFilter.last_days(30, now=after), now=after).kpi("agent_nps")
    assert nps.value == pytest.approx(25.0) and nps.on_target is False and nps.definition.target is not None
    assert nps.definition.format(nps.value) == "25" and nps.definition.target.text == "> 40"
    answer_pulse(desk, "maria", 10, now=NOW + timedelta(days=2))  # next month, one more promoter
    later = dashboard(db, KpiFilter.last_days(30, now=NOW + timedelta(days=3)), now=NOW + timedelta(days=3))
    assert later.kpi("agent_nps").value == pytest.approx(40.0) and later.kpi("agent_nps").on_target is False
