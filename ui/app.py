"""Start the NiceGUI app: build the engine, register the pages, serve on loopback."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException
from fastapi.responses import Response
from nicegui import app, ui

from engine.accounts import (
    Permission,
    can,
    check_bind_address,
    session_cookie_secret,
)
from engine.app import api_routers, build_engine
from engine.config import REPO_ROOT, Settings
from engine.desk import download_original
from engine.health import engine_health
from engine.ingest.demo_source import with_demo_source
from engine.ingest.uploads import remove_leftover_uploads
from engine.privacy.log_redaction import install_log_redaction
from engine.runtime import Engine
from ui import auth
from ui.api_docs import register_api_docs
from ui.auth import current_user
from ui.guard import guarded
from ui.pages import admin, dashboard, inbox_tools, knowledge, login, queue, report, ticket
from ui.pages import settings as settings_page
from ui.state import engine, set_engine

log = logging.getLogger(__name__)

PUBLIC_PATHS = (*auth.OPEN_PATHS, "/survey/", "/api/")


def register(settings: Settings) -> Engine:
    """Build the engine and register every page and the API; models load in the background after start-up."""
    engine = build_engine(with_demo_source(settings))
    set_engine(engine)
    remove_leftover_uploads(settings)
    if settings.demo:
        engine.accounts.ensure_demo_accounts()
    app.add_static_files("/assets", str(REPO_ROOT / "assets"))
    app.add_middleware(auth.AuthMiddleware, open_paths=PUBLIC_PATHS)
    for router in api_routers(engine):
        app.include_router(router)
    courier, jobs = engine.courier, engine.jobs
    assert courier is not None and jobs is not None  # build_engine made them
    for start in (engine.start, courier.start, jobs.start):
        app.on_startup(start)
    app.on_shutdown(lambda: courier.stop())  # a handler with an argument would be given the app
    app.on_shutdown(jobs.stop)
    app.on_shutdown(lambda: engine.stop())
    ui.page("/login")(login.login_page)
    ui.page("/logout")(auth.logout_page)
    pages = (
        ("/", Permission.WORK_TICKETS, queue.queue_page),
        ("/ticket/{ticket_id}", Permission.WORK_TICKETS, ticket.ticket_page),
        ("/knowledge", Permission.WORK_TICKETS, knowledge.knowledge_page),
        ("/inbox", Permission.WORK_TICKETS, inbox_tools.dead_letters_page),
        ("/dashboard", Permission.VIEW_DASHBOARD, dashboard.dashboard_page),
        ("/report", Permission.VIEW_DASHBOARD, report.report_page),
        ("/settings", Permission.EDIT_THRESHOLDS, settings_page.settings_page),
        ("/admin", Permission.MANAGE_USERS, admin.admin_page),
    )
    for path, permission, page in pages:
        ui.page(path)(guarded(permission, page))
    app.add_api_route("/attachments/{attachment_id}", download_attachment, methods=["GET"])
    app.add_api_route("/api/v1/health", health, methods=["GET"], tags=["health"], summary="The desk's health")
    register_api_docs()
    return engine


def health() -> dict[str, Any]:
    """Each component's state, the worker (alive, restarts), each stage's failure count and the backlog; "status" is
    ok, degraded or down. Open without a session for monitoring: it carries counts, never error texts."""
    return engine_health(engine())


def download_attachment(attachment_id: int) -> Response:
    """The original file, decrypted, always as a download so an HTML or SVG attachment never runs in the browser.

    Like "Show original", it is for staff who work tickets and every download is audited."""
    user = current_user()
    if not can(user, Permission.WORK_TICKETS):
        raise HTTPException(status_code=403, detail="not allowed")
    assert user is not None
    found = download_original(engine(), attachment_id, agent=user.username)
    if found is None:
        raise HTTPException(status_code=404, detail="no such attachment")
    data, filename = found
    disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
    return Response(data, media_type="application/octet-stream", headers={"Content-Disposition": disposition})


def run_app(settings: Settings) -> None:
    """Serve CareDesk at http://{host}:{port}."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    engine = register(settings)
    check_bind_address(
        settings.host,
        engine.accounts.has_accounts(),
        demo_accounts=engine.accounts.published_password_accounts(),
        port=settings.port,
    )
    ui.run(
        host=settings.host,
        port=settings.port,
        title="CareDesk",
        reload=False,
        show=False,
        favicon="🎧",
        storage_secret=session_cookie_secret(settings.data_dir),
    )
