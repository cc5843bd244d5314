"""Start the NiceGUI app: build the engine, register the pages, serve on loopback."""

from __future__ import annotations

import logging

from nicegui import app, ui

from engine.app import build_engine
from engine.config import REPO_ROOT, Settings
from ui.pages import dashboard, inbox_tools, knowledge, queue, report, survey, ticket
from ui.pages import settings as settings_page
from ui.state import set_engine

log = logging.getLogger(__name__)


def register(settings: Settings) -> None:
    """Build the engine and register every page; models load in the background after start-up."""
    engine = build_engine(settings)
    set_engine(engine)
    app.add_static_files("/assets", str(REPO_ROOT / "assets"))
    app.on_startup(engine.start)
    app.on_shutdown(engine.stop)
    ui.page("/")(queue.queue_page)
    ui.page("/ticket/{ticket_id}")(ticket.ticket_page)
    ui.page("/settings")(settings_page.settings_page)
    ui.page("/knowledge")(knowledge.knowledge_page)
    ui.page("/dashboard")(dashboard.dashboard_page)
    ui.page("/report")(report.report_page)
    ui.page("/survey/{token}")(survey.survey_page)
    ui.page("/inbox")(inbox_tools.dead_letters_page)


def run_app(settings: Settings) -> None:
    """Serve CareDesk at http://{host}:{port}."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    register(settings)
    ui.run(
        host=settings.host,
        port=settings.port,
        title="CareDesk",
        reload=False,
        show=False,
        favicon="🎧",
        storage_secret=None,
    )
