"""From raw model output to the draft an agent sees: cleaned, citations repaired and checked, or the fallback."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.drafting.citations import SUPPORT_THRESHOLD, CitationReport, SupportScorer, check_citations, is_courtesy
from engine.drafting.fallback import extractive_body, unusable_reason
from engine.drafting.relevance import RankedSentence
from engine.drafting.sources import Source
from engine.drafting.text import CITATION, citations_in, cite_at_end, split_sentences, strip_citations
from engine.nlp.embedder import Embedder

MAX_BODY_SENTENCES = 5
CLOSING = "Kind regards"
_LABEL = re.compile(r"^\s*(?:reply|answer|agent|response|assistant)\s*:\s*", re.IGNORECASE)
_ECHO = re.compile(r"^\s*(?:customer|notes?|sources?|earlier tickets|conversation so far)\b.*:", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_LEADING_MARKERS = re.compile(r"^((?:\s*\[[^\]]*\d[^\]]*\])+)\s*(.+)$")
_SALUTATION = re.compile(
    r"^(?:hi|hello|hey|dear|greetings)\b|^(?:best|kind|warm)?\s*regards\b|^sincerely\b", re.IGNORECASE
)


@dataclass(frozen=True)
class GroundedDraft:
    """The final draft text, its checked body, and whether it is the extractive fallback (and why)."""

    text: str
    report: CitationReport
    is_fallback: bool
    fallback_reason: str
    confidence: float
    raw_citation_valid_rate: float


def greeting(customer_name: str | None) -> str:
    """The first line of every draft."""
    name = (customer_name or "").strip().split(" ")[0]
    return f"Hi {name}," if name else "Hello,"


def ground_draft(
    raw: str,
    *,
    sources: Sequence[Source],
    notes: Sequence[RankedSentence],
    customer_name: str | None = None,
    truncated: bool = False,
    embedder: Embedder | None = None,
) -> GroundedDraft:
    """Clean the model's reply, repair and check its citations, and fall back to quoting the sources if unusable."""
    source_list = list(sources)
    raw_report = check_citations(raw, source_list)
    body = attach_missing_citations(clean_reply(raw, truncated=truncated), source_list, embedder)
    report = check_citations(body, source_list, embedder)
    reason = unusable_reason(report)
    if reason:
        report = check_citations(extractive_body(notes), source_list, embedder)
    relevance = notes[0].score if notes else 0.0
    text = "\n\n".join([greeting(customer_name), " ".join(s.sentence for s in report.sentences), CLOSING])
    return GroundedDraft(
        text=text,
        report=report,
        is_fallback=bool(reason),
        fallback_reason=reason,
        confidence=round(report.supported_rate * min(max(relevance, 0.0), 1.0), 3),
        raw_citation_valid_rate=raw_report.citation_valid_rate,
    )


def clean_reply(raw: str, *, truncated: bool = False) -> str:
    """Drop echoed prompt lines, bullets, greetings, repeats and a cut-off last sentence; one sentence a line."""
    sentences: list[str] = []
    seen: set[str] = set()
    for line in raw.splitlines():
        if _ECHO.match(line):
            continue
        line = _BULLET.sub("", _LABEL.sub("", line)).strip()
        moved = _LEADING_MARKERS.match(line)
        if moved:  # "[1] Some text." -> "Some text [1]."
            line = cite_at_end(moved.group(2), moved.group(1).strip())
        for sentence in split_sentences(line):
            key = " ".join(strip_citations(sentence).lower().split())
            if not key or key in seen or _SALUTATION.match(key):
                continue
            seen.add(key)
            sentences.append(sentence)
    if truncated and sentences and not re.search(r"[.!?]\s*(?:\[\d+\]\s*)*$|\]$", sentences[-1]):
        sentences.pop()
    return "\n".join(sentences[:MAX_BODY_SENTENCES])


def attach_missing_citations(body: str, sources: list[Source], embedder: Embedder | None = None) -> str:
    """Give a claim without a valid marker the source that supports it best, when that support passes the threshold."""
    valid = {s.n for s in sources}
    sentences = split_sentences(body)
    needing = [s for s in sentences if not is_courtesy(s) and not set(citations_in(s)) & valid]
    if not needing or not sources:
        return body
    best = {
        sentence: max(scores.items(), key=lambda item: (item[1], -item[0]))
        for sentence, scores in zip(needing, SupportScorer(sources, embedder).scores(needing), strict=True)
    }
    out = []
    for sentence in sentences:
        if sentence in best and best[sentence][1] >= SUPPORT_THRESHOLD:
            sentence = cite_at_end(CITATION.sub("", sentence).strip(), f"[{best[sentence][0]}]")
        out.append(sentence)
    return "\n".join(out)
