"""The background worker: load every model without blocking the UI, then triage and draft as tickets arrive.

It is supervised (engine.supervisor): a failing stage is counted and the desk shows "degraded"; a batch that fails
triage is split and its tickets tried one at a time, so one poisoned message fails alone; a ticket that fails a
stage waits with backoff and after 3 tries is set aside as "needs attention" while the others flow on; a loop that
dies is started again, and a watchdog restarts a dead thread.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.assist import draft_with, triage_models
from engine.components import load_drafter, load_embedder, load_knowledge, load_sentiment
from engine.config import DEMO_DATA_DIR, Settings
from engine.feedback.retrain import split_confirmed, training_rows
from engine.feedback.training_data import confirmed_rows, demo_training_rows
from engine.nlp.embedder import Embedder
from engine.nlp.intent import UNKNOWN, IntentClassifier, IntentModelRegistry, train_and_activate
from engine.nlp.labeled_csv import read_labeled_csv
from engine.runtime import Engine, Services, State
from engine.store.models import Customer, Route, Ticket, TicketStatus
from engine.supervisor import StageFailure, Supervisor, in_stage
from engine.triage import Scored, TriageBatch, TriageModels, pending_ticket_ids, read_batch, score_batch, store_batch

log = logging.getLogger(__name__)

TRIAGE_BATCH = 128
TRIAGE_GATHER_SECONDS = 0.25  # after a partial batch, wait this long so the next one embeds more texts at once
DRAFT_AFTER_QUIET_SECONDS = 2.0  # drafting (seconds of CPU each) waits until no message was triaged this long
IDLE_SECONDS = 5.0
WATCH_SECONDS = 2.0  # how often the watchdog checks that the worker thread is alive
TRIAGE_STAGES = ("triage", "routing", "actions")
Progress = Callable[[float, str], None]


class Worker:
    """The background thread of an engine: boots the models, then triages and drafts as tickets arrive.

    It owns its thread, the wake-up and stop events, and the gc freeze of the loaded models (thawed on stop).
    """

    def __init__(
        self,
        engine: Engine,
        supervisor: Supervisor,
        *,
        batch_size: int = TRIAGE_BATCH,
        watch_seconds: float = WATCH_SECONDS,
    ) -> None:
        self._engine = engine
        self.supervisor = supervisor
        self._batch_size = batch_size
        self._watch_seconds = watch_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread and its watchdog (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="caredesk-worker", daemon=True)
            self._thread.start()
            self._watchdog = threading.Thread(target=self._watch, name="caredesk-watchdog", daemon=True)
            self._watchdog.start()

    def _watch(self) -> None:
        """Start the worker thread again when it died (booted models are kept)."""
        while not self._stop.wait(self._watch_seconds):
            if self._thread is not None and not self._thread.is_alive() and self._engine.ready:
                log.warning("the worker thread died: starting it again")
                self.supervisor.restarted()
                self._thread = threading.Thread(target=self._work, name="caredesk-worker", daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """New tickets arrived: look for work now."""
        self._wake.set()

    @property
    def woken(self) -> bool:
        """True when a wake-up is waiting to be handled."""
        return self._wake.is_set()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread, close the models it loaded, and thaw what was frozen after boot."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._engine.services is not None:
            self._engine.services.embedder.close()
        gc.unfreeze()  # objects frozen after boot are collected again, in order, before the interpreter exits

    def run(self) -> None:
        """Boot every component, then work until stopped."""
        engine = self._engine
        try:
            boot(engine)
            gc.freeze()  # the loaded models live as long as the app: collections need not scan them (stop thaws)
        except Exception as exc:  # the UI shows the message; tickets stay stored
            log.exception("background start-up failed")
            for status in engine.status.values():
                if status.state in (State.WAITING, State.LOADING):
                    status.state, status.detail = State.ERROR, f"start-up failed: {exc}"
            return
        self._reconcile()
        self._work()

    def _reconcile(self) -> None:
        """Settle what a restart interrupted (store writes without their answer, auto-resolved tickets without
        their reply); a failure is counted and the worker goes on."""
        services = self._engine.services
        try:
            self._engine.routing.reconcile(similar=services.similar if services is not None else None)
        except Exception as exc:
            self.supervisor.counted("actions", [], exc)

    def _work(self) -> None:
        """Run the work loop; a loop that dies of an unexpected error is counted and started again."""
        while not self._stop.is_set():
            try:
                self._loop()
            except Exception:
                log.warning("the worker loop died; starting it again", exc_info=True)
                self.supervisor.restarted()
                self._stop.wait(1.0)

    def _loop(self) -> None:
        """Triage pending tickets, draft the most urgent undrafted one when triage is quiet."""
        engine = self._engine
        last_triage = 0.0
        pipeline = TriagePipeline(engine, self.supervisor, batch_size=self._batch_size)
        drafting = DraftingStage(engine, self.supervisor)
        try:
            self._steps(engine, pipeline, drafting, last_triage)
        finally:
            pipeline.close()

    def _steps(self, engine: Engine, pipeline: TriagePipeline, drafting: DraftingStage, last_triage: float) -> None:
        while not self._stop.is_set():
            quiet = time.monotonic() - last_triage
            try:
                triaged = pipeline.step()
            except StageFailure as failure:  # the tickets stay pending and stored; a failing one is isolated
                pipeline.failed(failure)
                if not pipeline.isolating:
                    self._stop.wait(IDLE_SECONDS)
                continue
            if triaged:
                last_triage = time.monotonic()
                engine.changed()
                # messages are trickling in: let a few more arrive, embed them together (not while a failed batch's
                # tickets are tried one by one: those are known, waiting would only slow the backlog down)
                if triaged < self._batch_size and not pipeline.isolating:
                    self._stop.wait(TRIAGE_GATHER_SECONDS)
            elif quiet >= DRAFT_AFTER_QUIET_SECONDS and drafting.step():
                engine.changed()
            else:
                self._wake.wait(
                    IDLE_SECONDS if quiet >= DRAFT_AFTER_QUIET_SECONDS else DRAFT_AFTER_QUIET_SECONDS - quiet
                )
                self._wake.clear()


def boot(engine: Engine) -> None:
    """Load embeddings, knowledge index, intent model, sentiment scorer and the Llama drafter, in that order."""
    settings = engine.settings
    engine.set_status("embeddings", State.LOADING, "loading all-MiniLM-L6-v2")
    embedder = load_embedder(settings)
    services = Services(embedder=embedder)
    engine.set_status("embeddings", State.READY, embedder.name)

    engine.set_status("knowledge", State.LOADING, "indexing the knowledge base")
    services.kb, services.similar, detail = load_knowledge(settings, engine.db, embedder)
    engine.set_status("knowledge", State.READY, detail)

    engine.set_status("intent", State.LOADING, "loading the active intent model")
    services.intent, services.intent_version = load_intent(engine, embedder)
    engine.routing.learn_intents(settings, services.intent.labels)
    engine.set_status(
        "intent", State.READY, f"version {services.intent_version}, {len(services.intent.labels)} intents"
    )

    engine.set_status("sentiment", State.LOADING)
    services.sentiment, detail = load_sentiment(settings, embedder)
    engine.set_status("sentiment", State.READY, detail)

    engine.set_status("drafter", State.LOADING, f"loading {settings.llm_path.name}")
    services.drafter, state_ok, detail = load_drafter(settings, embedder)
    engine.set_status("drafter", State.READY if state_ok else State.ERROR, detail)
    services.booted = True
    engine.services = services
    engine.changed()


def load_intent(engine: Engine, embedder: Embedder) -> tuple[IntentClassifier, str]:
    """The active intent model, or a first one trained from the demo labels and agent corrections."""
    registry = IntentModelRegistry(engine.settings.models_dir / "intent")
    active = registry.active()
    if active is not None:
        model, info = active
        return model, str(info["version"])

    def progress(fraction: float, message: str) -> None:
        engine.set_status("intent", State.LOADING, message, progress=fraction)

    return train_intent(engine.settings, engine.db, embedder, registry, progress=progress)


def train_intent(
    settings: Settings,
    db: SAEngine,
    embedder: Embedder,
    registry: IntentModelRegistry,
    *,
    csv: Path | None = None,
    progress: Progress | None = None,
) -> tuple[IntentClassifier, str]:
    """Train on shipped labels plus confirmed tickets (or a CSV), save a new version and activate it.

    Out-of-scope detection is on: leave-intents-out runs during training set the "unknown" threshold.
    """
    if csv is not None:
        texts, labels = read_labeled_csv(csv)
    else:
        base = demo_training_rows(DEMO_DATA_DIR, settings.demo_ticket_count, settings.demo_training_per_intent)
        with Session(db) as session:  # the held-back slice stays out: retraining compares models on it
            confirmed, _ = split_confirmed(*confirmed_rows(session))
        texts, labels = training_rows(base, confirmed)
    if progress is not None:
        progress(0.0, f"embedding {len(texts)} training texts")
    vectors = embedder.encode(texts)
    return train_and_activate(registry, texts, labels, vectors, oos_label=UNKNOWN, progress=progress)


class TriagePipeline:
    """Triage pending tickets in batches; the next batch is embedded and scored while this one is stored and routed.

    Embedding runs in torch, outside the interpreter lock, so on two cores it overlaps with the database work.
    """

    def __init__(self, engine: Engine, supervisor: Supervisor, *, batch_size: int = TRIAGE_BATCH) -> None:
        self._engine = engine
        self._supervisor = supervisor
        self._batch_size = batch_size
        self._scorer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caredesk-triage-scorer")
        self._ahead: tuple[TriageBatch, Future[Scored]] | None = None
        self._current: list[int] = []  # the tickets of the step under way
        self._suspects: list[int] = []  # tickets of a failed batch, triaged one at a time to find the failing one

    @property
    def isolating(self) -> bool:
        """True while the tickets of a failed batch are being tried one by one."""
        return bool(self._suspects)

    def step(self) -> int:
        """Store and route one batch; how many tickets it held (0: nothing was pending).

        Raises StageFailure naming the stage (triage, routing, actions) that failed; the batch stays pending."""
        services = self._engine.services
        if services is None or services.intent is None or services.sentiment is None:
            return 0
        models = triage_models(services, self._engine.settings)
        current = self._next(models)
        if current is None:
            return 0
        batch, scoring = current
        self._current = batch.ticket_ids
        if not self._suspects:
            self._ahead = self._start(models, skip=batch.ticket_ids)
        with in_stage("triage"):
            scored = scoring.result()
        routing = self._engine.routing
        with in_stage("routing"):  # the store is asked before the transaction: a slow store stalls no writer
            facts = routing.gather(
                batch.ticket_ids, {t: p.label for t, p in zip(batch.ticket_ids, scored.intents, strict=True)}
            )
        with self._engine.transaction() as session:
            with in_stage("triage"):
                vectors = store_batch(session, batch, scored, models)
            with in_stage("routing"):
                decisions = routing.route(session, list(vectors), facts)
        for stage in TRIAGE_STAGES:
            self._supervisor.succeeded(stage, batch.ticket_ids)
        services.vectors.update(vectors)
        if services.similar is not None and vectors:
            services.similar.add_many(list(vectors), np.stack(list(vectors.values())))  # journaled at once
            if self._ahead is None:  # the backlog is drained: compact the journal into a snapshot now
                services.similar.save()
        for ticket_id, decision in decisions.items():
            if decision.route == Route.AUTO_RESOLVE:  # its action calls the store with no transaction open
                self._auto_resolve(ticket_id, vectors.get(ticket_id), services)
        return len(batch.ticket_ids)

    def _auto_resolve(self, ticket_id: int, vector: np.ndarray | None, services: Services) -> None:
        """Finish one auto-resolved ticket; a failure is counted against it alone (the batch is already stored)."""
        try:
            self._engine.routing.auto_resolve(ticket_id, vector=vector, similar=services.similar)
        except Exception as exc:
            self._supervisor.failed("actions", [ticket_id], exc)

    def failed(self, failure: StageFailure) -> None:
        """A step failed: a batch is split into single tickets; a single ticket's failure is counted against it."""
        self._ahead = None  # read again later
        if len(self._current) > 1:  # split the batch: each ticket alone, so a poisoned one fails by itself
            self._supervisor.counted(failure.stage, self._current, failure.error)
            self._suspects = list(self._current)
        else:
            self._supervisor.failed(failure.stage, self._current, failure.error)
        self._current = []

    def _next(self, models: TriageModels) -> tuple[TriageBatch, Future[Scored]] | None:
        """The next single suspect (a failed batch's ticket, or a failed ticket due again), else the batch scored
        ahead, else the oldest pending batch."""
        if not self._suspects:
            self._suspects = sorted({t for stage in ("triage", "routing") for t in self._supervisor.due(stage)})
        while self._suspects:
            ticket_id = self._suspects.pop(0)
            with self._engine.session() as session:
                ticket = session.get(Ticket, ticket_id)
                batch = read_batch(session, [ticket_id]) if ticket is not None and ticket.triaged_at is None else None
            if batch is not None:
                return batch, self._scorer.submit(score_batch, batch, models)
        return self._ahead or self._start(models)

    def close(self) -> None:
        """Stop the scorer thread (a batch being scored ahead is dropped; its tickets stay pending)."""
        self._ahead = None
        self._scorer.shutdown(wait=False, cancel_futures=True)

    def _start(self, models: TriageModels, skip: list[int] | None = None) -> tuple[TriageBatch, Future[Scored]] | None:
        """Read the oldest pending batch (without `skip` and the tickets held back) and start scoring it."""
        held = set().union(*(self._supervisor.held(stage) for stage in TRIAGE_STAGES))  # failed ones go alone
        with self._engine.session() as session:
            ids = pending_ticket_ids(session, self._batch_size, skip=[*(skip or ()), *held])
            batch = read_batch(session, ids) if ids else None
        return (batch, self._scorer.submit(score_batch, batch, models)) if batch is not None else None


