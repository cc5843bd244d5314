"""The drafting contract: DraftResult, the Drafter protocol, and FakeDrafter for fast UI and unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.drafting.citations import SentenceSupport
from engine.drafting.grounding import GroundedDraft, ground_draft
from engine.drafting.prompt import build_prompt
from engine.drafting.relevance import SentenceRanker
from engine.drafting.sources import Source
from engine.nlp.embedder import Embedder

TokenCallback = Callable[[str], None]


class DrafterUnavailable(RuntimeError):
    """The drafting model cannot be used (missing, unreadable or not a GGUF file); the message says which."""


@dataclass(frozen=True)
class DraftResult:
    """A checked draft: its text, the sources it may cite, per-sentence support and how it was made."""

    text: str
    sources: list[Source]
    sentence_support: list[SentenceSupport]
    is_fallback: bool
    fallback_reason: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    ttft_ms: float
    confidence: float
    cached_prompt_tokens: int = 0
    generation_ms: float = 0.0
    raw_citation_valid_rate: float = 1.0
    raw_text: str = ""

    @property
    def highlighted(self) -> list[str]:
        """Sentences no cited source supports: shown highlighted for the agent to check."""
        return [s.sentence for s in self.sentence_support if not s.courtesy and not s.supported]

    @property
    def cited(self) -> list[int]:
        """The source numbers the draft cites, in order."""
        return list(dict.fromkeys(n for s in self.sentence_support for n in s.cited))


class Drafter(Protocol):
    """Writes a reply grounded in numbered sources, streaming text pieces to on_token."""

    model_name: str

    def draft(
        self,
        *,
        customer_message: str,
        sources: list[Source],
        conversation: Sequence[tuple[str, str]] = (),
        earlier_tickets: Sequence[str] = (),
        customer_name: str | None = None,
        on_token: TokenCallback | None = None,
    ) -> DraftResult: ...


def make_result(
    grounded: GroundedDraft,
    *,
    sources: list[Source],
    model: str,
    raw_text: str,
    prompt_tokens: int,
    completion_tokens: int,
    started: float,
    first_token: float | None,
    last_token: float | None = None,
    cached_prompt_tokens: int = 0,
) -> DraftResult:
    """Package a grounded draft with its timing and sizes (times from time.perf_counter())."""
    now = time.perf_counter()
    return DraftResult(
        text=grounded.text,
        sources=sources,
        sentence_support=grounded.report.sentences,
        is_fallback=grounded.is_fallback,
        fallback_reason=grounded.fallback_reason,
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=round((now - started) * 1000, 1),
        ttft_ms=round(((first_token or now) - started) * 1000, 1),
        confidence=grounded.confidence,
        cached_prompt_tokens=cached_prompt_tokens,
        generation_ms=round(((last_token or now) - (first_token or now)) * 1000, 1),
        raw_citation_valid_rate=grounded.raw_citation_valid_rate,
        raw_text=raw_text,
    )


class FakeDrafter:
    """Deterministic stand-in for the model: quotes the best note, usually of [1] (or says `reply`), checked as real."""

    model_name = "fake-drafter"

    def __init__(self, reply: str | None = None, embedder: Embedder | None = None) -> None:
        self._reply = reply
        self._embedder = embedder
        self._ranker = SentenceRanker(embedder)

    def draft(
        self,
        *,
        customer_message: str,
        sources: list[Source],
        conversation: Sequence[tuple[str, str]] = (),
        earlier_tickets: Sequence[str] = (),
        customer_name: str | None = None,
        on_token: TokenCallback | None = None,
    ) -> DraftResult:
        """Draft without a model: the same prompt selection and the same citation check as LlamaDrafter."""
        started = time.perf_counter()
        prompt = build_prompt(
            customer_message=customer_message,
            sources=sources,
            conversation=conversation,
            earlier_tickets=earlier_tickets,
            ranker=self._ranker,
        )
        best = prompt.notes[0] if prompt.notes else None
        raw = self._reply if self._reply is not None else (f"{best.sentence} [{best.source}]" if best else "")
        first_token = time.perf_counter()
        pieces = raw.split(" ")
        for i, piece in enumerate(pieces):
            if on_token is not None:
                on_token(piece if i == 0 else f" {piece}")
        grounded = ground_draft(
            raw, sources=sources, notes=prompt.notes, customer_name=customer_name, embedder=self._embedder
        )
        return make_result(
            grounded,
            sources=list(sources),
            model=self.model_name,
            raw_text=raw,
            prompt_tokens=sum(len(m["content"].split()) for m in prompt.messages),
            completion_tokens=len(pieces) if raw else 0,
            started=started,
            first_token=first_token,
            last_token=first_token,
        )
