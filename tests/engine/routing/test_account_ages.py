"""Risk reads the account's age from the store's account record (demo store on loopback), or says it is unknown."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, select

from engine.demo import DemoStoreServer
from engine.ingest.intake import InboundMessage, intake
from engine.routing.account_ages import AccountAges
from engine.routing.actions.client import StoreClient
from engine.routing.policy import RoutingPolicy
from engine.routing.router import ROUTE_AUDIT, gather_store_facts, route_tickets
from engine.store.audit_models import AuditEntry
from engine.store.db import session_scope
from engine.store.models import Ticket, TriageResult, utcnow
from tests.engine.routing.test_actions import store_client


def _triaged(db: SAEngine, *, email: str | None, handle: str | None = None) -> int:
    """A triaged ticket from a customer who first wrote to the desk just now."""
    with session_scope(db) as session:
        result = intake(
            session,
            InboundMessage(
                channel="email" if email else "chat",
                customer_name="Ada Lovelace",
                customer_email=email,
                customer_handle=handle,
                text="Where is my parcel?",
            ),
        )
        ticket = session.get(Ticket, result.ticket_id)
        assert ticket is not None
        ticket.intent, ticket.intent_confidence, ticket.valence, ticket.urgency = "track_order", 0.97, 0.0, 0.0
        ticket.triaged_at = utcnow()
        session.add(
            TriageResult(
                ticket_id=result.ticket_id,
                message_id=result.message_id,
                intent="track_order",
                confidence=0.97,
                alternatives=[{"label": "track_order", "p": 0.97}],
            )
        )
        return result.ticket_id


def _account_age_factor(db: SAEngine, ticket_id: int) -> dict[str, object]:
    with Session(db) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == ROUTE_AUDIT)).all()[-1]
    assert entry.subject == f"ticket:{ticket_id}"
    return next(f for f in entry.details["factors"] if f["key"] == "account_age")


def test_a_new_desk_customer_with_an_old_store_account_is_not_scored_as_new(
    db: SAEngine, store: DemoStoreServer
) -> None:
    ticket_id = _triaged(db, email="ada@example.com")
    ages = AccountAges(store_client(store, timeout=2.0, retries=0))
    facts = gather_store_facts(db, [ticket_id], policy=RoutingPolicy(), account_opened=ages.opened)
    with session_scope(db) as session:
        route_tickets(session, [ticket_id], policy=RoutingPolicy(), facts=facts)
    account = store_client(store).get("/accounts", params={"email": "ada@example.com"}, scope="accounts:read")
    days = (datetime.now(UTC) - datetime.fromisoformat(account["created_at"])).days
    assert days >= 20  # the demo store's accounts are 20 to 1500 days old; the desk met Ada a moment ago
    factor = _account_age_factor(db, ticket_id)
    assert factor["value"] == f"{days} days"
    expected = round(0.10 * max(0.0, 1 - days / 30), 4)
    assert abs(float(factor["contribution"]) - expected) < 0.0051


def test_without_a_store_account_the_age_is_unknown_and_adds_nothing(db: SAEngine, store: DemoStoreServer) -> None:
    ticket_id = _triaged(db, email=None, handle="@ada")  # a chat customer the store cannot look up
    ages = AccountAges(store_client(store, timeout=2.0, retries=0))
    facts = gather_store_facts(db, [ticket_id], policy=RoutingPolicy(), account_opened=ages.opened)
    with session_scope(db) as session:
        route_tickets(session, [ticket_id], policy=RoutingPolicy(), facts=facts)
    factor = _account_age_factor(db, ticket_id)
    assert (factor["value"], factor["contribution"]) == ("unknown", 0.0)
    assert ages.opened("nobody@example.com") is None  # the store has no account for this e-mail (404)


def test_a_store_that_is_down_leaves_the_age_unknown_without_waiting_on_every_ticket() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    ages = AccountAges(StoreClient(f"http://127.0.0.1:{port}", timeout=1.0, retries=0), retry_after=60)
    assert ages.opened("ada@example.com") is None
    started = time.perf_counter()
    assert [ages.opened(f"c{i}@example.com") for i in range(50)] == [None] * 50
    assert time.perf_counter() - started < 0.1  # paused: no connection attempt per ticket
