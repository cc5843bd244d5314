"""The running engine: settings, database sessions, component status, loaded models and change notifications."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.config import Settings
from engine.store.db import session_scope

if TYPE_CHECKING:  # the types of the models the engine holds; none of them imports this module
    from engine.accounts import Accounts
    from engine.drafting import Drafter
    from engine.jobs import Jobs
    from engine.knowledge.knowledge_base import KnowledgeBase
    from engine.knowledge.similar_tickets import SimilarTickets
    from engine.kpi import Kpis
    from engine.nlp.embedder import Embedder
    from engine.nlp.intent import IntentClassifier
    from engine.nlp.sentiment import SentimentScorer
    from engine.supervisor import Supervisor

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


COMPONENTS = {
    "embeddings": "Embeddings",
    "knowledge": "Knowledge index",
    "intent": "Intent model",
    "sentiment": "Sentiment",
    "drafter": "Local Llama",
}


def waiting_components() -> dict[str, ComponentStatus]:
    """The status of every component before the worker starts loading."""
    return {key: ComponentStatus(label) for key, label in COMPONENTS.items()}


class Background(Protocol):
    """The background worker as the engine sees it: started once, woken by new work, stopped at shutdown."""

    def start(self) -> None: ...

    def wake(self) -> None: ...

    def stop(self, timeout: float) -> None: ...

    @property
    def alive(self) -> bool: ...


class Outbox(Protocol):
    """The outbox's delivery thread as the engine holds it (`engine.outbox.Courier`, built by build_engine)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


class Router(Protocol):
    """What the worker asks of the routing service (`engine.routing.service.RoutingService`, built by build_engine)."""

    def gather(self, ticket_ids: list[int], intents: Mapping[int, str] | None = None) -> Any: ...

    def route(self, session: Session, ticket_ids: list[int], facts: Any) -> Mapping[int, Any]: ...

    def reconcile(self, similar: Any = None) -> Mapping[int, str]: ...

    def auto_resolve(
        self,
        ticket_id: int,
        *,
        draft: Any = None,
        vector: np.ndarray | None = None,
        similar: Any = None,
    ) -> Any: ...

    def learn_intents(self, settings: Settings, intents: Sequence[str]) -> None: ...


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


@dataclass
class Engine:
    """Everything the UI talks to; heavy parts load in the background worker after `start()`."""

    settings: Settings
    db: SAEngine
    routing: Router  # the RoutingService; the screens use the rest of it
    accounts: Accounts
    kpi: Kpis
    status: dict[str, ComponentStatus] = field(default_factory=lambda: waiting_components())
    schema_notes: list[str] = field(default_factory=list)
    services: Services | None = None
    worker: Background | None = None
    supervisor: Supervisor | None = None  # the background stages' failures, "needs attention", degraded
    courier: Outbox | None = None  # delivers queued replies; the app starts and stops it
    jobs: Jobs | None = None  # retrain, drift and IMAP jobs; the app starts and stops them
    revision: int = 0
    sla_breached: int = 0  # open tickets that missed an SLA due (engine.sla_watch keeps it; the header shows it)

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
        if self.worker is not None:
            self.worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background worker and the models it loaded."""
        if self.worker is not None:
            self.worker.stop(timeout)  # closes the models it loaded
        elif self.services is not None:
            self.services.embedder.close()

    def notify(self) -> None:
        """Wake the worker: new tickets arrived."""
        if self.worker is not None:
            self.worker.wake()

    def changed(self) -> None:
        """Bump the revision that pages poll to know tickets were triaged, drafted or answered."""
        self.revision += 1

    def set_status(self, key: str, state: State, detail: str = "", progress: float | None = None) -> None:
        """Record a component's state and a sentence about it (logged; shown in the UI)."""
        component = self.status[key]
        component.state = state
        component.detail = detail
        if progress is not None:
            component.progress = progress
        log.log(logging.WARNING if state == State.ERROR else logging.INFO, "%s: %s %s", key, state, detail)
