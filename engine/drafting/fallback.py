"""When a model reply is unusable, and the extractive draft that replaces it.

The rule: a model reply is unusable when, after invalid citations are removed and well-supported sentences
without a marker get one, it
- is empty, or states nothing (no sentence beyond greetings and thanks), or
- cites no retrieved source at all, or
- has fewer than MIN_SUPPORTED_RATE (2 in 3) of its claims supported by the source they cite.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.drafting.citations import CitationReport
from engine.drafting.relevance import RankedSentence
from engine.drafting.text import cite_at_end

MIN_SUPPORTED_RATE = 2 / 3
MAX_FALLBACK_SENTENCES = 3
HOLDING_LINE = "Thank you for your patience while I look into this."


def unusable_reason(report: CitationReport) -> str:
    """Why a checked model reply cannot be offered as the draft, in plain words; empty when it can."""
    claims = report.claims
    if not report.sentences:
        return "No model reply was available, so the draft quotes the best source."
    if not claims:
        return "The model's reply said nothing the knowledge base could back, so the draft quotes the best source."
    if not any(c.cited for c in claims):
        return "The model's reply cited no retrieved source, so the draft quotes the best source."
    supported = sum(c.supported for c in claims)
    if supported / len(claims) < MIN_SUPPORTED_RATE:
        return (
            f"Only {supported} of {len(claims)} sentences of the model's reply were backed by the source they cite, "
            "so the draft quotes the best source."
        )
    return ""


def extractive_body(notes: Sequence[RankedSentence]) -> str:
    """The 1-3 most relevant source sentences, each with its [n]; a holding line when no source matched."""
    if not notes:
        return HOLDING_LINE
    return " ".join(cite_at_end(note.sentence, f"[{note.source}]") for note in notes[:MAX_FALLBACK_SENTENCES])
