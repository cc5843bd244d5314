"""The two opt-outs: set through the webhook API and on the ticket, audited, and obeyed by drafting and auto-resolve."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from engine.desk import approve_or_edit, draft_now, set_customer_consent
from engine.ingest.webhook import build_router
from engine.knowledge.reply_memory import ReplyMemory
from engine.privacy.opt_outs import AiOptedOut
from engine.runtime import Engine
from engine.store.audit_models import AuditEntry
from engine.store.models import Customer, Draft, Route, Ticket
from tests.engine.ingest.test_webhook import make_engine, payload, post
from tests.waiting import wait_for


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(tmp_path / "data")


def client_for(engine: Engine) -> TestClient:
    app = FastAPI()
    app.include_router(build_router(engine))
    return TestClient(app)


def customer_of(engine: Engine, ticket_id: int) -> Customer:
    with engine.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        customer = session.get(Customer, ticket.customer_id)
        assert customer is not None
        return customer


def consent_audit(engine: Engine) -> list[AuditEntry]:
    with engine.session() as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == "consent_changed")))


def send(client: TestClient, external_id: str, handle: str, **fields: Any) -> int:
    response = post(client, payload(external_id, customer_handle=handle, conversation_id=external_id, **fields))
    assert response.status_code == 202, response.text
    return int(response.json()["ticket_id"])


def test_the_webhook_api_takes_both_opt_outs_and_audits_each_change(engine: Engine) -> None:
    client = client_for(engine)
    ticket_id = send(client, "m-1", "@amelia", consent={"ai_handling": False, "earlier_tickets": False})
    customer = customer_of(engine, ticket_id)
    assert (customer.ai_opt_in, customer.ai_drafts_opt_out) == (False, True)
    rows = consent_audit(engine)
    assert [(r.actor, r.subject, r.details["choice"], r.details["allowed"]) for r in rows] == [
        ("webhook:chatwidget", f"customer:{customer.id}", "ai_handling", False),
        ("webhook:chatwidget", f"customer:{customer.id}", "earlier_tickets", False),
    ]
    send(client, "m-2", "@amelia", consent={"ai_handling": False})  # no change: nothing new in the audit log
    send(client, "m-3", "@amelia")  # no consent field: the choices stay
    assert len(consent_audit(engine)) == 2 and not customer_of(engine, ticket_id).ai_opt_in
    send(client, "m-4", "@amelia", consent={"ai_handling": True})
    assert customer_of(engine, ticket_id).ai_opt_in and len(consent_audit(engine)) == 3
    refused = post(client, payload("m-5", customer_handle="@amelia", consent={"ai_handling": "maybe"}))
    assert refused.status_code == 422 and "consent" in refused.text, "a bad value is refused, kept as a dead letter"


def test_the_default_for_new_customers_is_a_setting(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data", ai_opt_in_default=False)
    ticket_id = send(client_for(engine), "m-1", "@bo")
    assert not customer_of(engine, ticket_id).ai_opt_in
    assert consent_audit(engine) == [], "a default is no change by anyone"


def ticket_has(engine: Engine, ticket_id: int, field: str) -> bool:
    with engine.session() as session:
        ticket = session.get(Ticket, ticket_id)
        return ticket is not None and getattr(ticket, field) is not None


def drafted(engine: Engine, ticket_id: int) -> bool:
    return ticket_has(engine, ticket_id, "drafted_at")


def routed(engine: Engine, ticket_id: int) -> bool:
    return ticket_has(engine, ticket_id, "route")


@pytest.fixture
def running(engine: Engine) -> Iterator[TestClient]:
    """The engine with its worker and fake models running, and a webhook client."""
    engine.start()
    try:
        wait_for(lambda: engine.ready, 120, "the fake models to load")
        yield client_for(engine)
    finally:
        engine.stop()


def test_the_drafter_skips_a_customer_who_opted_out_of_ai_handling_until_they_opt_in(
    engine: Engine, running: TestClient
) -> None:
    client = running

    opted_out = send(client, "m-1", "@amelia", consent={"ai_handling": False}, text="Where is my parcel?")
    other = send(client, "m-2", "@bo", text="Where is my parcel?")
    wait_for(lambda: drafted(engine, other), 60, "the other customer's draft")
    wait_for(lambda: routed(engine, opted_out), 60, "routing")
    with engine.session() as session:
        ticket = session.get(Ticket, opted_out)
        assert ticket is not None and ticket.drafted_at is None and ticket.route != Route.AUTO_RESOLVE
        assert session.exec(select(Draft).where(Draft.ticket_id == opted_out)).first() is None
    with pytest.raises(AiOptedOut, match="opted out of AI handling"):
        draft_now(engine, opted_out)
    set_customer_consent(engine, opted_out, ai_handling=True, earlier_tickets=None, agent="sam")
    engine.notify()
    wait_for(lambda: drafted(engine, opted_out), 60, "a draft once the customer opted back in")
    (row,) = consent_audit(engine)[-1:]
    assert (row.actor, row.details["via"], row.details["allowed"]) == ("sam", f"ticket {opted_out}", True)


def test_tickets_of_a_customer_who_opted_out_of_earlier_tickets_never_feed_drafts(
    engine: Engine, running: TestClient
) -> None:
    client = running

    private = send(client, "m-1", "@amelia", text="How do I change my address?")
    shared = send(client, "m-2", "@bo", text="How do I change my address?")
    for ticket_id in (private, shared):
        wait_for(lambda t=ticket_id: routed(engine, t), 60, "routing")
        approve_or_edit(engine, ticket_id, None, "Open Settings, then Address, and save.", agent="sam")
    memory = ReplyMemory(engine.services.similar)  # type: ignore[union-attr,arg-type]
    with engine.session() as session:
        assert memory.entry(session, private) is not None and memory.entry(session, shared) is not None
    set_customer_consent(engine, private, ai_handling=None, earlier_tickets=False, agent="sam")
    with engine.session() as session:
        assert memory.entry(session, private) is None, "left out of the reply memory"
        assert memory.entry(session, shared) is not None
    newcomer = send(client, "m-3", "@cy", text="How do I change my address?")
    wait_for(lambda: drafted(engine, newcomer), 60, "the newcomer's draft")
    with engine.session() as session:
        draft = session.exec(select(Draft).where(Draft.ticket_id == newcomer)).one()
    assert draft.based_on != private, "the opted-out customer's reply is never the basis of a draft"
