"""Model quality: the AI's intent and confidence against what agents confirmed, from the review and count queries.

A ticket's intent and confidence on the ticket row are the AI's latest prediction unless an agent overrode the intent;
for overridden tickets the review queries read the prediction from the latest triage row, and the per-intent counts
and the confidence histogram are corrected by those tickets, so every chart shows what the model predicted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.kpi.queries import BINS, CheckGroup, ConfidenceCount, PairGroup

NOT_TRIAGED = "(not triaged)"


@dataclass(frozen=True)
class IntentCount:
    intent: str
    tickets: int


@dataclass(frozen=True)
class ConfusionCell:
    ai_intent: str
    confirmed: str
    tickets: int


@dataclass(frozen=True)
class IntentQuality:
    """Per predicted intent: how often agents confirmed it (precision) and how often they overrode it."""

    intent: str
    predicted: int
    reviewed: int
    correct: int
    overrides: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.reviewed if self.reviewed else None

    @property
    def override_rate(self) -> float | None:
        return self.overrides / self.predicted if self.predicted else None


@dataclass(frozen=True)
class ConfidenceBin:
    """One confidence bin: every prediction (histogram) and the reviewed ones (reliability diagram)."""

    low: float
    high: float
    predicted: int
    reviewed: int
    reviewed_confidence_sum: float
    correct: int

    @property
    def mean_confidence(self) -> float | None:
        return self.reviewed_confidence_sum / self.reviewed if self.reviewed else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.reviewed if self.reviewed else None


@dataclass(frozen=True)
class EditDistance:
    """Drafts sent per confirmed intent: how many were edited and by how many characters on average."""

    intent: str
    sent: int
    edited: int
    mean_distance: float
    max_distance: int


def intent_mix(intents: Mapping[str | None, int]) -> list[IntentCount]:
    """Tickets per current intent (corrections applied), largest first."""
    counts: dict[str, int] = defaultdict(int)
    for intent, tickets in intents.items():
        counts[intent or NOT_TRIAGED] += tickets
    return [IntentCount(i, n) for i, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def confidence_bins(counts: Iterable[ConfidenceCount], checks: Iterable[CheckGroup]) -> list[ConfidenceBin]:
    """Every confidence bin of the AI's predictions, with the agent-reviewed ones and how many were right."""
    predicted = [0] * BINS
    reviewed = [0] * BINS
    confidence = [0.0] * BINS
    correct = [0] * BINS
    for c in counts:
        if c.bin is not None:
            predicted[c.bin] += c.tickets
    for g in checks:
        if g.overridden and g.current_bin is not None:
            predicted[g.current_bin] -= g.tickets
        if g.overridden and g.ai_bin is not None:
            predicted[g.ai_bin] += g.tickets
        if g.ai_bin is not None and g.checked:
            reviewed[g.ai_bin] += g.tickets
            confidence[g.ai_bin] += g.ai_confidence_sum
            correct[g.ai_bin] += g.tickets if g.correct else 0
    return [
        ConfidenceBin(i / BINS, (i + 1) / BINS, predicted[i], reviewed[i], confidence[i], correct[i])
        for i in range(BINS)
    ]


def mean_confidence(counts: Iterable[ConfidenceCount], checks: Iterable[CheckGroup]) -> float | None:
    """Mean confidence of the AI's predictions in the period."""
    scored = [c for c in counts if c.bin is not None]
    count = sum(c.tickets for c in scored)
    total = sum(c.confidence_sum for c in scored)
    for g in (g for g in checks if g.overridden):
        if g.current_bin is not None:
            count -= g.tickets
            total -= g.current_confidence_sum
        if g.ai_bin is not None:
            count += g.tickets
            total += g.ai_confidence_sum
    return total / count if count > 0 else None


def confusion(pairs: Iterable[PairGroup]) -> list[ConfusionCell]:
    """AI intent against agent-confirmed intent, over the period's tickets an agent confirmed or corrected."""
    cells: dict[tuple[str, str], int] = defaultdict(int)
    for g in pairs:
        if g.ai_intent is not None and g.confirmed is not None:
            cells[(g.ai_intent, g.confirmed)] += g.tickets
    return [ConfusionCell(ai, confirmed, n) for (ai, confirmed), n in sorted(cells.items())]


def intent_quality(intents: Mapping[str | None, int], pairs: Iterable[PairGroup]) -> list[IntentQuality]:
    """Precision and override rate per intent the AI predicted, worst precision first."""
    predicted: dict[str, int] = defaultdict(int)
    for intent, tickets in intents.items():
        if intent is not None:
            predicted[intent] += tickets
    reviewed: dict[str, int] = defaultdict(int)
    correct: dict[str, int] = defaultdict(int)
    overrides: dict[str, int] = defaultdict(int)
    for g in pairs:
        if g.ai_intent is None:
            continue
        if g.overridden:
            if g.confirmed is not None:
                predicted[g.confirmed] -= g.tickets
            predicted[g.ai_intent] += g.tickets
            overrides[g.ai_intent] += g.tickets
        if g.confirmed is not None:
            reviewed[g.ai_intent] += g.tickets
            correct[g.ai_intent] += g.tickets if g.confirmed == g.ai_intent else 0
    rows = [
        IntentQuality(intent, count, reviewed[intent], correct[intent], overrides[intent])
        for intent, count in predicted.items()
        if count > 0
    ]
    return sorted(rows, key=lambda r: (r.precision if r.precision is not None else 2.0, r.intent))


def edit_distances(pairs: Iterable[PairGroup]) -> list[EditDistance]:
    """Drafts sent per confirmed intent, with mean and max edit distance, most edited first."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for g in pairs:
        if g.sends:
            total = totals[g.confirmed or NOT_TRIAGED]
            total[0] += g.sends
            total[1] += g.edits
            total[2] += g.distance_sum
            total[3] = max(total[3], g.distance_max)
    rows = [EditDistance(i, int(s), int(e), d / s, int(m)) for i, (s, e, d, m) in totals.items()]
    return sorted(rows, key=lambda r: (-r.mean_distance, r.intent))
