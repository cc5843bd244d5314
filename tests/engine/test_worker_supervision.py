"""The supervised worker: a poisoned message fails alone and is set aside, the others are triaged; a dead loop or
thread is started again; the health endpoint's report says degraded with the backlog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, func, select

import engine.worker as worker_module
from engine.app import build_engine
from engine.config import Settings
from engine.health import health_report, needs_attention
from engine.ingest.intake import InboundMessage, intake
from engine.runtime import Engine
from engine.store.models import Ticket
from engine.triage import Scored, TriageBatch, TriageModels, score_batch
from tests.waiting import wait_for

POISON = "xylophone-poison"  # survives redaction: triage reads it


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    def poisoned_scoring(batch: TriageBatch, models: TriageModels) -> Scored:
        if any(POISON in text for text in batch.ticket_texts):
            raise ValueError(f"triage cannot read {POISON}")
        return score_batch(batch, models)

    monkeypatch.setattr(worker_module, "score_batch", poisoned_scoring)
    settings = Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo=False, demo_training_per_intent=8)
    built = build_engine(settings)
    built.supervisor.retry_seconds = 0.0
    built.worker = worker_module.Worker(built, built.supervisor, watch_seconds=0.2)
    yield built
    built.stop()


def _intake(engine: Engine, texts: list[str]) -> list[int]:
    with engine.transaction() as session:
        return [
            intake(session, InboundMessage(channel="chat", customer_name=f"C{i}", text=text)).ticket_id
            for i, text in enumerate(texts)
        ]


def _triaged(engine: Engine) -> int:
    with engine.session() as session:
        return int(session.exec(select(func.count()).where(col(Ticket.triaged_at).is_not(None))).one())


def _health(engine: Engine) -> dict:
    components = {key: status.state.value for key, status in engine.status.items()}
    return health_report(engine.db, components, engine.supervisor, worker_alive=engine.worker.alive)


def test_a_poisoned_message_is_set_aside_and_every_other_ticket_is_triaged(engine: Engine) -> None:
    texts = [f"where is my order {i}" for i in range(40)]
    texts[17] = f"my order {POISON} never came"
    ids = _intake(engine, texts)
    engine.start()
    wait_for(lambda: bool(needs_attention(engine.db)) and _triaged(engine) == 39, what="the poisoned ticket set aside")
    [item] = needs_attention(engine.db)
    assert (item.ticket_id, item.stage, item.failures) == (ids[17], "triage", 3)
    assert item.last_error.startswith("ValueError: triage cannot read")
    report = _health(engine)
    assert report["status"] == "degraded" and report["backlog"]["needs_attention"] == 1
    assert report["backlog"]["untriaged"] == 1 and report["stages"]["triage"]["failures"] >= 4
    later = _intake(engine, ["refund my jacket please"])  # newer tickets flow on
    engine.notify()
    wait_for(lambda: _triaged(engine) == 40, what="a newer ticket triaged")
    engine.supervisor.retry(ids[17])  # a person retries: it fails again, alone
    engine.notify()
    wait_for(lambda: bool(needs_attention(engine.db)), what="the retried ticket set aside again")
    assert later and _triaged(engine) == 40


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the thread is killed on purpose
def test_a_dead_worker_loop_and_a_dead_thread_are_started_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ThreadKilled(BaseException):
        """Ends the thread (not caught as an Exception)."""

    failures = iter([RuntimeError("loop bug"), ThreadKilled()])
    real_step = worker_module.TriagePipeline.step

    def step(self: worker_module.TriagePipeline) -> int:
        error = next(failures, None)
        if error is not None:
            raise error
        return real_step(self)

    monkeypatch.setattr(worker_module.TriagePipeline, "step", step)
    engine.start()
    wait_for(lambda: engine.ready, what="the models")
    _intake(engine, ["where is my parcel", "refund please"])
    engine.notify()
    wait_for(lambda: _triaged(engine) == 2 and engine.supervisor.restarts == 2, what="triage after two restarts")
    assert engine.worker.alive and _health(engine)["worker"] == {"alive": True, "restarts": 2}
