"""The supervisor: failing tickets retried with backoff, set aside after 3 tries, remembered across a restart."""

from __future__ import annotations

from pathlib import Path

from engine.health import needs_attention
from engine.ingest.intake import InboundMessage, intake
from engine.supervisor import Supervisor
from tests.engine.test_ingest_import import make_engine


def _tickets(engine, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    with engine.transaction() as session:
        return [
            intake(session, InboundMessage(channel="chat", customer_name=f"C{i}", text=f"help {i}")).ticket_id
            for i in range(count)
        ]


def test_a_failing_ticket_waits_then_needs_attention_and_others_are_not_held(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    poisoned, fine = _tickets(engine, 2)
    supervisor = Supervisor(engine.db, retry_seconds=0.0)
    error = ValueError("cannot parse the message of ada@example.com")
    assert supervisor.failed("triage", [poisoned], error) == []
    assert supervisor.degraded and supervisor.stages["triage"].failures == 1
    stage, text = supervisor.last_error() or ("", "")
    assert stage == "triage" and "ada@example.com" not in text and text.startswith("ValueError: cannot parse")
    assert supervisor.failed("triage", [poisoned], error) == []
    assert supervisor.blocked("triage") == set()  # no backoff configured: it may be tried again now
    assert supervisor.failed("triage", [poisoned], error) == [poisoned]
    assert supervisor.blocked("triage") == {poisoned} and supervisor.blocked("drafting") == set()
    restarted = Supervisor(engine.db)  # the list survives a restart
    assert restarted.blocked("triage") == {poisoned}
    [row] = needs_attention(engine.db)
    assert (row.ticket_id, row.stage, row.failures) == (poisoned, "triage", 3)
    restarted.retry(poisoned)
    assert restarted.blocked("triage") == set() and needs_attention(engine.db) == []
    assert fine not in supervisor.blocked("triage")


def test_backoff_holds_a_ticket_until_its_next_try_and_success_clears_it(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    [ticket] = _tickets(engine, 1)
    supervisor = Supervisor(engine.db, retry_seconds=60.0)
    supervisor.failed("drafting", [ticket], RuntimeError("model crashed"))
    assert supervisor.blocked("drafting") == {ticket}
    supervisor.succeeded("drafting", [ticket])
    assert supervisor.blocked("drafting") == set() and Supervisor(engine.db).blocked("drafting") == set()
