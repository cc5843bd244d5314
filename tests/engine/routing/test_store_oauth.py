"""OAuth 2.0 client credentials at the store: short-lived tokens of one scope, calls refused without the right one,
and the desk's client fetching, keeping and renewing its tokens (on expiry and on a 401)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine as SAEngine

from engine.admin import save_store_client
from engine.app import build_engine
from engine.config import Settings
from engine.demo import DemoStoreServer, StoreData
from engine.ingest.intake import InboundMessage, intake
from engine.routing.actions.client import Call, Credentials, StoreClient, StoreRefused
from engine.store.db import session_scope
from tests.waiting import wait_for


@pytest.fixture
def store(db: SAEngine, tmp_path: Path) -> Iterator[DemoStoreServer]:
    with session_scope(db) as session:
        intake(
            session, InboundMessage(channel="email", customer_name="Ada", customer_email="ada@example.com", text="hi")
        )
    server = DemoStoreServer(StoreData(db, tmp_path / "store.sqlite3"))
    server.data.register_client("desk", "desk-secret-4821")
    server.start()
    yield server
    server.stop()


def _token(url: str, scope: str, secret: str = "desk-secret-4821") -> httpx.Response:
    form = {"grant_type": "client_credentials", "scope": scope}
    return httpx.post(f"{url}/oauth/token", data=form, auth=("desk", secret))


def test_the_store_refuses_calls_without_a_token_of_the_right_scope(store: DemoStoreServer) -> None:
    lookup = f"{store.url}/accounts?email=ada@example.com"
    assert httpx.get(lookup).status_code == 401
    assert httpx.get(lookup, headers={"Authorization": "Bearer forged.token"}).status_code == 401
    assert _token(store.url, "accounts:read", secret="wrong").json()["error"] == "invalid_client"
    assert _token(store.url, "admin:everything").json()["error"] == "invalid_scope"
    orders = _token(store.url, "orders:read").json()
    assert orders["token_type"] == "Bearer" and orders["expires_in"] == 300 and orders["scope"] == "orders:read"
    wrong = httpx.get(lookup, headers={"Authorization": f"Bearer {orders['access_token']}"})
    assert wrong.status_code == 403 and "needs the scope accounts:read" in wrong.json()["detail"]
    right = _token(store.url, "accounts:read").json()["access_token"]
    assert httpx.get(lookup, headers={"Authorization": f"Bearer {right}"}).json()["email"] == "ada@example.com"
    refund = httpx.post(f"{store.url}/refunds", json={}, headers={"Authorization": f"Bearer {right}"})
    assert refund.status_code == 403  # a read token cannot refund


def test_the_client_keeps_a_token_per_scope_and_renews_it_before_it_expires(store: DemoStoreServer) -> None:
    store.data.token_seconds = 3  # tokens live three seconds
    calls: list[Call] = []
    client = StoreClient(store.url, credentials=lambda: Credentials("desk", "desk-secret-4821"), on_call=calls.append)
    client.get("/accounts", params={"email": "ada@example.com"}, scope="accounts:read")
    client.get("/accounts", params={"email": "ada@example.com"}, scope="accounts:read")
    assert [c.path for c in calls] == ["/oauth/token", "/accounts", "/accounts"]  # one token for both calls

    def renewed() -> bool:
        client.get("/accounts", params={"email": "ada@example.com"}, scope="accounts:read")
        return sum(c.path == "/oauth/token" for c in calls) >= 2

    wait_for(renewed, timeout=10, what="a new token before the first one expired")
    assert all(c.status in (200, 401) for c in calls)  # each call answered (a late one may meet the expiry: 401)


def test_a_token_the_store_no_longer_accepts_is_replaced_after_one_401(
    store: DemoStoreServer, db: SAEngine, tmp_path: Path
) -> None:
    calls: list[Call] = []
    client = StoreClient(store.url, credentials=lambda: Credentials("desk", "desk-secret-4821"), on_call=calls.append)
    client.get("/accounts", params={"email": "ada@example.com"}, scope="accounts:read")
    store.data._signing_key = b"a new key after the store was rebuilt"  # every token issued so far is now invalid
    assert client.get("/accounts", params={"email": "ada@example.com"}, scope="accounts:read")["account_id"]
    assert sum(c.path == "/oauth/token" for c in calls) == 2


def test_the_desk_gets_its_own_client_at_the_demo_store_and_an_admin_can_change_it(settings: Settings) -> None:
    engine = build_engine(replace(settings, demo=False))
    first = engine.settings.store_client_secret
    assert engine.settings.store_client_id and len(first) >= 32  # generated on first start, kept with the keys
    assert first not in (settings.data_dir / "settings.json").read_text()
    with engine.transaction() as session:
        ticket_id = intake(
            session, InboundMessage(channel="email", customer_name="Ada", customer_email="ada@example.com", text="hi")
        ).ticket_id
    plan = engine.routing.preview(ticket_id, "order_status", {}, actor="ann")  # type: ignore[attr-defined]
    assert plan.facts["order_id"].startswith("ORD-")
    assert save_store_client(engine, "", "a-new-secret-of-the-desk-0042", actor="admin") == ["store_client_secret"]
    assert engine.routing.preview(ticket_id, "order_status", {}, actor="ann").check.ok  # type: ignore[attr-defined]
    engine.settings = replace(engine.settings, store_client_secret="not-the-secret")  # e.g. set in caredesk.toml
    with pytest.raises(StoreRefused, match="refused the desk's client credentials"):
        engine.routing.preview(ticket_id, "order_status", {}, actor="ann")  # type: ignore[attr-defined]
