"""Every page and API route against every role (agent, supervisor, admin, signed out): 0 reachable by a wrong role."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from nicegui import app
from nicegui.testing import User
from sqlmodel import col, select
from starlette.routing import Mount

from engine.accounts import DEMO_ACCOUNTS
from engine.ingest.attachments import save_attachment
from engine.store.audit_models import AuditEntry
from engine.store.models import Ticket
from tests.ui.conftest import _has, sign_in, wait_for_async
from ui.state import engine

RANK = {None: 0, "agent": 1, "supervisor": 2, "admin": 3}
PUBLIC = None  # open to anyone: the route checks something else (a survey token, a webhook signature) or is sign-in
# path -> the lowest role that may reach it
ROUTES: dict[str, str | None] = {
    "/": "agent",
    "/ticket/{ticket_id}": "agent",
    "/knowledge": "agent",
    "/inbox": "agent",
    "/dashboard": "supervisor",
    "/report": "supervisor",
    "/settings": "supervisor",
    "/admin": "admin",
    "/attachments/{attachment_id}": "agent",
    "/docs": "agent",
    "/openapi.json": "agent",
    "/login": PUBLIC,
    "/logout": PUBLIC,
    "/survey/{token}": PUBLIC,
    "/survey/{token}/person": PUBLIC,  # the survey token decides
    "/api/v1/health": PUBLIC,  # counts and states for monitoring, never error texts
    "/api/v1/messages": PUBLIC,  # refused without a valid signature (tests/engine/test_ingest_webhook.py)
}
# controls inside a page that need more than the page itself: (path, marker) -> lowest role
CONTROLS: dict[tuple[str, str], str] = {
    ("/settings", "gguf-path"): "admin",
    ("/settings", "intent-versions"): "admin",
    ("/settings", "routing-settings"): "supervisor",
    ("/settings", "webhook-source"): "admin",
    ("/knowledge", "kb-folder"): "admin",
    ("/knowledge", "kb-upload"): "agent",
}
INTERNAL = ("/_nicegui", "/assets", "/docs-assets", "/favicon.ico")


def _paths(routes: list[Any]) -> set[str]:
    paths: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI includes routers lazily
        if included is not None:
            paths |= _paths(included.routes)
        elif not isinstance(route, Mount) and getattr(route, "path", ""):
            paths.add(route.path)
    return paths


def _app_paths() -> set[str]:
    return {path for path in _paths(app.routes) if not path.startswith(INTERNAL)}


async def _sign_in_as(user: User, role: str | None) -> None:
    if role is None:
        return
    if role != "admin":
        await sign_in(user, role, f"{role}-demo")
        return
    secret = next(a.totp_secret for a in DEMO_ACCOUNTS if a.username == "admin")
    assert secret is not None
    await user.open("/login")
    user.find(marker="username").type("admin")
    user.find(marker="password").type("admin-demo")
    user.find(marker="sign-in").click()
    await wait_for_async(lambda: _has(user, "totp-code"), 60, "the code field")
    user.find(marker="totp-code").elements.pop().set_value(pyotp.TOTP(secret).now())
    user.find(marker="sign-in").click()
    await wait_for_async(lambda: _has(user, "signed-in-user"), 60, "sign-in")


def _attachment_id() -> int:
    with engine().transaction() as session:
        ticket_id = session.exec(select(Ticket.id).order_by(col(Ticket.id))).first()
        assert ticket_id is not None
        attachment = save_attachment(
            session,
            engine().settings,
            ticket_id=ticket_id,
            message_id=None,
            filename="invoice.txt",
            content_type="text/plain",
            data=b"invoice 1",
        )
        assert attachment.id is not None
        return attachment.id


async def _page_reached(user: User, path: str) -> bool:
    await user.open(path)
    return not _has(user, "not-allowed") and not _has(user, "sign-in")


def test_every_route_has_a_declared_role(user: User) -> None:
    assert _app_paths() == set(ROUTES), "a route was added or removed: declare who may reach it in ROUTES"


@pytest.mark.parametrize("role", [None, "agent", "supervisor", "admin"])
async def test_no_route_is_reachable_by_a_role_that_should_not_reach_it(user: User, role: str | None) -> None:
    await _sign_in_as(user, role)
    await wait_for_async(lambda: engine().ready, what="the models")
    with engine().session() as session:
        ticket_id = session.exec(select(Ticket.id).order_by(col(Ticket.id))).first()
    attachment_id = _attachment_id()
    wrong, missing = [], []
    for path, lowest in ROUTES.items():
        if lowest is PUBLIC:
            continue
        allowed = RANK[role] >= RANK[lowest]
        concrete = path.format(ticket_id=ticket_id, attachment_id=attachment_id)
        if path.startswith("/attachments/"):
            response = await user.http_client.get(concrete)
            reached = response.status_code == 200 and response.content == b"invoice 1"
        elif path in ("/docs", "/openapi.json"):
            response = await user.http_client.get(concrete)
            reached = response.status_code == 200 and (
                "/api/v1/messages" in response.text or "swagger" in response.text
            )
        else:
            reached = await _page_reached(user, concrete)
        if reached and not allowed:
            wrong.append(path)
        if allowed and not reached:
            missing.append(path)
    for (path, marker), lowest in CONTROLS.items():
        if RANK[role] < RANK[ROUTES[path]]:
            continue
        await user.open(path)
        shown = _has(user, marker)
        if shown and RANK[role] < RANK[lowest]:
            wrong.append(f"{path}#{marker}")
        if not shown and RANK[role] >= RANK[lowest]:
            missing.append(f"{path}#{marker}")
    assert wrong == [], f"reachable by {role or 'signed out'}"
    assert missing == [], f"refused to {role or 'signed out'}"
    if role is not None:  # the raw download is audited like "Show original"
        with engine().session() as session:
            rows = session.exec(select(AuditEntry).where(AuditEntry.action == "download_attachment")).all()
        assert [(r.actor, r.details) for r in rows] == [(role, {"attachment": attachment_id})]
