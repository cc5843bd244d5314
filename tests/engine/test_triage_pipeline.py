"""The triage pipeline: batches scored ahead of time, every ticket triaged once, late messages never skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from engine.app import build_engine
from engine.config import Settings
from engine.ingest.intake import InboundMessage, intake, intake_many
from engine.nlp.embedder import HashingEmbedder
from engine.nlp.intent.classifier import IntentClassifier
from engine.nlp.sentiment.scorer import SentimentScorer
from engine.runtime import Engine, Services
from engine.store.models import Ticket, TriageResult
from engine.supervisor import Supervisor
from engine.triage import TriageModels, read_batch, score_batch, store_batch, triage_tickets
from engine.worker import TriagePipeline

TEXTS = ["refund my card please", "I want my money back", "where is my parcel", "track my order"] * 5
LABELS = ["refund", "refund", "track", "track"] * 5


def fake_models() -> TriageModels:
    embedder = HashingEmbedder()
    intent = IntentClassifier()
    intent.fit(TEXTS, LABELS, embedder.encode(TEXTS))
    return TriageModels(embedder, intent, "v-test", SentimentScorer.default(embedder))


def message(text: str, conversation: str) -> InboundMessage:
    return InboundMessage(
        channel="chat",
        customer_name="Ann",
        customer_handle="@ann",
        text=text,
        external_id=f"{conversation}-{text}",
        ticket_external_id=conversation,
        thread_external_id=conversation,
    )


def triaged_messages(session: Session, ticket_id: int) -> int:
    query = select(func.count()).select_from(TriageResult).where(TriageResult.ticket_id == ticket_id)
    return session.exec(query).one()


def test_a_message_that_lands_while_its_ticket_is_scored_is_triaged_in_the_next_round(session: Session) -> None:
    models = fake_models()
    ticket_id = intake(session, message("where is my parcel", "conv-1")).ticket_id
    session.commit()
    batch = read_batch(session, [ticket_id])
    scored = score_batch(batch, models)
    second = intake(session, message("and I want my money back now", "conv-1"))  # arrives during scoring
    session.commit()
    assert second.ticket_id == ticket_id

    assert store_batch(session, batch, scored, models) == {}
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.triaged_at is None  # still pending, not marked done without the message
    assert triaged_messages(session, ticket_id) == 0

    assert list(triage_tickets(session, [ticket_id], models)) == [ticket_id]
    assert ticket.triaged_at is not None
    assert triaged_messages(session, ticket_id) == 2


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = build_engine(Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo=False))
    models = fake_models()
    engine.services = Services(
        embedder=models.embedder, intent=models.intent, intent_version="v-test", sentiment=models.sentiment
    )
    return engine


def test_the_pipeline_triages_every_pending_ticket_once_across_batches(engine: Engine) -> None:
    with engine.transaction() as session:
        intake_many(session, [message(text, f"conv-{i}") for i, text in enumerate(TEXTS[:8])])
    pipeline = TriagePipeline(engine, Supervisor(engine.db), batch_size=3)

    sizes = []
    while size := pipeline.step():
        sizes.append(size)

    assert sizes == [3, 3, 2]
    with engine.session() as session:
        pending = session.exec(select(func.count()).select_from(Ticket).where(col(Ticket.triaged_at).is_(None))).one()
        results = session.exec(select(TriageResult.message_id)).all()
        intents = set(session.exec(select(Ticket.intent)).all())
    assert pending == 0
    assert len(results) == len(set(results)) == 8  # one triage result per message: no batch was scored twice
    assert intents == {"refund", "track"}
    assert set(engine.services.vectors) == set(range(1, 9))  # type: ignore[union-attr]
