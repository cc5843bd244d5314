"""Quality measures of intent predictions: accuracy with out-of-scope rows, macro F1, calibration, coverage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sklearn.metrics import f1_score

ECE_BINS = 15
HIGH_CONFIDENCE = 0.90
REJECTED = "\x00rejected"  # the "class" of out-of-scope rows in macro F1; cannot clash with a real label


class Prediction(Protocol):
    """What `evaluate` reads from an IntentPrediction."""

    @property
    def confidence(self) -> float: ...

    @property
    def is_unknown(self) -> bool: ...

    @property
    def alternatives(self) -> list[tuple[str, float]]: ...


def expected_calibration_error(confidence: np.ndarray, right: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by the rows in each bin."""
    confidence = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(right, dtype=np.float64)
    if len(confidence) == 0:
        return 0.0
    bin_of = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in np.unique(bin_of):
        members = bin_of == b
        total += members.sum() * abs(confidence[members].mean() - right[members].mean())
    return float(total / len(confidence))


def evaluate(predictions: Sequence[Prediction], gold: Sequence[str], oos_label: str | None) -> dict[str, float | None]:
    """Scores of predictions against gold labels; gold `oos_label` rows are right only when answered "unknown".

    The confidence is the probability that the best in-scope label is right, so calibration and coverage judge that
    label (never right for an out-of-scope row).
    """
    gold_arr = np.array(gold, dtype=object)
    is_oos = gold_arr == oos_label if oos_label is not None else np.zeros(len(gold_arr), dtype=bool)
    unknown = np.array([p.is_unknown for p in predictions], dtype=bool)
    best = np.array([p.alternatives[0][0] for p in predictions], dtype=object)
    confidence = np.array([p.confidence for p in predictions])
    best_right = (best == gold_arr) & ~is_oos
    right = np.where(is_oos, unknown, best_right & ~unknown)
    covered = ~unknown & (confidence >= HIGH_CONFIDENCE)
    true_labels = np.where(is_oos, REJECTED, gold_arr)
    predicted = np.where(unknown, REJECTED, best)
    return {
        "accuracy": float(right.mean()),
        "macro_f1": float(f1_score(list(true_labels), list(predicted), average="macro", zero_division=0)),
        "ece": expected_calibration_error(confidence, best_right),
        "coverage_at_90": float(covered.mean()),
        "error_at_90": float(1.0 - best_right[covered].mean()) if covered.any() else None,
        "in_scope_accuracy": float(right[~is_oos].mean()) if (~is_oos).any() else None,
        "oos_recall": float(unknown[is_oos].mean()) if is_oos.any() else None,
    }
