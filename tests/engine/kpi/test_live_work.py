"""KPIs from live work: handle time reported by the ticket page, contacts per issue, FCR that reopens break."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.desk import approve_or_edit, reopen
from engine.ingest.email_channel import ingest_email
from engine.kpi import all_time, dashboard
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
