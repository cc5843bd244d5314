"""Actions on the demo store over loopback: dry runs, policy checks, idempotent retries, timeouts, garbage."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, select

from engine.demo import DemoStoreServer
from engine.ingest.intake import InboundMessage, intake
from engine.routing.actions.base import ActionContext
from engine.routing.actions.client import Credentials, StoreClient
from engine.routing.actions.registry import action_named
from engine.routing.actions.runner import ActionFailed, ActionRunner, run_detail
from engine.routing.auto_resolve import OFFER_A_PERSON, auto_resolve_ticket, record_outcome
from engine.routing.policy import RoutingPolicy
from engine.routing.router import Decision, gather_store_facts, route_tickets, ticket_text
from engine.store.audit_models import AuditEntry
from engine.store.db import session_scope
from engine.store.models import (
    Customer,
    Direction,
    Draft,
    Message,
    Outcome,
    Route,
    Ticket,
    TicketStatus,
    TriageResult,
    utcnow,
)

POLICY = RoutingPolicy(
    auto_intents=("get_refund", "track_order"),
    intent_actions={"get_refund": "refund", "track_order": "order_status"},
)


def store_client(store: DemoStoreServer, **options: Any) -> StoreClient:
    """A client of the store with OAuth client credentials the store knows."""
    store.data.register_client("test-desk", "test-secret-1234")
    return StoreClient(store.url, credentials=lambda: Credentials("test-desk", "test-secret-1234"), **options)


def _runner(store: DemoStoreServer, *, timeout: float = 2.0, retries: int = 2) -> ActionRunner:
    return ActionRunner(store_client(store, timeout=timeout, retries=retries, backoff=0.05))


def _ticket(db: SAEngine, text: str, *, intent: str = "get_refund", email: str = "ada@example.com") -> int:
    """A triaged ticket from a year-old customer, committed so the store can see the customer."""
    with session_scope(db) as session:
        result = intake(
            session, InboundMessage(channel="email", customer_name="Ada Lovelace", customer_email=email, text=text)
        )
        ticket = session.get(Ticket, result.ticket_id)
        assert ticket is not None
        ticket.intent, ticket.intent_confidence, ticket.valence, ticket.urgency = intent, 0.97, 0.0, 0.0
        ticket.triaged_at = utcnow()
        session.add(
            TriageResult(
                ticket_id=result.ticket_id,
                message_id=result.message_id,
                intent=intent,
                confidence=0.97,
                alternatives=[{"label": intent, "p": 0.97}],
            )
        )
        customer = session.get(Customer, ticket.customer_id)
        assert customer is not None
        customer.created_at = utcnow() - timedelta(days=400)
        return result.ticket_id


def _order(store: DemoStoreServer, email: str, *, level: str, age_days: float, status: str, total: float = 80.0) -> str:
    """Shape the customer's newest order and membership; returns the order id."""
    account = store.data.account_by_email(email)
    store.data.put_account({**account, "membership": level})
    orders = sorted(store.data.orders_of(account["account_id"]), key=lambda o: o["placed_at"], reverse=True)
    newest = orders[0]
    newest.update(
        placed_at=(datetime.now(UTC) - timedelta(days=age_days)).isoformat(), status=status, total=total, refunded=0.0
    )
    store.data.put_order(newest)
    for older in orders[1:]:  # moved to another account: the customer has one order
        store.data.put_order({**older, "account_id": "ACC-elsewhere"})
    return str(newest["order_id"])


def _route(db: SAEngine, ticket_id: int, policy: RoutingPolicy, runner: ActionRunner) -> Decision:
    """Route one ticket as the worker does: the store is asked first, then the decision is written."""
    facts = gather_store_facts(db, [ticket_id], policy=policy, runner=runner)
    with session_scope(db) as session:
        return route_tickets(session, [ticket_id], policy=policy, facts=facts)[ticket_id]


