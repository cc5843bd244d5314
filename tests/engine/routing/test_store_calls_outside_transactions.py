"""Store calls run with no database transaction open: a hanging store stalls no other writer, and a restart between
the store's change and the desk's record of it is reconciled with the same idempotency key (no double refund).
The demo store keeps its state in its own SQLite file, so a restart of the store forgets nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.demo import DemoStoreServer, StoreData
from engine.ingest.intake import InboundMessage, intake
from engine.routing.actions.client import StoreClient, StoreRefused
from engine.routing.actions.runner import ActionRunner, run_detail
from engine.routing.auto_resolve import AutoResult, auto_resolve_ticket
from engine.store.action_models import ActionRun, RunStatus
from engine.store.db import session_scope
from engine.store.models import Direction, Message, Route
from tests.engine.routing.test_actions import POLICY, _order, _refunds, _route, _ticket, store_client
from tests.waiting import wait_for


@pytest.fixture
def store_file(tmp_path: Path) -> Path:
    return tmp_path / "store" / "demo_store.sqlite3"


@pytest.fixture
def store(db: SAEngine, store_file: Path) -> Iterator[DemoStoreServer]:
    server = DemoStoreServer(StoreData(db, store_file))
    server.start()
    yield server
    server.stop()


def _runs(db: SAEngine, ticket_id: int, status: str) -> list[ActionRun]:
    with Session(db) as session:
        query = select(ActionRun).where(ActionRun.ticket_id == ticket_id, ActionRun.status == status)
        return list(session.exec(query.order_by(col(ActionRun.id))))


def _replies(db: SAEngine, ticket_id: int) -> list[Message]:
    with Session(db) as session:
        query = select(Message).where(Message.ticket_id == ticket_id, Message.direction == Direction.OUTBOUND)
        return list(session.exec(query))


def test_a_store_that_hangs_does_not_stall_an_intake_write(db: SAEngine, store: DemoStoreServer) -> None:
    ticket_id = _ticket(db, "please refund $25")
    _order(store, "ada@example.com", level="gold", age_days=5, status="delivered")
    runner = ActionRunner(store_client(store, timeout=10.0, retries=0))
    assert _route(db, ticket_id, POLICY, runner).route == Route.AUTO_RESOLVE
    store.faults.slow_write_seconds = 3.0  # the refund hangs for 3 s at the store
    results: list[AutoResult] = []
    action = threading.Thread(
        target=lambda: results.append(auto_resolve_ticket(db, ticket_id, policy=POLICY, runner=runner))
    )
    action.start()
    wait_for(lambda: bool(_runs(db, ticket_id, RunStatus.PLANNED)), timeout=10, what="the refund's intent row")

    started = time.perf_counter()
    with session_scope(db) as session:  # another writer: a new customer message arrives
        intake(session, InboundMessage(channel="email", customer_name="Bo", customer_email="bo@example.com", text="hi"))
    took = time.perf_counter() - started
    in_flight = action.is_alive()

    action.join(15)
    assert in_flight and took < 1.0, f"the intake write waited {took:.2f} s for the store call"
    assert results and results[0].sent and "I have refunded $25.00" in results[0].reply
    assert len(_refunds(store)) == 1 and len(_runs(db, ticket_id, RunStatus.DONE)) == 1


class _Crash(BaseException):
    """The desk's process dies (kill -9): nothing after this point runs."""


class _DiesAfterTheStoreAnswers(StoreClient):
    def post(self, path: str, body: dict[str, Any], *, key: str, scope: str) -> Any:
        super().post(path, body, key=key, scope=scope)  # the store applied the refund...
        raise _Crash  # ...and the desk died before writing the answer


