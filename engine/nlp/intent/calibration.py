"""Turn head scores into calibrated probabilities, and pick the out-of-scope threshold, from out-of-fold predictions."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax


def combine(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Class probabilities from stacked head scores (n_heads, n, n_classes): softmax of their weighted sum."""
    return np.exp(log_softmax(np.tensordot(weights, scores, axes=1), axis=1))


def fit_weights(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Positive head weights that minimise the log loss of `combine` on out-of-fold scores.

    The weights mix the heads and set the temperature at once, so the result is calibrated on data the heads did not
    see (temperature scaling with one temperature per head).
    """
    rows = np.arange(len(y))

    def loss(log_weights: np.ndarray) -> float:
        logits = np.tensordot(np.exp(log_weights), scores, axes=1)
        return float(-log_softmax(logits, axis=1)[rows, y].mean())

    start = np.zeros(scores.shape[0])
    result = minimize(loss, start, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-6, "maxiter": 600})
    return np.exp(result.x)


def balanced_threshold(in_conf: np.ndarray, in_right: np.ndarray, oos_conf: np.ndarray) -> float:
    """Score below which to answer "unknown", maximising the mean of in-scope accuracy and out-of-scope recall.

    `in_right` marks in-scope rows whose best label is right (and not out of scope); out-of-scope rows that the model
    already sends to the out-of-scope class should have `oos_conf = -inf`. Equal weight for both sides means the
    threshold does not depend on how many out-of-scope rows the training data happens to hold.
    """
    candidates = np.unique(np.concatenate([in_conf, oos_conf[np.isfinite(oos_conf)], [0.0]]))
    in_sorted = np.sort(in_conf[in_right])
    oos_sorted = np.sort(oos_conf)
    accepted_right = (len(in_sorted) - np.searchsorted(in_sorted, candidates, side="left")) / max(len(in_conf), 1)
    rejected = np.searchsorted(oos_sorted, candidates, side="left") / max(len(oos_conf), 1)
    score = accepted_right + rejected
    best = int(np.argmax(score))
    if best == 0:
        return float(candidates[0])
    return float((candidates[best - 1] + candidates[best]) / 2)