def _context(db: SAEngine, ticket_id: int, **params: str) -> ActionContext:
    with Session(db) as session:
        return ActionContext(
            ticket_id, "ada@example.com", "Ada Lovelace", ticket_text(session, ticket_id), dict(params)
        )


def _refunds(store: DemoStoreServer) -> list[dict]:
    return [p for p in store.data.payments() if p["kind"] == "refund"]


def _audit(db: SAEngine, action: str) -> list[AuditEntry]:
    with Session(db) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)))


def _run(db: SAEngine, entry: AuditEntry) -> dict:
    with Session(db) as session:
        return run_detail(session, entry.details["action_id"])


def test_preview_is_a_dry_run_and_execute_refunds_once(db: SAEngine, store: DemoStoreServer) -> None:
    ticket_id = _ticket(db, "The jacket was faulty, please refund $30.")
    order_id = _order(store, "ada@example.com", level="bronze", age_days=20, status="delivered")
    runner = _runner(store)
    plan = runner.preview(db, "refund", _context(db, ticket_id), actor="ann")
    assert plan.check.ok and plan.summary == f"refund $30.00 of order {order_id} to the original payment method"
    assert "within 90 days for bronze members" in plan.check.text("Refund") and _refunds(store) == []
    first = runner.execute(db, "refund", _context(db, ticket_id), actor="ann")
    again = runner.execute(db, "refund", _context(db, ticket_id), actor="ann")  # a second click: same values
    assert again.reference == first.reference and len(_refunds(store)) == 1
    assert "I have refunded $30.00 for order" in first.customer_text
    executed = _audit(db, "action_executed")
    assert len(executed) == 1 and _run(db, executed[0])["calls"][-1]["method"] == "POST"
    assert [r.details["ok"] for r in _audit(db, "action_preview")] == [True]


@pytest.mark.parametrize(
    ("level", "age", "status", "text", "reason"),
    [
        ("bronze", 120, "delivered", "refund please", "120 days old, past the 90-day window for bronze members"),
        ("guest", 3, "in transit", "refund please", "guests wait for delivery"),
        ("gold", 400, "delivered", "refund me $500", "$500.00 is more than the $80.00 left to refund"),
    ],
)
def test_refund_policy_from_the_store_manual(
    db: SAEngine, store: DemoStoreServer, level: str, age: float, status: str, text: str, reason: str
) -> None:
    ticket_id = _ticket(db, text)
    _order(store, "ada@example.com", level=level, age_days=age, status=status)
    plan = _runner(store).preview(db, "refund", _context(db, ticket_id), actor="ann")
    assert not plan.check.ok and reason in plan.check.text("Refund")
    assert plan.check.rule.article.startswith("abcd/") and plan.request is None


def test_answer_lost_after_the_change_is_retried_with_the_same_key_and_applied_once(
    db: SAEngine, store: DemoStoreServer
) -> None:
    ticket_id = _ticket(db, "please refund $25")
    _order(store, "ada@example.com", level="gold", age_days=5, status="delivered")
    store.faults.lose_next_answer_seconds = 1.0
    result = _runner(store, timeout=0.3).execute(db, "refund", _context(db, ticket_id), actor="ann")
    assert len(_refunds(store)) == 1 and result.answer["amount"] == 25.0
    calls = _run(db, _audit(db, "action_executed")[0])["calls"]
    posts = [c for c in calls if c["path"] == "/refunds"]
    assert posts[0]["status"] is None and "did not answer" in posts[0]["error"] and posts[-1]["status"] == 200
    assert len({c["idempotency_key"] for c in posts}) == 1


