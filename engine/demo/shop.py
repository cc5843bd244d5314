"""A small demo store (accounts, orders, subscriptions, payments) served on loopback, seeded from the desk's customers.

The desk talks to it over HTTP exactly as it would to a team's CRM / payment API: set settings extra
`store_api_url` to use a real one instead (it must offer the same endpoints, see `build_app`). A customer's account
is created the first time the store is asked about their e-mail, from the customer row in the desk's database
(deterministic per customer id), so demo and imported customers all have one.

Every POST needs an `Idempotency-Key` header: the first request with a key is applied and its answer kept; a
repeat of the key on the same path gets the kept answer and changes nothing. `Faults` lets tests make the store
slow, lose an answer after applying a change, or answer garbage.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, select

from engine.config import Settings
from engine.store.models import Customer

log = logging.getLogger(__name__)

LEVELS = ("gold", "silver", "bronze", "guest")
LEVEL_WEIGHTS = (0.15, 0.25, 0.3, 0.3)
ITEMS = ("jeans", "boots", "shirt", "jacket", "sweater")
STREETS = ("Oak Street", "Florshim Drive", "Harbour Road", "Linden Avenue", "Mill Lane", "Station Road")
CITIES = ("San Carlos, CA 91207", "Leeds LS1 4AP", "Austin, TX 73301", "Dublin D02 X285", "Toronto, ON M5H 2N2")
RESET_MINUTES = 30
START_SECONDS = 10.0


class Rejected(Exception):
    """A request the store refuses (HTTP 404 / 422 with this message)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass
class Faults:
    """Test misbehaviour: delays before requests (all, or writes only), an answer lost after one change, garbage."""

    slow_seconds: float = 0.0
    slow_write_seconds: float = 0.0
    lose_next_answer_seconds: float = 0.0
    garbage: bool = False


