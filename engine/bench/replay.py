"""Replay bench: train on TRAIN, push every ticket of FILE through ingest, triage and routing; report the routes.

Each row of FILE (`text,label`) arrives as an e-mail from a new customer. Tickets go in batches as the worker
takes them: intake (committed, so the store can see the customer), then triage and routing in one transaction.
Actions run as dry runs only (the router previews the intent's action against the in-process demo store).
Training and model loading are not timed; `tickets_per_second` covers ingest + triage + routing (each stage's
seconds are reported too), no drafting. `tickets_per_cpu_second` divides by the CPU time this process used instead:
on a machine shared with other busy programs it shows what the pipeline costs by itself.

ai_error_rate = auto-resolved tickets whose intent is not the file's label / auto-resolved tickets.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine as SAEngine

from engine.config import Settings
from engine.demo import STORE_FILE, DemoStoreServer, StoreData
from engine.ingest.intake import InboundMessage, intake_many
from engine.nlp.embedder import Embedder, MiniLMEmbedder
from engine.nlp.intent import IntentClassifier
from engine.nlp.labeled_csv import read_labeled_csv
from engine.nlp.sentiment import SentimentScorer
from engine.privacy.crypto import Cipher, load_keys, set_cipher
from engine.routing.actions.client import Credentials, StoreClient
from engine.routing.actions.runner import ActionRunner
from engine.routing.policy import ALL_INTENTS, RoutingPolicy, default_policy
from engine.routing.router import Decision, gather_store_facts, route_tickets
from engine.store.db import make_db, session_scope
from engine.store.models import Route, Ticket
from engine.triage import TriageModels, triage_tickets

log = logging.getLogger(__name__)

BATCH = 64


def run(*, tickets: Path, train: Path, auto_intents: str = "all", embedder: Embedder | None = None) -> dict[str, Any]:
    """Replay FILE through ingest, triage and routing with a model trained on TRAIN; return the routing rates."""
    texts, labels = read_labeled_csv(tickets)
    train_texts, train_labels = read_labeled_csv(train)
    workers = _idle_cores()  # alone, replay may use every idle core (the worker shares with the server)
    log.info("embedding tickets with %d model replica(s)", workers)
    embedder = embedder or MiniLMEmbedder(workers=workers)
    log.info("training the intent model on %d examples from %s", len(train_texts), train)
    model = IntentClassifier()
    model.fit(train_texts, train_labels, embedder.encode(train_texts))
    models = TriageModels(embedder, model, "replay", SentimentScorer.default(embedder))
    with tempfile.TemporaryDirectory(prefix="caredesk-replay-") as folder:
        settings = Settings.load(data_dir=Path(folder), demo=False)  # thresholds from env / caredesk.toml, if set
        set_cipher(Cipher(load_keys(settings.data_dir)))  # as the app does at startup: message bodies are encrypted
        db = make_db(settings.db_url)
        chosen = (
            (ALL_INTENTS,)
            if auto_intents.strip() == "all"
            else tuple(a.strip() for a in auto_intents.split(",") if a.strip())
        )
        policy = replace(default_policy(settings, model.labels), auto_intents=chosen)
        store = DemoStoreServer(StoreData(db, settings.data_dir / STORE_FILE))
        store.data.register_client("replay", "replay-secret")
        credentials = Credentials("replay", "replay-secret")
        runner = ActionRunner(StoreClient(store.start(), credentials=lambda: credentials))
        try:
            decisions, intents, stages = _replay(db, texts, models, policy, runner)
        finally:
            runner.client.close()
            store.stop()
    return _report(decisions, intents, labels, stages, policy.intent_actions)


def _replay(
    db: SAEngine, texts: list[str], models: TriageModels, policy: RoutingPolicy, runner: ActionRunner
) -> tuple[list[Decision | None], list[str | None], dict[str, float]]:
    """Push the texts through in batches; (decisions by row, predicted intent by row, seconds per stage)."""
    decisions: list[Decision | None] = [None] * len(texts)
    intents: list[str | None] = [None] * len(texts)
    stages = {"ingest": 0.0, "triage": 0.0, "routing": 0.0}
    cpu_started = time.process_time()
    for start in range(0, len(texts), BATCH):
        rows = range(start, min(start + BATCH, len(texts)))
        clock = time.perf_counter()
        with session_scope(db) as session:
            ids = [r.ticket_id for r in intake_many(session, [_message(row, texts[row]) for row in rows])]
        stages["ingest"] += time.perf_counter() - clock
        clock = time.perf_counter()
        with session_scope(db) as session:
            triage_tickets(session, ids, models)
        stages["triage"] += time.perf_counter() - clock
        clock = time.perf_counter()
        facts = gather_store_facts(
            db, ids, policy=policy, runner=runner
        )  # the store is asked first, as the worker does
        with session_scope(db) as session:
            routed = route_tickets(session, ids, policy=policy, facts=facts)
            stages["routing"] += time.perf_counter() - clock
            for row, ticket_id in zip(rows, ids, strict=True):
                decisions[row] = routed.get(ticket_id)
                ticket = session.get(Ticket, ticket_id)
                intents[row] = ticket.intent if ticket is not None else None
        if (start // BATCH) % 10 == 0:
            log.info("replayed %d/%d tickets", rows.stop, len(texts))
    stages["cpu"] = time.process_time() - cpu_started
    return decisions, intents, stages


def _idle_cores(window: float = 0.5) -> int:
    """Cores left idle by other programs over `window` seconds (Linux /proc/stat; 1 elsewhere).

    Embedding on cores other programs use ran 2-4 times slower than on one core (measured on a shared 2-core
    machine).
    """
    stat = Path("/proc/stat")
    if not stat.exists():
        return 1

    def idle_and_total() -> tuple[int, int]:
        ticks = [int(v) for v in stat.read_text().split("\n", 1)[0].split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, all

    idle_before, total_before = idle_and_total()
    time.sleep(window)
    idle_after, total_after = idle_and_total()
    cores = os.cpu_count() or 1
    idle = cores * (idle_after - idle_before) / max(1, total_after - total_before)
    return max(1, min(cores, int(idle + 0.2)))


def _message(row: int, text: str) -> InboundMessage:
    return InboundMessage(
        channel="email",
        customer_name=f"Replay Customer {row}",
        customer_email=f"replay-{row}@example.invalid",
        text=text,
        external_id=f"replay-{row}",
    )


def _report(
    decisions: list[Decision | None],
    intents: list[str | None],
    labels: list[str],
    stages: dict[str, float],
    actions: dict[str, str],
) -> dict[str, Any]:
    cpu = stages.pop("cpu")
    n, seconds = len(labels), sum(stages.values())
    routes = Counter(d.route if d is not None else "not routed" for d in decisions)
    auto = [i for i, d in enumerate(decisions) if d is not None and d.route == Route.AUTO_RESOLVE]
    wrong = sum(1 for i in auto if intents[i] != labels[i])
    blocking = Counter(key for d in decisions if d is not None and d.route != Route.AUTO_RESOLVE for key in d.failed())
    return {
        "tickets": n,
        "ai_resolution_rate": round(len(auto) / n, 4) if n else 0.0,
        "ai_error_rate": round(wrong / len(auto), 4) if auto else 0.0,
        "human_review_rate": round(routes[Route.ASSIST] / n, 4) if n else 0.0,
        "escalation_rate": round(routes[Route.ESCALATE] / n, 4) if n else 0.0,
        "tickets_per_second": round(n / seconds, 1) if seconds else 0.0,
        "intent_accuracy": round(sum(1 for i, gold in zip(intents, labels, strict=True) if i == gold) / n, 4)
        if n
        else 0.0,
        "seconds_per_stage": {k: round(v, 2) for k, v in stages.items()},
        "tickets_per_cpu_second": round(n / cpu, 1) if cpu else 0.0,
        "checks_failed": dict(blocking.most_common()),
        "intents_with_actions": len(actions),
    }