def test_slow_store_leaves_the_ticket_with_an_agent_and_nothing_half_done(db: SAEngine, store: DemoStoreServer) -> None:
    ticket_id = _ticket(db, "please refund $25")
    _order(store, "ada@example.com", level="gold", age_days=5, status="delivered")
    assert _route(db, ticket_id, POLICY, _runner(store)).route == Route.AUTO_RESOLVE
    store.faults.slow_write_seconds = 0.8
    slow = _runner(store, timeout=0.2, retries=1)
    result = auto_resolve_ticket(db, ticket_id, policy=POLICY, runner=slow)
    assert not result.sent and "did not answer within 0.2 s" in result.note
    assert "Nothing was sent to the customer" in result.note and "running it again is safe" in result.note
    with Session(db) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.status == TicketStatus.OPEN and ticket.outcome == Outcome.FAILED
        assert "handed to an agent: Refund not done" in ticket.route_reason
        replies = session.exec(
            select(Message).where(Message.ticket_id == ticket_id, Message.direction == Direction.OUTBOUND)
        )
        assert list(replies) == []
    store.faults.slow_write_seconds = 0.0
    time.sleep(1.0)  # the slow requests reach the store late; the same key keeps them to one refund
    _runner(store).execute(db, "refund", _context(db, ticket_id), actor="ann")
    assert len(_refunds(store)) == 1


def test_garbage_answer_and_store_down_give_clear_notes(db: SAEngine, store: DemoStoreServer) -> None:
    ticket_id = _ticket(db, "please refund $25")
    store.faults.garbage = True
    with pytest.raises(ActionFailed, match="not JSON"):
        _runner(store).execute(db, "refund", _context(db, ticket_id), actor="ann")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = ActionRunner(StoreClient(f"http://127.0.0.1:{closed_port}", timeout=0.5, retries=1, backoff=0.01))
    decision = _route(db, ticket_id, POLICY, down)
    assert decision.route == Route.ASSIST and "could not be checked: the store at" in decision.reason
    assert _refunds(store) == [] and len(_audit(db, "action_failed")) == 1


def test_auto_resolved_order_status_gets_one_reply_that_says_what_was_done(
    db: SAEngine, store: DemoStoreServer
) -> None:
    ticket_id = _ticket(db, "Where is my order?", intent="track_order")
    order_id = _order(store, "ada@example.com", level="silver", age_days=1, status="order received")
    runner = _runner(store)
    decision = _route(db, ticket_id, POLICY, runner)
    assert decision.reason.endswith(
        "policy 'Order status' applies: order " + order_id + " belongs to the customer; "
        "status 'order received', placed 1 days ago"
    )
    result = auto_resolve_ticket(db, ticket_id, policy=POLICY, runner=runner)
    again = auto_resolve_ticket(db, ticket_id, policy=POLICY, runner=runner)
    assert result.sent and not again.sent
    assert result.reply.startswith("Hi Ada,") and f"Your order {order_id} is order received" in result.reply
    assert result.reply.endswith(OFFER_A_PERSON)
    with Session(db) as session:
        ticket = session.get(Ticket, ticket_id)
        assert (
            ticket is not None and ticket.status == TicketStatus.RESOLVED and ticket.outcome == Outcome.RESOLVED_BY_AI
        )
        sent = session.exec(
            select(Message).where(Message.ticket_id == ticket_id, Message.direction == Direction.OUTBOUND)
        )
        assert len(list(sent)) == 1


def test_double_click_from_two_threads_executes_one_refund(db: SAEngine, store: DemoStoreServer) -> None:
    ticket_id = _ticket(db, "please refund $10")
    _order(store, "ada@example.com", level="gold", age_days=5, status="delivered")
    store.faults.slow_seconds = 0.2
    runner = _runner(store)
    errors: list[Exception] = []

    def click() -> None:
        try:
            runner.execute(db, "refund", _context(db, ticket_id), actor="ann")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(_refunds(store)) == 1


