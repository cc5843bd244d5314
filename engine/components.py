"""Constructors for the heavy parts, chosen by `settings.model_backend` ("real", or "fake" for fast tests)."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine as SAEngine

from engine.config import DEMO_DATA_DIR, Settings
from engine.drafting import CachingEmbedder, Drafter, DrafterUnavailable, FakeDrafter, LlamaDrafter
from engine.knowledge.demo_kb import abcd_documents
from engine.knowledge.knowledge_base import KnowledgeBase
from engine.knowledge.similar_tickets import SimilarTickets
from engine.nlp.embedder import Embedder, HashingEmbedder, MiniLMEmbedder
from engine.nlp.embedding_process import ProcessEmbedder
from engine.nlp.sentiment import SentimentScorer

log = logging.getLogger(__name__)


class ExtractiveDrafter(FakeDrafter):
    """Used when no GGUF can be loaded: every draft is the extractive fallback built from the best source."""

    model_name = "extractive (no model loaded)"

    def __init__(self) -> None:
        super().__init__(reply="")


def uses_fakes(settings: Settings) -> bool:
    """True when the fast test doubles are selected."""
    return settings.model_backend == "fake"


def load_embedder(settings: Settings) -> Embedder:
    """The bundled MiniLM embedder, loaded; or the hashing fake."""
    if uses_fakes(settings):
        return HashingEmbedder()
    embedder = ProcessEmbedder(MiniLMEmbedder(workers=1))  # batches in a child process, queries here
    embedder.load()
    return embedder


def load_knowledge(settings: Settings, db: SAEngine, embedder: Embedder) -> tuple[KnowledgeBase, SimilarTickets, str]:
    """The knowledge base (demo policy manual on first start) and the similar-ticket index."""
    index_dir = settings.data_dir / "index"
    kb = KnowledgeBase(db, embedder, index_dir)
    if settings.demo and not kb.documents():
        for spec in abcd_documents(DEMO_DATA_DIR / "abcd_guidelines"):
            kb.add_document(spec)
    kb.ensure_index()
    similar = SimilarTickets(index_dir / "tickets", embedder.dim)
    return kb, similar, f"{len(kb.documents())} documents"


def load_sentiment(settings: Settings, embedder: Embedder) -> tuple[SentimentScorer, str]:
    """A scorer trained on your labels if there is one, else the built-in one (hand-written seed messages)."""
    trained = settings.models_dir / "sentiment"
    if trained.is_dir():
        return SentimentScorer.load(trained), "trained on your labels"
    return SentimentScorer.default(embedder), "built-in scorer"


def load_drafter(settings: Settings, embedder: Embedder | None = None) -> tuple[Drafter, bool, str]:
    """The Llama drafter; when the GGUF cannot be used, extractive drafts and a message saying why."""
    if uses_fakes(settings):
        return FakeDrafter(embedder=embedder), True, "fake drafter (tests)"
    if not settings.draft_model:
        return ExtractiveDrafter(), True, "model off (draft_model = false): article drafts quote the article"
    drafter = LlamaDrafter(
        settings.llm_path,
        n_threads=settings.llm_threads,
        n_ctx=settings.llm_context,
        max_tokens=settings.draft_max_tokens,
        embedder=CachingEmbedder(embedder) if embedder is not None else None,
    )
    try:
        drafter.load()
    except DrafterUnavailable as exc:
        log.warning("drafter unavailable, using extractive drafts: %s", exc)
        return ExtractiveDrafter(), False, f"{exc}; drafts are extractive until this is fixed in Settings"
    return drafter, True, settings.llm_path.name