def test_a_restart_between_the_store_call_and_its_record_is_reconciled_without_a_double_refund(
    db: SAEngine, store: DemoStoreServer, store_file: Path
) -> None:
    ticket_id = _ticket(db, "please refund $25")
    order_id = _order(store, "ada@example.com", level="gold", age_days=5, status="delivered")
    assert _route(db, ticket_id, POLICY, ActionRunner(store_client(store))).route == Route.AUTO_RESOLVE
    credentials = store_client(store).credentials  # registers the test client with the store
    dying = ActionRunner(_DiesAfterTheStoreAnswers(store.url, timeout=2.0, credentials=credentials))
    with pytest.raises(_Crash):
        auto_resolve_ticket(db, ticket_id, policy=POLICY, runner=dying)
    assert len(_refunds(store)) == 1 and len(_runs(db, ticket_id, RunStatus.PLANNED)) == 1
    assert _replies(db, ticket_id) == []
    store.stop()  # the store restarts too: its refunds and idempotency keys are in its file

    restarted = DemoStoreServer(StoreData(db, store_file))
    restarted.start()
    try:
        runner = ActionRunner(store_client(restarted, timeout=2.0))
        settled = runner.reconcile(db)
        assert list(settled.values()) == [RunStatus.DONE] and _runs(db, ticket_id, RunStatus.PLANNED) == []
        result = auto_resolve_ticket(db, ticket_id, policy=POLICY, runner=runner)
        again = auto_resolve_ticket(db, ticket_id, policy=POLICY, runner=runner)
        refunds = _refunds(restarted)
        assert len(refunds) == 1 and refunds[0]["order_id"] == order_id
        assert restarted.data.order(order_id)["refunded"] == 25.0
        assert result.sent and not again.sent and f"reference {refunds[0]['refund_id']}" in result.reply
        assert len(_replies(db, ticket_id)) == 1
    finally:
        restarted.stop()


def test_a_planned_write_the_store_refuses_at_restart_is_marked_failed_with_the_reason(
    db: SAEngine, store: DemoStoreServer
) -> None:
    ticket_id = _ticket(db, "please refund $25")
    _order(store, "ada@example.com", level="gold", age_days=5, status="delivered")
    with session_scope(db) as session:  # an intent whose request the store will refuse (no such order)
        session.add(
            ActionRun(
                ticket_id=ticket_id,
                action="refund",
                key="caredesk-test-refused",
                detail='{"summary": "refund $25.00 of order ORD-0", "request": ["/refunds", '
                '{"order_id": "ORD-0", "amount": 25.0}]}',
            )
        )
    runner = ActionRunner(store_client(store, timeout=2.0))
    assert list(runner.reconcile(db).values()) == [RunStatus.FAILED]
    failed = _runs(db, ticket_id, RunStatus.FAILED)
    with Session(db) as session:
        assert "interrupted by a restart" in run_detail(session, failed[0].id or 0)["error"]
    assert _refunds(store) == []


def test_the_demo_store_remembers_refunds_keys_and_accounts_across_a_restart(
    db: SAEngine, store: DemoStoreServer, store_file: Path
) -> None:
    _ticket(db, "please refund $25")
    order_id = _order(store, "ada@example.com", level="silver", age_days=5, status="delivered", total=80.0)
    client = store_client(store)
    first = client.post("/refunds", {"order_id": order_id, "amount": 30.0}, key="k-1", scope="refunds:write")
    account = client.get("/accounts", params={"email": "ada@example.com"}, scope="accounts:read")
    client.close()
    store.stop()

    restarted = DemoStoreServer(StoreData(db, store_file))
    restarted.start()
    try:
        client = store_client(restarted)
        assert (
            client.post("/refunds", {"order_id": order_id, "amount": 30.0}, key="k-1", scope="refunds:write") == first
        )
        assert (
            client.get("/accounts", params={"email": "ada@example.com"}, scope="accounts:read") == account
        )  # silver, same age
        order = client.get(f"/orders/{order_id}", scope="orders:read")
        assert order["refunded"] == 30.0 and len(_refunds(restarted)) == 1
        with pytest.raises(StoreRefused, match=r"not within 0\.\.50\.00"):  # only what is left can be refunded
            client.post("/refunds", {"order_id": order_id, "amount": 60.0}, key="k-2", scope="refunds:write")
    finally:
        restarted.stop()
