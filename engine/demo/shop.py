"""The demo store's data (accounts, orders, subscriptions, payments), seeded from the desk's customers.

It is served over HTTP on loopback by engine.demo.store_server, exactly as a team's CRM / payment API would be (set
`store_api_url` to use a real one instead; it must offer the same endpoints). A customer's account
is created the first time the store is asked about their e-mail, from the customer row in the desk's database
(deterministic per customer id), so demo and imported customers all have one. Its state (accounts, orders, refunds
done, the answers kept per idempotency key) lives in its own SQLite file in the data dir: a restart forgets nothing.

Every POST needs an `Idempotency-Key` header: the first request with a key is applied and its answer kept; a
repeat of the key on the same path gets the kept answer and changes nothing. Calls need a bearer token of the
route's scope, granted to registered OAuth clients (engine.demo.store_auth). `Faults` lets tests make the store
slow, lose an answer after applying a change, or answer garbage.
"""

from __future__ import annotations

import hmac
import json
import logging
import random
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, select

from engine.demo.store_auth import SCOPES, TOKEN_SECONDS, Grant, Unauthorized, authorize, issue, secret_hash
from engine.store.models import Customer

log = logging.getLogger(__name__)

LEVELS = ("gold", "silver", "bronze", "guest")
LEVEL_WEIGHTS = (0.15, 0.25, 0.3, 0.3)
ITEMS = ("jeans", "boots", "shirt", "jacket", "sweater")
STREETS = ("Oak Street", "Florshim Drive", "Harbour Road", "Linden Avenue", "Mill Lane", "Station Road")
CITIES = ("San Carlos, CA 91207", "Leeds LS1 4AP", "Austin, TX 73301", "Dublin D02 X285", "Toronto, ON M5H 2N2")
RESET_MINUTES = 30
STORE_FILE = "demo_store.sqlite3"  # in the desk's data dir
SCHEMA = """
CREATE TABLE IF NOT EXISTS account (account_id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_account ON orders (account_id);
CREATE TABLE IF NOT EXISTS subscription (account_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS payment (id INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kept (
    key TEXT PRIMARY KEY, path TEXT NOT NULL, status INTEGER NOT NULL, answer TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS client (client_id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, scopes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Rejected(Exception):
    """A request the store refuses (HTTP 404 / 422 with this message)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class StoreData:
    """The store's state in its own SQLite file: accounts (opened on first lookup from the desk's customer rows),
    orders, subscriptions, payments and the answers kept per idempotency key, so a restart forgets nothing."""

    def __init__(
        self, db: SAEngine | None, path: Path, *, now: datetime | None = None, token_seconds: int = TOKEN_SECONDS
    ) -> None:
        self.db = db
        self.path = path
        self.now = now or datetime.now(UTC)
        self.token_seconds = token_seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)
        self.lock = threading.RLock()
        with self._write() as conn:  # the key the store signs its tokens with, made once
            conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('signing_key', ?)", (secrets.token_hex(32),))
            self._signing_key = bytes.fromhex(
                conn.execute("SELECT value FROM meta WHERE name = 'signing_key'").fetchone()[0]
            )

    def register_client(self, client_id: str, secret: str, scopes: tuple[str, ...] = SCOPES) -> None:
        """Let an OAuth client fetch tokens for these scopes (a known client id gets the new secret)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO client (client_id, secret_hash, scopes) VALUES (?, ?, ?)",
                (client_id, secret_hash(secret), " ".join(scopes)),
            )

    def grant(self, client_id: str, secret: str, scope: str) -> Grant:
        """A short-lived token for one scope (client credentials grant); Unauthorized for a bad client or scope."""
        with self.lock:
            row = self._conn.execute(
                "SELECT secret_hash, scopes FROM client WHERE client_id = ?", (client_id,)
            ).fetchone()
        if row is None or not hmac.compare_digest(row[0], secret_hash(secret)):
            raise Unauthorized(401, "invalid_client", "unknown client or wrong client secret")
        if scope not in row[1].split():
            raise Unauthorized(400, "invalid_scope", f"this client may not ask for the scope {scope!r}")
        return issue(self._signing_key, client_id, scope, seconds=self.token_seconds)

    def authorize(self, authorization: str | None, scope: str) -> str:
        """The client calling with this Authorization header, if its token is valid for `scope` (else Unauthorized)."""
        return authorize(self._signing_key, authorization, scope)

    def close(self) -> None:
        """Close the store's database file."""
        with self.lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction of the store (all or nothing), under the store's lock."""
        with self.lock:
            if self._conn.in_transaction:  # a step of a larger change: that one commits
                yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _doc(self, query: str, *args: Any) -> dict[str, Any] | None:
        row = self._conn.execute(query, args).fetchone()
        return dict(json.loads(row[0])) if row is not None else None

    def put_account(self, account: dict[str, Any]) -> None:
        """Save an account (its e-mail is its lookup key)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO account (account_id, email, doc) VALUES (?, ?, ?)",
                (account["account_id"], str(account["email"]).lower(), json.dumps(account)),
            )

    def put_order(self, order: dict[str, Any]) -> None:
        """Save an order."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO orders (order_id, account_id, doc) VALUES (?, ?, ?)",
                (order["order_id"], order["account_id"], json.dumps(order)),
            )

    def account_by_email(self, email: str) -> dict[str, Any]:
        with self.lock:
            key = email.strip().lower()
            found = self._doc("SELECT doc FROM account WHERE email = ?", key)
            if found is not None:
                return found
            customer = self._customer(key)
            if customer is None:
                raise Rejected(404, f"no account with e-mail {email}")
            return self._open_account(customer)

    def _customer(self, email: str) -> Customer | None:
        if self.db is None:
            return None
        with Session(self.db) as session:
            return session.exec(select(Customer).where(Customer.email == email)).first()

    def _open_account(self, customer: Customer) -> dict[str, Any]:
        """A deterministic account, orders and subscription for one desk customer, saved at once."""
        assert customer.id is not None and customer.email is not None
        rng, now = random.Random(customer.id), self.now
        account_id = f"ACC-{customer.id:05d}"
        level = "gold" if customer.vip else rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
        address = f"{rng.randint(1, 999)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"
        account = {
            "account_id": account_id,
            "name": customer.name,
            "email": customer.email.lower(),
            "membership": level,
            "created_at": (now - timedelta(days=rng.randint(20, 1500))).isoformat(),
            "address": address,
        }
        orders = []
        for n in range(rng.randint(1, 3)):
            age = rng.uniform(0.2, 12) if n == 0 else rng.uniform(15, 200)
            placed = now - timedelta(days=age)
            orders.append(
                {
                    "order_id": f"ORD-{1000 + customer.id * 10 + n}",
                    "account_id": account_id,
                    "item": rng.choice(ITEMS),
                    "placed_at": placed.isoformat(),
                    "status": _status(age, late=rng.random() < 0.1),
                    "eta": (placed + timedelta(days=6)).date().isoformat(),
                    "total": round(rng.uniform(15, 240), 2),
                    "refunded": 0.0,
                    "shipping_address": address,
                }
            )
        status = rng.choices(("active", "paused", "cancelled"), (0.7, 0.1, 0.2))[0]
        subscription = {
            "account_id": account_id,
            "plan": "premium",
            "status": status,
            "renews_at": (now + timedelta(days=rng.randint(1, 30))).date().isoformat(),
        }
        with self._write():
            self.put_account(account)
            for order in orders:
                self.put_order(order)
            self._put_subscription(subscription)
        return account

    def _put_subscription(self, subscription: dict[str, Any]) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO subscription (account_id, doc) VALUES (?, ?)",
                (subscription["account_id"], json.dumps(subscription)),
            )

    def orders_of(self, account_id: str) -> list[dict[str, Any]]:
        with self.lock:
            self._account(account_id)
            rows = self._conn.execute("SELECT doc FROM orders WHERE account_id = ? ORDER BY order_id", (account_id,))
            return [json.loads(doc) for (doc,) in rows]

    def order(self, order_id: str) -> dict[str, Any]:
        with self.lock:
            found = self._doc("SELECT doc FROM orders WHERE order_id = ?", order_id)
            if found is None:
                raise Rejected(404, f"no order {order_id}")
            return found

    def subscription(self, account_id: str) -> dict[str, Any]:
        with self.lock:
            self._account(account_id)
            found = self._doc("SELECT doc FROM subscription WHERE account_id = ?", account_id)
            assert found is not None
            return found

    def payments(self) -> list[dict[str, Any]]:
        """Every payment the store made (refunds), oldest first."""
        with self.lock:
            return [json.loads(doc) for (doc,) in self._conn.execute("SELECT doc FROM payment ORDER BY id")]

    def _account(self, account_id: str) -> dict[str, Any]:
        found = self._doc("SELECT doc FROM account WHERE account_id = ?", account_id)
        if found is None:
            raise Rejected(404, f"no account {account_id}")
        return found

    def refund(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self.order(str(body.get("order_id")))
        amount = _money(body.get("amount"))
        left = round(order["total"] - order["refunded"], 2)
        if not 0 < amount <= left:
            raise Rejected(422, f"refund of {amount:.2f} is not within 0..{left:.2f} for order {order['order_id']}")
        order["refunded"] = round(order["refunded"] + amount, 2)
        refund = {"refund_id": f"RF-{uuid.uuid4().hex[:8]}", "order_id": order["order_id"], "amount": amount}
        with self._write() as conn:
            self.put_order(order)
            payment = {**refund, "kind": "refund", "at": datetime.now(UTC).isoformat()}
            conn.execute("INSERT INTO payment (doc) VALUES (?)", (json.dumps(payment),))
        return {**refund, "status": "issued"}

    def password_reset(self, account_id: str) -> dict[str, Any]:
        account = self._account(account_id)
        user, _, domain = str(account["email"]).partition("@")
        masked = f"{user[:1]}***@{domain}"
        return {"reset_id": f"PR-{uuid.uuid4().hex[:8]}", "sent_to": masked, "expires_minutes": RESET_MINUTES}

    def change_subscription(self, account_id: str, mode: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self.subscription(account_id)
        if current["status"] == "cancelled":
            raise Rejected(422, "the subscription is already cancelled")
        if mode == "pause":
            months = int(body.get("months", 1))
            current.update(status="paused", paused_until=(self.now + timedelta(days=30 * months)).date().isoformat())
        else:
            current.update(status="cancelled")
        self._put_subscription(current)
        return {**current, "change_id": f"SC-{uuid.uuid4().hex[:8]}"}

    def change_address(self, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
        order = self.order(order_id)
        address = str(body.get("address", "")).strip()
        if not address:
            raise Rejected(422, "address is required")
        if order["status"] != "order received":
            raise Rejected(422, f"order {order_id} has already shipped ({order['status']})")
        order["shipping_address"] = address
        self.put_order(order)
        return order

    def once(self, key: str | None, path: str, apply: Callable[[], dict[str, Any]]) -> tuple[int, Any]:
        """Apply a change once per idempotency key, in one transaction with the kept answer; a repeat gets the
        first answer."""
        if not key:
            return 400, {"detail": "an Idempotency-Key header is required"}
        with self._write() as conn:
            kept = conn.execute("SELECT path, status, answer FROM kept WHERE key = ?", (key,)).fetchone()
            if kept is not None:
                kept_path, status, answer = kept
                if kept_path != path:
                    return 422, {"detail": "idempotency key reused elsewhere"}
                return int(status), json.loads(answer)
            try:
                status, answer = 200, apply()
            except Rejected as exc:
                status, answer = exc.status, {"detail": str(exc)}
            conn.execute(
                "INSERT INTO kept (key, path, status, answer) VALUES (?, ?, ?, ?)",
                (key, path, status, json.dumps(answer)),
            )
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
