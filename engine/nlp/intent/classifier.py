"""Intent classifier: an ensemble of embedding, lexical and nearest-example heads with calibrated confidence and an
explicit out-of-scope ("unknown") decision.

Training runs k-fold cross-validation once: the out-of-fold scores fit the head weights (which calibrate the
probabilities) and the reject threshold; the heads are then refitted on all rows. The threshold maximises the mean of
in-scope accuracy and out-of-scope recall on out-of-fold predictions. It applies to an in-scope score, the calibrated
confidence times the cosine similarity to the closest in-scope training example (on the pseudo out-of-scope rows of
HINT3 dev splits this separated better than the confidence alone). Out-of-scope examples come from
 - rows labelled `oos_label` when the training data has them (they also train an extra "out of scope" class), or
 - when `oos_label` is given but no row carries it, leave-classes-out runs: each group of intents is left out of
   training in turn and its rows play the out-of-scope queries, or
 - nowhere when `oos_label` is None (or there are fewer than 3 intents to leave out): the model is closed-set and
   never answers "unknown"; callers route on the confidence alone.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from engine.nlp.intent.calibration import balanced_threshold, combine, fit_weights
from engine.nlp.intent.heads import Head, fit_heads, head_scores
from engine.nlp.intent.metrics import expected_calibration_error
from engine.nlp.labeled_csv import LabeledDataError

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
MODEL_FILE = "intent_model.joblib"
FORMAT = 1
FOLDS = 5
LEFT_OUT_GROUPS = 5
SEED = 0
NEAREST_HEAD = 2

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class IntentPrediction:
    """One text's intent: `label` is UNKNOWN when rejected as out of scope."""

    label: str
    confidence: float  # calibrated probability that the best in-scope label is right
    is_unknown: bool
    alternatives: list[tuple[str, float]]  # top 3 in-scope (label, probability)
    heads_agree: bool = True  # every classifier of the ensemble ranks `label` (or the best guess) first


def training_data_hash(texts: list[str], labels: list[str]) -> str:
    """Order-independent SHA-256 of the (text, label) pairs a model was trained on."""
    digest = hashlib.sha256()
    for text, label in sorted(zip(texts, labels, strict=True)):
        digest.update(f"{len(text)}:{text}\t{len(label)}:{label}\n".encode())
    return digest.hexdigest()


def _no_progress(fraction: float, message: str) -> None:
    """Default progress sink."""


