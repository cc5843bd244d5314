"""Which sentences of the sources matter for a customer's message: lexical overlap, plus embeddings when given."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.drafting.sources import Source
from engine.drafting.text import content_words, split_sentences
from engine.nlp.embedder import Embedder


@dataclass(frozen=True)
class RankedSentence:
    """One sentence of a source with its relevance to the message (0..1) and its place in the source."""

    source: int
    position: int
    sentence: str
    score: float


class SentenceRanker:
    """Ranks source sentences by relevance to a message: set-cosine of content words, averaged with the
    embedding cosine when an embedder is given."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder

    def rank(self, message: str, sources: Sequence[Source]) -> list[RankedSentence]:
        """Every sentence of every source, most relevant first."""
        pieces = [(s, i, p) for s in sources for i, p in enumerate(split_sentences(s.text))]
        if not pieces:
            return []
        query = content_words(message)
        scores = [_overlap(query, content_words(f"{s.heading} {p}")) for s, _, p in pieces]
        if self._embedder is not None:
            vectors = self._embedder.encode([*(p for _, _, p in pieces), message])
            cosines = vectors[:-1] @ vectors[-1]
            scores = [0.5 * lex + 0.5 * max(float(cos), 0.0) for lex, cos in zip(scores, cosines, strict=True)]
        ranked = [
            RankedSentence(source=s.n, position=i, sentence=p, score=round(score, 4))
            for (s, i, p), score in zip(pieces, scores, strict=True)
        ]
        # ties go to the better-ranked source, then to the earlier sentence
        return sorted(ranked, key=lambda r: (-r.score, r.source, r.position))


def _overlap(query: set[str], words: set[str]) -> float:
    if not query or not words:
        return 0.0
    return len(query & words) / math.sqrt(len(query) * len(words))