class StoreData:
    """The store's state in memory; accounts appear on first lookup from the desk's customer rows."""

    def __init__(self, db: SAEngine | None, *, now: datetime | None = None) -> None:
        self.db = db
        self.now = now or datetime.now(UTC)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.by_email: dict[str, str] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.payments: list[dict[str, Any]] = []
        self.kept: dict[str, tuple[str, int, Any]] = {}  # idempotency key -> (path, status, answer)
        self.lock = threading.RLock()

    def account_by_email(self, email: str) -> dict[str, Any]:
        with self.lock:
            key = email.strip().lower()
            if key not in self.by_email:
                customer = self._customer(key)
                if customer is None:
                    raise Rejected(404, f"no account with e-mail {email}")
                self._open_account(customer)
            return self.accounts[self.by_email[key]]

    def _customer(self, email: str) -> Customer | None:
        if self.db is None:
            return None
        with Session(self.db) as session:
            return session.exec(select(Customer).where(Customer.email == email)).first()

    def _open_account(self, customer: Customer) -> None:
        """A deterministic account, orders and subscription for one desk customer."""
        assert customer.id is not None and customer.email is not None
        rng, now = random.Random(customer.id), self.now
        account_id = f"ACC-{customer.id:05d}"
        level = "gold" if customer.vip else rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
        address = f"{rng.randint(1, 999)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"
        self.accounts[account_id] = {
            "account_id": account_id,
            "name": customer.name,
            "email": customer.email.lower(),
            "membership": level,
            "created_at": (now - timedelta(days=rng.randint(20, 1500))).isoformat(),
            "address": address,
        }
        self.by_email[customer.email.lower()] = account_id
        for n in range(rng.randint(1, 3)):
            age = rng.uniform(0.2, 12) if n == 0 else rng.uniform(15, 200)
            order_id = f"ORD-{1000 + customer.id * 10 + n}"
            placed = now - timedelta(days=age)
            self.orders[order_id] = {
                "order_id": order_id,
                "account_id": account_id,
                "item": rng.choice(ITEMS),
                "placed_at": placed.isoformat(),
                "status": _status(age, late=rng.random() < 0.1),
                "eta": (placed + timedelta(days=6)).date().isoformat(),
                "total": round(rng.uniform(15, 240), 2),
                "refunded": 0.0,
                "shipping_address": address,
            }
        status = rng.choices(("active", "paused", "cancelled"), (0.7, 0.1, 0.2))[0]
        self.subscriptions[account_id] = {
            "account_id": account_id,
            "plan": "premium",
            "status": status,
            "renews_at": (now + timedelta(days=rng.randint(1, 30))).date().isoformat(),
        }

    def orders_of(self, account_id: str) -> list[dict[str, Any]]:
        with self.lock:
            self._account(account_id)
            return [o for o in self.orders.values() if o["account_id"] == account_id]

    def order(self, order_id: str) -> dict[str, Any]:
        with self.lock:
            if order_id not in self.orders:
                raise Rejected(404, f"no order {order_id}")
            return self.orders[order_id]

    def subscription(self, account_id: str) -> dict[str, Any]:
        with self.lock:
            self._account(account_id)
            return self.subscriptions[account_id]

    def _account(self, account_id: str) -> dict[str, Any]:
        if account_id not in self.accounts:
            raise Rejected(404, f"no account {account_id}")
        return self.accounts[account_id]

    def refund(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self.order(str(body.get("order_id")))
        amount = _money(body.get("amount"))
        left = round(order["total"] - order["refunded"], 2)
        if not 0 < amount <= left:
            raise Rejected(422, f"refund of {amount:.2f} is not within 0..{left:.2f} for order {order['order_id']}")
        order["refunded"] = round(order["refunded"] + amount, 2)
        refund = {"refund_id": f"RF-{uuid.uuid4().hex[:8]}", "order_id": order["order_id"], "amount": amount}
        self.payments.append({**refund, "kind": "refund", "at": datetime.now(UTC).isoformat()})
        return {**refund, "status": "issued"}

    def password_reset(self, account_id: str) -> dict[str, Any]:
        account = self._account(account_id)
        user, _, domain = str(account["email"]).partition("@")
        masked = f"{user[:1]}***@{domain}"
        return {"reset_id": f"PR-{uuid.uuid4().hex[:8]}", "sent_to": masked, "expires_minutes": RESET_MINUTES}

    def change_subscription(self, account_id: str, mode: str, body: dict[str, Any]) -> dict[str, Any]:
        self._account(account_id)
        current = self.subscriptions[account_id]
        if current["status"] == "cancelled":
            raise Rejected(422, "the subscription is already cancelled")
        if mode == "pause":
            months = int(body.get("months", 1))
            current.update(status="paused", paused_until=(self.now + timedelta(days=30 * months)).date().isoformat())
        else:
            current.update(status="cancelled")
        return {**current, "change_id": f"SC-{uuid.uuid4().hex[:8]}"}

    def change_address(self, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
        order = self.order(order_id)
        address = str(body.get("address", "")).strip()
        if not address:
            raise Rejected(422, "address is required")
        if order["status"] != "order received":
            raise Rejected(422, f"order {order_id} has already shipped ({order['status']})")
        order["shipping_address"] = address
        return order

    def once(self, key: str | None, path: str, apply: Callable[[], dict[str, Any]]) -> tuple[int, Any]:
        """Apply a change once per idempotency key; a repeat gets the first answer."""
        if not key:
            return 400, {"detail": "an Idempotency-Key header is required"}
        with self.lock:
            if key in self.kept:
                kept_path, status, answer = self.kept[key]
                return (status, answer) if kept_path == path else (422, {"detail": "idempotency key reused elsewhere"})
            try:
                status, answer = 200, apply()
            except Rejected as exc:
                status, answer = exc.status, {"detail": str(exc)}
            self.kept[key] = (path, status, answer)
            return status, answer


def _status(age_days: float, *, late: bool) -> str:
    if age_days < 2:
        return "order received"
    if age_days < 6 or late:
        return "in transit"
    return "out for delivery" if age_days < 7 else "delivered"


def _money(value: Any) -> float:
    try:
        return round(float(value), 2)
    except (TypeError, ValueError):
        raise Rejected(422, f"amount {value!r} is not a number") from None


def build_app(data: StoreData, faults: Faults) -> FastAPI:
    """The store's HTTP API."""
    app = FastAPI(title="CareDesk demo store")

    @app.middleware("http")
    async def misbehave(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        delay = faults.slow_seconds + (faults.slow_write_seconds if request.method == "POST" else 0.0)
        if delay:
            await asyncio.sleep(delay)
        if faults.garbage:
            return PlainTextResponse(
                "<html><body>Service temporarily unavailable</body></html>", media_type="text/html"
            )
        return await call_next(request)

    def read(fetch: Callable[[], Any]) -> Any:
        try:
            return fetch()
        except Rejected as exc:
            raise HTTPException(exc.status, str(exc)) from None

    def write(key: str | None, path: str, apply: Callable[[], dict[str, Any]]) -> JSONResponse:
        status, answer = data.once(key, path, apply)
        lose = faults.lose_next_answer_seconds
        if lose and status == 200:
            faults.lose_next_answer_seconds = 0.0
            time.sleep(lose)
        return JSONResponse(answer, status_code=status)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/accounts")
    def account(email: str) -> Any:
        return read(lambda: data.account_by_email(email))

    @app.get("/accounts/{account_id}/orders")
    def orders(account_id: str) -> Any:
        return read(lambda: data.orders_of(account_id))

    @app.get("/accounts/{account_id}/subscription")
    def subscription(account_id: str) -> Any:
        return read(lambda: data.subscription(account_id))

    @app.get("/orders/{order_id}")
    def order(order_id: str) -> Any:
        return read(lambda: data.order(order_id))

    @app.post("/refunds")
    def refund(body: dict[str, Any], idempotency_key: str | None = Header(None)) -> JSONResponse:
        return write(idempotency_key, "/refunds", lambda: data.refund(body))

    @app.post("/accounts/{account_id}/password-reset")
    def password_reset(account_id: str, idempotency_key: str | None = Header(None)) -> JSONResponse:
        return write(idempotency_key, f"/accounts/{account_id}/password-reset", lambda: data.password_reset(account_id))

    @app.post("/subscriptions/{account_id}/{mode}")
    def change_subscription(
        account_id: str, mode: str, body: dict[str, Any], idempotency_key: str | None = Header(None)
    ) -> JSONResponse:
        if mode not in ("cancel", "pause"):
            raise HTTPException(404, f"no subscription change '{mode}'")
        path = f"/subscriptions/{account_id}/{mode}"
        return write(idempotency_key, path, lambda: data.change_subscription(account_id, mode, body))

    @app.post("/orders/{order_id}/shipping-address")
    def change_address(order_id: str, body: dict[str, Any], idempotency_key: str | None = Header(None)) -> JSONResponse:
        return write(
            idempotency_key, f"/orders/{order_id}/shipping-address", lambda: data.change_address(order_id, body)
        )

    return app


class DemoStoreServer:
    """The demo store served by uvicorn in a daemon thread on a free loopback port."""

    def __init__(self, data: StoreData, *, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.data = data
        self.faults = Faults()
        self.host = host
        self._server = uvicorn.Server(
            uvicorn.Config(build_app(data, self.faults), log_level="warning", lifespan="off", access_log=False)
        )
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        """Serve on a free port; returns the base URL once the server accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="demo-store", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the demo store did not start")
            time.sleep(0.02)
        self.url = f"http://{self.host}:{port}"
        log.info("demo store serving on %s", self.url)
        return self.url

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)


_running: dict[str, DemoStoreServer] = {}
_start_lock = threading.Lock()


def start_demo_store(db: SAEngine) -> str:
    """Start the demo store for this database's customers on loopback (once per database); returns its base URL."""
    with _start_lock:
        for url, server in _running.items():
            if server.data.db is db:
                return url
        server = DemoStoreServer(StoreData(db))
        url = server.start()
        _running[url] = server
        return url


def running_store(url: str) -> DemoStoreServer | None:
    """The in-process demo store serving `url`, if any (tests use it to inject faults)."""
    return _running.get(url)


def stop_demo_stores() -> None:
    """Stop every demo store this process started."""
    with _start_lock:
        for server in _running.values():
            server.stop()
        _running.clear()


def store_url(settings: Settings, db: SAEngine) -> str:
    """The store the actions call: settings extra `store_api_url`, else the in-process demo store."""
    configured = str(settings.extra.get("store_api_url") or "").strip()
    return configured or start_demo_store(db)