class IntentClassifier:
    """Trains on labelled texts plus their embeddings; predicts intent, calibrated confidence and "unknown"."""

    def __init__(self) -> None:
        self._labels: list[str] = []
        self._oos_column = False  # the last class column is "out of scope", learnt from oos_label rows
        self._heads: list[Head] = []
        self._weights = np.zeros(0)
        self._threshold: float | None = None

    @property
    def labels(self) -> list[str]:
        """The in-scope intents, sorted."""
        return list(self._labels)

    @property
    def threshold(self) -> float | None:
        """In-scope score (confidence x similarity to the closest example) below which a text is "unknown"; None
        for a closed-set model."""
        return self._threshold

    def fit(
        self,
        texts: list[str],
        labels: list[str],
        embeddings: np.ndarray,
        *,
        oos_label: str | None = None,
        progress: Progress | None = None,
    ) -> dict[str, float]:
        """Train from scratch; return cross-validated metrics. Raises LabeledDataError for unusable data."""
        with threadpool_limits(limits=1):  # BLAS threads on small matrices only fight each other (10x slower here)
            return self._fit(texts, labels, embeddings, oos_label, progress or _no_progress)

    def _fit(
        self, texts: list[str], labels: list[str], embeddings: np.ndarray, oos_label: str | None, report: Progress
    ) -> dict[str, float]:
        started = time.perf_counter()
        _check_input(texts, labels, embeddings, oos_label)
        in_scope = sorted({label for label in labels if label != oos_label})
        has_oos_rows = oos_label is not None and oos_label in labels
        classes = in_scope + ([oos_label] if has_oos_rows and oos_label else [])
        index = {label: i for i, label in enumerate(classes)}
        y = np.array([index[label] for label in labels])
        vectors = np.asarray(embeddings, dtype=np.float32)
        n_in = len(in_scope)
        runs = FOLDS + 1 + (LEFT_OUT_GROUPS if oos_label is not None and not has_oos_rows else 0)
        done = 0

        def step(message: str) -> None:
            nonlocal done
            report(done / runs, message)
            done += 1

        oof, seen = _out_of_fold_scores(texts, vectors, y, len(classes), step)
        weights = fit_weights(oof[:, seen], y[seen])
        probs = combine(oof, weights)
        conf = probs[:, :n_in].max(axis=1)
        scope = _scope(oof, probs, n_in)
        best = probs.argmax(axis=1)
        right = best == y
        is_in = y < n_in
        metrics = {
            "cv_accuracy": float(right[is_in].mean()),
            "cv_ece": expected_calibration_error(conf[is_in], right[is_in]),
        }
        threshold: float | None = None
        oos_scope: np.ndarray | None = None
        if has_oos_rows:
            oos_scope = np.where(best[~is_in] == n_in, -np.inf, scope[~is_in])
        elif oos_label is not None and n_in >= 3:
            oos_scope = _left_out_scope(texts, vectors, y, n_in, weights, step)
        if oos_scope is not None:
            threshold = balanced_threshold(scope[is_in], right[is_in], oos_scope)
            metrics["cv_oos_recall"] = float((oos_scope < threshold).mean())
            metrics["reject_threshold"] = threshold
        kept = scope[is_in] >= threshold if threshold is not None else np.ones(int(is_in.sum()), dtype=bool)
        metrics["cv_in_scope_kept"] = float(kept.mean())
        metrics["cv_in_scope_accuracy"] = float((kept & right[is_in]).mean())
        step(f"training the final model on {len(texts)} examples")
        self._heads = fit_heads(texts, vectors, y, len(classes))
        self._labels, self._oos_column = in_scope, has_oos_rows
        self._weights, self._threshold = weights, threshold
        metrics.update(n_examples=float(len(texts)), n_labels=float(n_in))
        metrics["train_seconds"] = time.perf_counter() - started
        report(1.0, "intent model trained")
        log.info("intent model: %s", {k: round(v, 4) for k, v in metrics.items()})
        return metrics

    def predict(self, texts: list[str], embeddings: np.ndarray) -> list[IntentPrediction]:
        """Best intent, calibrated confidence and top-3 alternatives for each text."""
        if not self._heads:
            raise RuntimeError("the intent classifier is not trained")
        if not texts:
            return []
        with threadpool_limits(limits=1):
            scores = head_scores(self._heads, texts, np.asarray(embeddings, dtype=np.float32))
        probs = combine(scores, self._weights)
        n_in = len(self._labels)
        scope = _scope(scores, probs, n_in)
        in_probs = probs[:, :n_in]
        top = np.argsort(-in_probs, axis=1)[:, :3]
        agree = (scores[:, :, :n_in].argmax(axis=2) == top[:, 0][None, :]).all(axis=0)
        out: list[IntentPrediction] = []
        for row, order in enumerate(top):
            confidence = float(in_probs[row, order[0]])
            beaten = self._oos_column and probs[row, n_in] > confidence
            unknown = bool(beaten or (self._threshold is not None and scope[row] < self._threshold))
            out.append(
                IntentPrediction(
                    label=UNKNOWN if unknown else self._labels[order[0]],
                    confidence=confidence,
                    is_unknown=unknown,
                    alternatives=[(self._labels[i], float(in_probs[row, i])) for i in order],
                    heads_agree=bool(agree[row]),
                )
            )
        return out

    def save(self, directory: Path) -> None:
        """Write the model into `directory` (created if needed)."""
        directory.mkdir(parents=True, exist_ok=True)
        state = {
            "format": FORMAT,
            "labels": self._labels,
            "oos_column": self._oos_column,
            "heads": self._heads,
            "weights": self._weights,
            "threshold": self._threshold,
        }
        joblib.dump(state, directory / MODEL_FILE)

    @classmethod
    def load(cls, directory: Path) -> IntentClassifier:
        """Read a model written by `save`."""
        state = joblib.load(directory / MODEL_FILE)
        if state.get("format") != FORMAT:
            raise ValueError(f"{directory}: intent model format {state.get('format')} is not {FORMAT}")
        model = cls()
        model._labels, model._oos_column = list(state["labels"]), bool(state["oos_column"])
        model._heads, model._weights = state["heads"], np.asarray(state["weights"])
        model._threshold = None if state["threshold"] is None else float(state["threshold"])
        return model


