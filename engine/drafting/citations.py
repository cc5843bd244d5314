"""Citation check: every [n] must name a retrieved source, and every claim must be supported by what it cites.

The rule, per sentence of the draft:
- A sentence made only of stopwords and courtesy words ("Thank you for reaching out.") is a courtesy sentence:
  it states nothing a source must back, needs no citation and is left out of `supported_rate`.
- Every other sentence is a claim. Its score against one source is the lexical coverage: the share of the
  claim's content words (stemmed, stopwords and courtesy words removed) found in one sentence, or two adjacent
  sentences, of the source (with the source's title and heading), at best. A claim stitched together from words
  scattered over a whole passage does not pass. With an embedder, the score is the larger of that coverage and
  (best cosine between the claim and one sentence of the source) - EMBED_MARGIN, so a paraphrase sharing few
  words passes on meaning alone only when its cosine reaches 0.8.
- A number stated in the claim (an amount, a count of days) that the source does not state sets the score to 0:
  the draft must never invent a figure.
- A claim is supported when its best score over the sources it cites is >= SUPPORT_THRESHOLD (0.6, i.e. at least
  three of five content words come from the source). A claim citing nothing valid is unsupported.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from engine.drafting.sources import Source
from engine.drafting.text import CITATION, citations_in, content_words, numbers_in, split_sentences, strip_citations
from engine.nlp.embedder import Embedder

log = logging.getLogger(__name__)

SUPPORT_THRESHOLD = 0.6
EMBED_MARGIN = 0.2


@dataclass(frozen=True)
class SentenceSupport:
    """One sentence of a draft: the sources it cites, whether they support it, and how strongly (0..1)."""

    sentence: str
    cited: list[int]
    supported: bool
    score: float
    courtesy: bool = False


@dataclass(frozen=True)
class CitationReport:
    """The checked draft: text with invalid markers removed, per-sentence support and the two rates."""

    text: str
    sentences: list[SentenceSupport]
    invalid_citations: list[int] = field(default_factory=list)
    citation_valid_rate: float = 1.0
    supported_rate: float = 1.0

    @property
    def claims(self) -> list[SentenceSupport]:
        """The sentences that state something (courtesy sentences left out)."""
        return [s for s in self.sentences if not s.courtesy]

    @property
    def highlighted(self) -> list[str]:
        """Claims no cited source supports: the agent must check these."""
        return [s.sentence for s in self.claims if not s.supported]


class SupportScorer:
    """Scores how well each source backs a sentence (see the module docstring for the rule)."""

    def __init__(self, sources: Sequence[Source], embedder: Embedder | None = None) -> None:
        self._sources = {s.n: s for s in sources}
        self._units = {s.n: _passages(s) for s in sources}
        self._numbers = {s.n: numbers_in(s.text) for s in sources}
        self._embedder = embedder
        self._sentence_vectors: dict[int, np.ndarray] = {}
        if embedder is not None and sources:
            pieces = [(s.n, p) for s in sources for p in split_sentences(s.text)]
            vectors = embedder.encode([p for _, p in pieces])
            for n in self._sources:
                rows = [i for i, (m, _) in enumerate(pieces) if m == n]
                self._sentence_vectors[n] = vectors[rows] if rows else np.zeros((0, embedder.dim), np.float32)

    def scores(self, sentences: Sequence[str]) -> list[dict[int, float]]:
        """For each sentence, its score against every source, keyed by source number."""
        vectors = self._embedder.encode([strip_citations(s) for s in sentences]) if self._embedder else None
        out: list[dict[int, float]] = []
        for i, sentence in enumerate(sentences):
            words = content_words(sentence)
            numbers = numbers_in(sentence)
            row: dict[int, float] = {}
            for n in self._sources:
                if numbers - self._numbers[n]:
                    row[n] = 0.0
                    continue
                score = max((len(words & unit) / len(words) for unit in self._units[n]), default=0.0) if words else 0.0
                if vectors is not None and len(self._sentence_vectors[n]):
                    score = max(score, float(np.max(self._sentence_vectors[n] @ vectors[i])) - EMBED_MARGIN)
                row[n] = round(score, 3)
            out.append(row)
        return out


def _passages(source: Source) -> list[set[str]]:
    """Content words of each sentence and each pair of adjacent sentences of a source, with its title and heading."""
    context = content_words(f"{source.title} {source.heading}")
    sentences = [content_words(p) for p in split_sentences(source.text)] or [set()]
    pairs = [a | b for a, b in pairwise(sentences)]
    return [context | unit for unit in [*sentences, *pairs]]


def is_courtesy(sentence: str) -> bool:
    """True when a sentence has no content words: a greeting, thanks or closing."""
    return not content_words(sentence)


def remove_invalid_citations(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Drop the numbers of a marker that name no retrieved source; returns the text and the numbers dropped."""
    invalid: list[int] = []

    def fix(match: re.Match[str]) -> str:
        numbers = [int(p) for p in re.findall(r"\d+", match.group(1))]
        invalid.extend(n for n in numbers if n not in valid)
        return "".join(f"[{n}]" for n in dict.fromkeys(numbers) if n in valid)

    cleaned = CITATION.sub(fix, text)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    return re.sub(r"[ \t]+([.,!?;:])", r"\1", cleaned).strip(), invalid


def check_citations(text: str, sources: list[Source], embedder: Embedder | None = None) -> CitationReport:
    """Check every [n] against the retrieved sources and every sentence for support by what it cites."""
    valid = {s.n for s in sources}
    total_markers = sum(len(re.findall(r"\d+", m.group(1))) for m in CITATION.finditer(text))
    cleaned, invalid = remove_invalid_citations(text, valid)
    sentences = split_sentences(cleaned)
    scorer = SupportScorer(sources, embedder)
    claim_sentences = [s for s in sentences if not is_courtesy(s)]
    scores = dict(zip(claim_sentences, scorer.scores(claim_sentences), strict=True))
    results: list[SentenceSupport] = []
    for sentence in sentences:
        cited = citations_in(sentence)
        if sentence not in scores:
            results.append(SentenceSupport(sentence, cited, supported=True, score=1.0, courtesy=True))
            continue
        best = max((scores[sentence][n] for n in cited), default=0.0)
        results.append(SentenceSupport(sentence, cited, supported=best >= SUPPORT_THRESHOLD, score=best))
    claims = [r for r in results if not r.courtesy]
    report = CitationReport(
        text=cleaned,
        sentences=results,
        invalid_citations=invalid,
        citation_valid_rate=(total_markers - len(invalid)) / total_markers if total_markers else 1.0,
        supported_rate=sum(r.supported for r in claims) / len(claims) if claims else 0.0,
    )
    if invalid:
        log.info("removed %d citation(s) to sources that were not retrieved: %s", len(invalid), invalid)
    return report
