"""The desk the faults bench kills: the engine with its worker and outbox, the webhook API and /api/v1/health, in
one process (`python -m engine.bench.faults_desk ...`), with two injected failures:

- a poisoned message: triage raises for any batch whose text holds the poison word (the supervised worker must
  set exactly those tickets aside);
- a full disk: during `--disk-full` seconds of every `--disk-period`, inserts from request threads fail the way
  SQLite reports it ("database or disk is full"), so the webhook must refuse and lose nothing.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import Engine as SAEngine

from engine import worker
from engine.app import build_engine
from engine.config import Settings
from engine.health import engine_health
from engine.ingest.webhook import build_router
from engine.outbox import Courier
from engine.triage import Scored, TriageBatch, TriageModels, score_batch

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0  # the supervisor's first retry of a failing ticket (30 s in the app): quarantine in seconds
BACKGROUND = "caredesk"  # the desk's own threads' name prefix: the disk fills for request threads only


class Poisoned(RuntimeError):
    """Triage of a poisoned message."""


def poison_triage(word: str) -> None:
    """Make triage raise for any batch holding `word` (the worker scores through engine.worker.score_batch)."""

    def scored(batch: TriageBatch, models: TriageModels) -> Scored:
        if any(word in text for text in batch.ticket_texts):
            raise Poisoned("this message makes triage raise")
        return score_batch(batch, models)

    worker.score_batch = scored


def fill_disk(db: SAEngine, *, full_seconds: float, period: float) -> None:
    """Inserts from request threads fail with SQLite's 'database or disk is full' during part of every period."""

    def check(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("INSERT"):
            return
        if threading.current_thread().name.startswith(BACKGROUND) or time.time() % period >= full_seconds:
            return
        raise sqlite3.OperationalError("database or disk is full")

    event.listen(db, "before_cursor_execute", check)


def serve(settings: Settings, *, port: int, poison: str, full_seconds: float, period: float) -> None:
    """Run the desk until killed."""
    poison_triage(poison)
    engine = build_engine(settings)
    assert engine.supervisor is not None
    engine.supervisor.retry_seconds = RETRY_SECONDS
    if full_seconds > 0:
        fill_disk(engine.db, full_seconds=full_seconds, period=period)
    app = FastAPI()
    app.include_router(build_router(engine))
    app.add_api_route("/api/v1/health", lambda: engine_health(engine), methods=["GET"])
    engine.start()
    Courier(engine.db, lambda: engine.settings, changed=engine.changed).start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--callback", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--client", nargs=2, required=True)
    parser.add_argument("--poison", required=True)
    parser.add_argument("--disk-full", type=float, default=0.0)
    parser.add_argument("--disk-period", type=float, default=15.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="desk %(levelname)s %(name)s: %(message)s")
    settings = Settings.load(
        data_dir=args.data_dir,
        model_backend="fake",
        demo=False,
        webhook_secrets={args.source: args.secret},
        webhook_callbacks={args.source: args.callback},
        outbox={"backoff_seconds": 0.2, "backoff_max_seconds": 2.0, "max_attempts": 50, "poll_seconds": 0.1},
        store_api_url=args.store,
        store_timeout_seconds=1.0,
        store_client_id=args.client[0],
        store_client_secret=args.client[1],
    )
    serve(settings, port=args.port, poison=args.poison, full_seconds=args.disk_full, period=args.disk_period)


if __name__ == "__main__":
    main()