def _check_input(texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray, oos_label: str | None) -> None:
    if not texts:
        raise LabeledDataError("no training examples")
    if len(texts) != len(labels) or len(texts) != len(embeddings):
        raise LabeledDataError(f"{len(texts)} texts, {len(labels)} labels and {len(embeddings)} embeddings differ")
    for row, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
        if not text.strip() or not label.strip():
            raise LabeledDataError(f"example {row} has an empty {'text' if not text.strip() else 'label'}")
    in_scope = {label for label in labels if label != oos_label}
    if len(in_scope) < 2:
        raise LabeledDataError(f"needs at least 2 different intents, found {sorted(in_scope)}")


def _out_of_fold_scores(
    texts: Sequence[str], vectors: np.ndarray, y: np.ndarray, n_classes: int, step: Callable[[str], None]
) -> tuple[np.ndarray, np.ndarray]:
    """Stacked head scores of every row from heads that did not see it, and which rows' class those heads knew."""
    folds = min(FOLDS, len(y))
    oof = np.zeros((3, len(y), n_classes))
    seen = np.zeros(len(y), dtype=bool)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        splits = list(splitter.split(vectors, y))
    text_array = np.asarray(texts, dtype=object)
    for fold, (fit_rows, held_rows) in enumerate(splits, start=1):
        step(f"cross-validation fold {fold}/{folds}")
        heads = fit_heads(list(text_array[fit_rows]), vectors[fit_rows], y[fit_rows], n_classes)
        oof[:, held_rows] = head_scores(heads, list(text_array[held_rows]), vectors[held_rows])
        seen[held_rows] = np.isin(y[held_rows], y[fit_rows])
    return oof, seen


def _scope(scores: np.ndarray, probs: np.ndarray, n_in: int) -> np.ndarray:
    """In-scope score: best-label probability times cosine similarity to the closest in-scope training example."""
    return probs[:, :n_in].max(axis=1) * scores[NEAREST_HEAD][:, :n_in].max(axis=1)


def _left_out_scope(
    texts: Sequence[str],
    vectors: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    weights: np.ndarray,
    step: Callable[[str], None],
) -> np.ndarray:
    """In-scope score of each row from heads trained without its intent: stand-ins for out-of-scope texts."""
    rng = np.random.default_rng(SEED)
    group_of_class = rng.permutation(n_classes) % min(LEFT_OUT_GROUPS, n_classes)
    groups = group_of_class[y]
    scope = np.zeros(len(y))
    text_array = np.asarray(texts, dtype=object)
    for group in range(LEFT_OUT_GROUPS):
        step(f"leave-intents-out run {group + 1}/{LEFT_OUT_GROUPS}")
        out, keep = groups == group, groups != group
        if not out.any():
            continue
        heads = fit_heads(list(text_array[keep]), vectors[keep], y[keep], n_classes)
        scores = head_scores(heads, list(text_array[out]), vectors[out])
        scope[out] = _scope(scores, combine(scores, weights), n_classes)
    return scope
