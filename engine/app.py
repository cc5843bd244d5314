"""The composition root: build_engine(settings) wires settings, store, routing, the worker, the courier and the jobs."""

from __future__ import annotations

from fastapi import APIRouter

from engine.accounts import Accounts
from engine.config import DEMO_DATA_DIR, Settings
from engine.demo import enrich_demo_history, seed_demo_queue, store_url, with_demo_store_client
from engine.desk_jobs import desk_jobs
from engine.ingest.webhook import build_router
from engine.kpi import Kpis, ensure_kpi_indexes
from engine.outbox import Courier
from engine.privacy.crypto import Cipher, load_keys, set_cipher
from engine.privacy.redaction_context import configure as configure_redaction
from engine.routing.actions.client import Credentials, StoreClient
from engine.routing.policy import load_policy
from engine.routing.service import RoutingService
from engine.runtime import Engine
from engine.settings_file import apply_overrides
from engine.store.db import make_db, session_scope
from engine.store.migrate import upgrade_schema
from engine.store.models import utcnow
from engine.supervisor import Supervisor
from engine.surveys import build_survey_router, with_links
from engine.worker import Worker


def build_engine(settings: Settings) -> Engine:
    """Open (and upgrade) the database and prepare the engine; nothing heavy loads here."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = apply_overrides(settings)
    configure_redaction(phone_region=settings.phone_region, keep_names=settings.kept_names)
    set_cipher(Cipher(load_keys(settings.data_dir)))
    settings = with_demo_store_client(settings)
    db = make_db(settings.db_url)
    notes = upgrade_schema(db)
    routing = RoutingService(
        load_policy(settings),
        db=db,
        data_dir=settings.data_dir,
        connect=lambda: StoreClient(
            store_url(engine.settings, db),
            timeout=settings.store_timeout_seconds,
            credentials=lambda: Credentials(engine.settings.store_client_id, engine.settings.store_client_secret),
        ),
        settings=lambda: engine.settings,
    )
    engine = Engine(settings=settings, db=db, routing=routing, accounts=Accounts(db), kpi=Kpis(db), schema_notes=notes)
    engine.supervisor = Supervisor(db)
    engine.worker = Worker(engine, engine.supervisor)
    engine.courier = Courier(db, lambda: engine.settings, changed=engine.changed, links=with_links)
    engine.jobs = desk_jobs(engine)
    ensure_kpi_indexes(db)
    if settings.demo:
        with session_scope(db) as session:
            if seed_demo_queue(session, DEMO_DATA_DIR, count=settings.demo_ticket_count):
                enrich_demo_history(session, now=utcnow())
    return engine


def api_routers(engine: Engine) -> list[APIRouter]:
    """The HTTP APIs the app serves: the webhook intake and the public survey form."""
    return [build_router(engine), build_survey_router(engine.db, lambda: engine.settings)]