def test_outcome_tags(db: SAEngine) -> None:
    ids = [_ticket(db, f"question {n}", intent="x", email=f"c{n}@example.com") for n in range(4)]
    with session_scope(db) as session:
        tickets = [session.get(Ticket, i) for i in ids]
        assert all(t is not None for t in tickets)
        assert record_outcome(session, tickets[0], "approve") == Outcome.RESOLVED_BY_AI  # type: ignore[arg-type]
        assert record_outcome(session, tickets[1], "edit") == Outcome.RESOLVED_WITH_EDIT  # type: ignore[arg-type]
        assert record_outcome(session, tickets[2], "reject") == Outcome.RESOLVED_BY_AGENT  # type: ignore[arg-type]
        assert record_outcome(session, tickets[2], "approve") == Outcome.RESOLVED_BY_AGENT  # type: ignore[arg-type]
        tickets[3].outcome = Outcome.FAILED  # type: ignore[union-attr]
        assert record_outcome(session, tickets[3], "approve") == Outcome.FAILED  # type: ignore[arg-type]
        assert record_outcome(session, tickets[0], "override_intent") == Outcome.RESOLVED_BY_AI  # type: ignore[arg-type]


def _draft(db: SAEngine, ticket_id: int, *, supported: bool) -> Draft:
    with session_scope(db) as session:
        draft = Draft(
            ticket_id=ticket_id,
            text="Opening hours are 9 to 5 on weekdays [1].",
            sentence_support=[{"sentence": "Opening hours are 9 to 5 on weekdays [1].", "supported": supported}],
        )
        session.add(draft)
        session.flush()
        return draft


def test_a_reply_only_ticket_waits_for_its_draft_and_sends_only_a_supported_one(db: SAEngine) -> None:
    policy = RoutingPolicy(auto_intents=("opening_hours",))
    good, bad = (_ticket(db, "When are you open?", intent="opening_hours", email=f"{n}@example.com") for n in "ab")
    with session_scope(db) as session:
        decisions = route_tickets(session, [good, bad], policy=policy)
    assert decisions[good].reason.endswith("reply only (no store action)")
    assert auto_resolve_ticket(db, good, policy=policy, runner=None).waiting_for_draft
    supported, unsupported = _draft(db, good, supported=True), _draft(db, bad, supported=False)
    sent = auto_resolve_ticket(db, good, policy=policy, runner=None, draft=supported)
    kept = auto_resolve_ticket(db, bad, policy=policy, runner=None, draft=unsupported)
    assert sent.sent and "Opening hours are 9 to 5 on weekdays [1]." in sent.reply
    assert not kept.sent and "no safe answer to send automatically" in kept.note
    with Session(db) as session:
        ticket = session.get(Ticket, bad)
        assert ticket is not None and ticket.route == Route.ASSIST and ticket.outcome is None


def test_a_refund_above_the_approval_limit_is_never_done_by_the_ai_alone(db: SAEngine, store: DemoStoreServer) -> None:
    ticket_id = _ticket(db, "The jacket was faulty, please refund $60.")
    _order(store, "ada@example.com", level="gold", age_days=5, status="delivered")
    strict = replace(POLICY, refund_approval_limit=50.0)
    decision = _route(db, ticket_id, strict, _runner(store))
    assert decision.route == Route.ASSIST and "above the $50.00 limit, a supervisor approves it" in decision.reason
    decision = _route(db, ticket_id, POLICY, _runner(store))
    assert decision.route == Route.AUTO_RESOLVE  # $60 is within the default limit
    assert _refunds(store) == []  # routing only dry-runs


def test_agents_need_approval_for_large_refunds_and_account_changes_only(db: SAEngine, store: DemoStoreServer) -> None:
    ticket_id = _ticket(db, "Please refund $30, and where is my order?")
    _order(store, "ada@example.com", level="gold", age_days=5, status="delivered")
    client = store_client(store)
    context = _context(db, ticket_id)
    refund, reset, status = action_named("refund"), action_named("password_reset"), action_named("order_status")
    small = refund.plan(client, context)
    large = refund.plan(client, _context(db, ticket_id, amount="75"))
    assert (refund.needs_approval(small, 50.0), refund.needs_approval(large, 50.0)) == (False, True)
    assert reset.needs_approval(reset.plan(client, context), 50.0)
    assert not status.needs_approval(status.plan(client, context), 50.0)
