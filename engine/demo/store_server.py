"""The demo store served by uvicorn on loopback: its HTTP API, OAuth token endpoint, faults for tests, one per database.

Every route but /health and /oauth/token needs a bearer token of its one scope (`accounts:read` for account
lookups, `refunds:write` for refunds, ...), fetched with the client credentials grant.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.engine import Engine as SAEngine

from engine.config import Settings
from engine.demo.shop import STORE_FILE, Rejected, StoreData
from engine.demo.store_auth import Unauthorized
from engine.settings_file import save_override

log = logging.getLogger(__name__)

START_SECONDS = 10.0
DEMO_CLIENT_ID = "caredesk-desk"


@dataclass
class Faults:
    """Test misbehaviour: delays before requests (all, or writes only), an answer lost after one change, garbage."""

    slow_seconds: float = 0.0
    slow_write_seconds: float = 0.0
    lose_next_answer_seconds: float = 0.0
    garbage: bool = False


def build_app(data: StoreData, faults: Faults) -> FastAPI:
    """The store's HTTP API."""
    app = FastAPI(title="CareDesk demo store")

    @app.middleware("http")
    async def misbehave(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        writes = request.method == "POST" and request.url.path != "/oauth/token"
        delay = faults.slow_seconds + (faults.slow_write_seconds if writes else 0.0)
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

    def scoped(scope: str) -> Any:
        """A route dependency: the call needs a valid bearer token of `scope` (401 without one, 403 for another)."""

        def check(authorization: str | None = Header(None)) -> None:
            try:
                data.authorize(authorization, scope)
            except Unauthorized as exc:
                challenge = f'Bearer error="{exc.error}", scope="{scope}"'
                raise HTTPException(exc.status, str(exc), headers={"WWW-Authenticate": challenge}) from None

        return [Depends(check)]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        client_id, secret = _client(request.headers.get("authorization"), form)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is offered")
        try:
            grant = data.grant(client_id, secret, form.get("scope", ""))
        except Unauthorized as exc:
            return _oauth_error(exc.status, exc.error, str(exc))
        body = {"access_token": grant.access_token, "token_type": "Bearer", "expires_in": grant.expires_in}
        return JSONResponse({**body, "scope": grant.scope}, headers={"Cache-Control": "no-store"})

    @app.get("/accounts", dependencies=scoped("accounts:read"))
    def account(email: str) -> Any:
        return read(lambda: data.account_by_email(email))

    @app.get("/accounts/{account_id}/orders", dependencies=scoped("orders:read"))
    def orders(account_id: str) -> Any:
        return read(lambda: data.orders_of(account_id))

    @app.get("/accounts/{account_id}/subscription", dependencies=scoped("subscriptions:read"))
    def subscription(account_id: str) -> Any:
        return read(lambda: data.subscription(account_id))

    @app.get("/orders/{order_id}", dependencies=scoped("orders:read"))
    def order(order_id: str) -> Any:
        return read(lambda: data.order(order_id))

    @app.post("/refunds", dependencies=scoped("refunds:write"))
    def refund(body: dict[str, Any], idempotency_key: str | None = Header(None)) -> JSONResponse:
        return write(idempotency_key, "/refunds", lambda: data.refund(body))

    @app.post("/accounts/{account_id}/password-reset", dependencies=scoped("accounts:write"))
    def password_reset(account_id: str, idempotency_key: str | None = Header(None)) -> JSONResponse:
        return write(idempotency_key, f"/accounts/{account_id}/password-reset", lambda: data.password_reset(account_id))

    @app.post("/subscriptions/{account_id}/{mode}", dependencies=scoped("subscriptions:write"))
    def change_subscription(
        account_id: str, mode: str, body: dict[str, Any], idempotency_key: str | None = Header(None)
    ) -> JSONResponse:
        if mode not in ("cancel", "pause"):
            raise HTTPException(404, f"no subscription change '{mode}'")
        path = f"/subscriptions/{account_id}/{mode}"
        return write(idempotency_key, path, lambda: data.change_subscription(account_id, mode, body))

    @app.post("/orders/{order_id}/shipping-address", dependencies=scoped("orders:write"))
    def change_address(order_id: str, body: dict[str, Any], idempotency_key: str | None = Header(None)) -> JSONResponse:
        return write(
            idempotency_key, f"/orders/{order_id}/shipping-address", lambda: data.change_address(order_id, body)
        )

    return app


def _client(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    """The client id and secret of a token request: HTTP Basic (RFC 6749 2.3.1), else the form's fields."""
    kind, _, encoded = (authorization or "").partition(" ")
    if kind.lower() == "basic" and encoded:
        try:
            client_id, _, secret = base64.b64decode(encoded).decode("utf-8").partition(":")
        except ValueError:
            return "", ""
        return unquote_plus(client_id), unquote_plus(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def _oauth_error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers={"Cache-Control": "no-store"})


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
        """Stop serving, wait for the thread and close the store's file."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)
        self.data.close()


_running: dict[str, DemoStoreServer] = {}
_start_lock = threading.Lock()


def start_demo_store(db: SAEngine, path: Path, client: tuple[str, str] = ("", "")) -> str:
    """Start the demo store for this database's customers on loopback (once per database), its state kept in the
    SQLite file `path` and `client` (id, secret) registered as an OAuth client with every scope; its base URL."""
    with _start_lock:
        for url, server in _running.items():
            if server.data.db is db:
                return url
        server = DemoStoreServer(StoreData(db, path))
        if client[0]:
            server.data.register_client(*client)
        url = server.start()
        _running[url] = server
        return url


def accept_client(db: SAEngine, client_id: str, secret: str) -> bool:
    """Register new client credentials with the demo store of this database, if one runs in this process."""
    with _start_lock:
        for server in _running.values():
            if server.data.db is db:
                server.data.register_client(client_id, secret)
                return True
    return False


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
    """The store the actions call: the `store_api_url` setting, else the in-process demo store (which accepts the
    desk's client credentials)."""
    configured = settings.store_api_url.strip()
    client = (settings.store_client_id, settings.store_client_secret)
    return configured or start_demo_store(db, settings.data_dir / STORE_FILE, client)


def with_demo_store_client(settings: Settings) -> Settings:
    """With the demo store and no client credentials yet: generate them once and keep them with the other secrets."""
    if settings.store_api_url.strip() or settings.store_client_id:
        return settings
    settings = save_override(settings, "store_client_id", DEMO_CLIENT_ID)
    return save_override(settings, "store_client_secret", secrets.token_urlsafe(32))