class DraftingStage:
    """Draft one ticket a step; a ticket whose draft fails waits with backoff (needs attention after 3 tries)."""

    def __init__(self, engine: Engine, supervisor: Supervisor) -> None:
        self._engine = engine
        self._supervisor = supervisor

    def step(self) -> bool:
        """Draft the next ticket; False when there is none to draft now."""
        try:
            return draft_next(self._engine, skip=sorted(self._supervisor.blocked("drafting")), on_failure=self._failed)
        except Exception:  # picking the ticket failed (the database): the loop waits and tries again
            log.warning("drafting failed before a ticket was chosen", exc_info=True)
            return False

    def _failed(self, ticket_id: int, error: Exception) -> None:
        self._supervisor.failed("drafting", [ticket_id], error)


def draft_next(
    engine: Engine, *, skip: Sequence[int] = (), on_failure: Callable[[int, Exception], None] | None = None
) -> bool:
    """Draft the highest-priority open ticket (not in `skip`) that has no draft for its latest message.

    With `on_failure`, a failing draft is reported with its ticket id instead of raised (the step still counts)."""
    services = engine.services
    if services is None or services.drafter is None or services.kb is None:
        return False
    with engine.session() as session:
        query = (
            select(Ticket.id)
            .join(Customer, col(Customer.id) == col(Ticket.customer_id))
            .where(col(Customer.ai_opt_in).is_(True))  # opted out of AI handling: a person writes the reply
            .where(col(Ticket.drafted_at).is_(None), col(Ticket.triaged_at).is_not(None))
            .where(col(Ticket.status).in_([TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.ESCALATED]))
            .where(col(Ticket.id).not_in(list(skip)))
            .order_by(col(Ticket.priority).desc())
            .limit(1)
        )
        ticket_id = session.exec(query).first()
    if ticket_id is None:
        return False
    try:
        _draft_and_answer(engine, services, ticket_id)
    except Exception as exc:
        if on_failure is None:
            raise
        on_failure(ticket_id, exc)
    return True


def _draft_and_answer(engine: Engine, services: Services, ticket_id: int) -> None:
    """Draft one ticket; an auto-resolved ticket that waited for its draft is answered with it."""
    with engine.transaction() as session:
        draft = draft_with(services, engine.settings, session, ticket_id)
    # an auto-resolved ticket that needed a draft is answered now (no-op for any other ticket), once the draft is
    # committed: its action calls the store with no transaction open
    engine.routing.auto_resolve(
        ticket_id, draft=draft, vector=services.vectors.get(ticket_id), similar=services.similar
    )
