"""The composition root: build_engine(settings) wires store, models, knowledge and the background worker."""

from __future__ import annotations

import gc
import logging
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.config import DEMO_DATA_DIR, Settings
from engine.demo.history import enrich_demo_history
from engine.demo.seed import seed_demo_queue
from engine.kpi_filter import ensure_kpi_indexes
from engine.privacy.crypto import Cipher, load_keys, set_cipher
from engine.privacy.redaction_context import configure as configure_redaction
from engine.settings_store import apply_overrides
from engine.store.db import make_db, session_scope
from engine.store.migrate import upgrade_schema
from engine.store.models import utcnow

if TYPE_CHECKING:
    from engine.drafting.drafter import Drafter
    from engine.knowledge.knowledge_base import KnowledgeBase
    from engine.knowledge.similar_tickets import SimilarTickets
    from engine.nlp.embedder import Embedder
    from engine.nlp.intent import IntentClassifier
    from engine.nlp.sentiment import SentimentScorer

log = logging.getLogger(__name__)


class State(StrEnum):
    WAITING = "waiting"
    LOADING = "loading"
    READY = "ready"
    ERROR = "error"


@dataclass
class ComponentStatus:
    """What the UI shows about one model or index: its state and a sentence for a person."""

    label: str
    state: State = State.WAITING
    detail: str = ""
    progress: float = 0.0


@dataclass
class Engine:
    """Everything the UI talks to; heavy parts load in a background thread after `start()`."""

    settings: Settings
    db: SAEngine
    status: dict[str, ComponentStatus] = field(default_factory=dict)
    schema_notes: list[str] = field(default_factory=list)
    services: Services | None = None
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    revision: int = 0

    def session(self) -> Session:
        """A plain session (caller commits); prefer `transaction()` for writes."""
        return Session(self.db, expire_on_commit=False)

    def transaction(self) -> AbstractContextManager[Session]:
        """A session that commits on success."""
        return session_scope(self.db)

    @property
    def ready(self) -> bool:
        """True once every component has loaded (or failed with a message)."""
        return self.services is not None and self.services.booted

    def start(self) -> None:
        """Load models and indexes in the background, then triage and draft waiting tickets."""
        if self._thread is None:
            from engine.worker import run_worker

            self._thread = threading.Thread(target=run_worker, args=(self,), name="caredesk-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background worker."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.services is not None:
            self.services.embedder.close()
        gc.unfreeze()  # objects frozen after boot are collected again, in order, before the interpreter exits

    def notify(self) -> None:
        """Wake the worker: new tickets arrived."""
        self._wake.set()

    def changed(self) -> None:
        """Bump the revision that pages poll to know tickets were triaged, drafted or answered."""
        self.revision += 1

    def set_status(self, key: str, state: State, detail: str = "", progress: float | None = None) -> None:
        component = self.status[key]
        component.state = state
        component.detail = detail
        if progress is not None:
            component.progress = progress
        log.log(logging.WARNING if state == State.ERROR else logging.INFO, "%s: %s %s", key, state, detail)


@dataclass
class Services:
    """The loaded heavy parts (set by the worker once each has loaded)."""

    embedder: Embedder
    kb: KnowledgeBase | None = None
    similar: SimilarTickets | None = None
    intent: IntentClassifier | None = None
    intent_version: str = ""
    sentiment: SentimentScorer | None = None
    drafter: Drafter | None = None
    booted: bool = False
    vectors: dict[int, np.ndarray] = field(default_factory=dict)


COMPONENTS = {
    "embeddings": "Embeddings",
    "knowledge": "Knowledge index",
    "intent": "Intent model",
    "sentiment": "Sentiment",
    "drafter": "Local Llama",
}


def build_engine(settings: Settings) -> Engine:
    """Open (and upgrade) the database and prepare the engine; nothing heavy loads here."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = apply_overrides(settings)
    configure_redaction(phone_region=settings.phone_region, keep_names=settings.kept_names)
    set_cipher(Cipher(load_keys(settings.data_dir)))
    db = make_db(settings.db_url)
    notes = upgrade_schema(db)
    engine = Engine(settings=settings, db=db, schema_notes=notes)
    engine.status = {key: ComponentStatus(label) for key, label in COMPONENTS.items()}
    ensure_kpi_indexes(db)
    if settings.demo:
        with session_scope(db) as session:
            if seed_demo_queue(session, DEMO_DATA_DIR, count=settings.demo_ticket_count):
                enrich_demo_history(session, now=utcnow())
    return engine
