"""KPIs from live work: handle time reported by the ticket page, contacts per issue, FCR that reopens break."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine.desk import approve_or_edit, reopen
from engine.ingest.email_channel import ingest_email
from engine.kpi import KpiParams, all_time, dashboard
from engine.store.models import Ticket
from engine.worktime import MAX_REPORT_SECONDS, record_handle_time
from tests.engine.outbox.test_outbox import email_ticket, mail, make_engine


def test_handle_time_sums_active_reports_until_resolution_and_shows_as_aht(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    ticket_id = email_ticket(engine)
    for seconds in (5.0, 5.0, 20.0):
        record_handle_time(engine.db, ticket_id, seconds, agent="sam")
    assert record_handle_time(engine.db, ticket_id, 10_000, agent="sam") == 30.0 + MAX_REPORT_SECONDS, "capped"
    approve_or_edit(engine, ticket_id, None, "Done.", agent="sam")
    assert record_handle_time(engine.db, ticket_id, 5.0, agent="sam") == 50.0, "after resolution nothing is added"
    shown = {k.key: k.value for k in dashboard(engine.db, all_time(engine.db)).kpis}
    assert shown["avg_handle_time"] == pytest.approx(50.0 / 60)
    with pytest.raises(LookupError):
        record_handle_time(engine.db, 999, 5.0, agent="sam")


def test_a_customer_writing_again_or_a_reopen_is_not_first_contact_resolution(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    once, again, reopened = email_ticket(engine, "<a@x>"), email_ticket(engine, "<b@x>"), email_ticket(engine, "<c@x>")
    for ticket_id in (once, again, reopened):
        approve_or_edit(engine, ticket_id, None, "Sorted.", agent="sam")
    answer = mail("<b2@x>", "It is still broken.", **{"In-Reply-To": "<b@x>", "References": "<b@x>"})
    assert ingest_email(engine, answer, source="email:test") is not None
    approve_or_edit(engine, again, None, "Sorted now.", agent="sam")
    reopen(engine, reopened, "the customer phoned", agent="sam")
    approve_or_edit(engine, reopened, None, "Sorted now.", agent="sam")
    with engine.session() as session:
        counts = {t: (session.get(Ticket, t).contacts, session.get(Ticket, t).reopens) for t in (once, again, reopened)}  # type: ignore[union-attr]
    assert counts == {once: (1, 0), again: (2, 1), reopened: (1, 1)}
    shown = {k.key: k.value for k in dashboard(engine.db, all_time(engine.db)).kpis}
    assert shown["first_contact_resolution"] == pytest.approx(1 / 3)


def test_only_a_reopen_within_the_window_breaks_first_contact_and_agent_time_is_costed_at_the_setting(
    tmp_path: Path,
) -> None:
    engine = make_engine(tmp_path / "data", fcr_reopen_days=7, agent_hourly_cost=60)
    soon, late = email_ticket(engine, "<s@x>"), email_ticket(engine, "<l@x>")
    record_handle_time(engine.db, soon, 15.0, agent="sam")
    record_handle_time(engine.db, late, 15.0, agent="sam")
    for ticket_id in (soon, late):
        approve_or_edit(engine, ticket_id, None, "Sorted.", agent="sam")
    with engine.transaction() as session:  # the late one was resolved ten days before the customer wrote again
        ticket = session.get(Ticket, late)
        assert ticket is not None and ticket.first_resolved_at is not None and ticket.first_contacts == 1
        ticket.first_resolved_at -= timedelta(days=10)
        session.add(ticket)
    for ticket_id, answer_id in ((soon, "<s@x>"), (late, "<l@x>")):
        answer = mail(f"<{ticket_id}-again@x>", "Another question.", **{"In-Reply-To": answer_id})
        assert ingest_email(engine, answer, source="email:test") is not None
        approve_or_edit(engine, ticket_id, None, "Answered.", agent="sam")
    params = KpiParams.from_settings(engine.settings)
    assert (params.fcr_reopen_days, params.agent_hourly_cost) == (7, 60)
    shown = {k.key: k.value for k in dashboard(engine.db, all_time(engine.db), params=params).kpis}
    assert shown["first_contact_resolution"] == pytest.approx(1 / 2), "the reopen after ten days is a new issue"
    wider = KpiParams.from_settings(engine.settings._with({"fcr_reopen_days": 30}))
    assert dashboard(engine.db, all_time(engine.db), params=wider).kpi("first_contact_resolution").value == 0.0
    # half an agent-minute at $60 an hour over two resolved tickets (no worker runs here: the AI routed neither)
    assert shown["cost_per_ticket"] == pytest.approx(0.25)
