"""Triage and drafting see typed placeholders, never the customer's e-mail, phone or card; the reply gets them back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.assist import draft_ticket
from engine.drafting.drafter import DraftResult, FakeDrafter
from engine.drafting.sources import Source
from engine.ingest.intake import InboundMessage, intake
from engine.knowledge.documents import DocumentSpec
from engine.knowledge.knowledge_base import KnowledgeBase
from engine.nlp.embedder import HashingEmbedder
from engine.nlp.intent.classifier import IntentClassifier
from engine.nlp.sentiment.scorer import SentimentScorer
from engine.triage import TriageModels, triage_tickets

PII = ("jane.doe@example.com", "+44 7700 900123", "4111 1111 1111 1111")
MESSAGE = f"Please refund my card {PII[2]}, mail me at {PII[0]} or call {PII[1]}."


class RecordingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        self.seen.extend(texts)
        return super().encode(texts, batch_size, show_progress)


class RecordingDrafter(FakeDrafter):
    def __init__(self) -> None:
        reply = "Refunds go back to the card within 5 days [1]. Refunds go to the card [1]. I will email [EMAIL_1]."
        super().__init__(reply=reply)
        self.seen: list[str] = []

    def draft(self, *, customer_message: str, sources: list[Source], **kw: object) -> DraftResult:  # type: ignore[override]
        self.seen.append(customer_message)
        self.seen.extend(text for _, text in kw.get("conversation", ()))  # type: ignore[union-attr]
        return super().draft(customer_message=customer_message, sources=sources, **kw)  # type: ignore[arg-type]


def test_models_see_placeholders_and_the_reply_restores_values(db: SAEngine, session: Session, tmp_path: Path) -> None:
    embedder = RecordingEmbedder()
    intent = IntentClassifier()
    texts = ["refund my card please", "I want my money back", "where is my parcel", "track my order"] * 5
    labels = ["refund", "refund", "track", "track"] * 5
    intent.fit(texts, labels, embedder.encode(texts))
    embedder.seen.clear()
    kb = KnowledgeBase(db, embedder, tmp_path / "index")
    kb.add_document(DocumentSpec(key="refunds", title="Refunds", text="Refunds go back to the card within 5 days."))
    ticket_id = intake(session, InboundMessage(channel="email", customer_name="Jane Doe", text=MESSAGE)).ticket_id
    models = TriageModels(embedder, intent, "v-test", SentimentScorer.default(embedder))
    vectors = triage_tickets(session, [ticket_id], models)
    drafter = RecordingDrafter()
    # reply_fit 0: the hashing fake scores lower than MiniLM; the article (the only knowledge) is to be used
    draft = draft_ticket(session, ticket_id, kb=kb, drafter=drafter, vector=vectors[ticket_id], k=2, reply_fit=0.0)
    for text in embedder.seen + drafter.seen:
        assert not any(value in text for value in PII), text
    assert any("[EMAIL_1]" in text for text in drafter.seen)
    assert PII[0] in draft.text  # the agent's draft names the customer's own address again
