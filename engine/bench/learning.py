"""Learning-loop bench: start from 10 % of TRAIN, replay the rest as tickets that agents confirm or correct.

The first model is trained on a stratified START_FRACTION of TRAIN. The other rows arrive as tickets in order
(seeded shuffle), BATCH at a time, each predicted by the active model; a simulated agent corrects every wrong
intent and confirms every right one (both become confirmed labels, as in the desk). Every RETRAIN_EVERY corrections
the product's retrain runs (`engine.feedback.retrain.retrain`: held-back slice, promote only if not worse), and the
replayed traffic ends with the nightly retrain, as a day in the desk does. accuracy_full is a model trained on all
of TRAIN; every accuracy is measured on TEST, which no model sees in training.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from engine.feedback.retrain import RetrainResult, accuracy, retrain
from engine.nlp.embedder import Embedder, MiniLMEmbedder
from engine.nlp.intent import IntentClassifier, IntentModelRegistry
from engine.nlp.labeled_csv import read_labeled_csv

log = logging.getLogger(__name__)

START_FRACTION = 0.10
RETRAIN_EVERY = 500
BATCH = 100
SEED = 0


def run(*, train: Path, test: Path, embedder: Embedder | None = None) -> dict[str, Any]:
    """Replay TRAIN through the learning loop; report accuracy on TEST at the start, the end, and with all of TRAIN."""
    texts, labels = read_labeled_csv(train)
    test_texts, test_labels = read_labeled_csv(test)
    embedder = embedder or MiniLMEmbedder()
    log.info("embedding %d training and %d test texts", len(texts), len(test_texts))
    vectors = _Vectors(embedder, texts + test_texts)
    start_rows, stream_rows = _split(labels)
    base = ([texts[i] for i in start_rows], [labels[i] for i in start_rows])
    test_vectors = vectors(test_texts)
    with tempfile.TemporaryDirectory(prefix="caredesk-learning-") as folder:
        registry = IntentModelRegistry(Path(folder) / "intent")
        first, _ = retrain(registry, base=base, confirmed=([], []), embed=vectors, trigger="initial")
        accuracy_start = accuracy(first, test_texts, test_labels, test_vectors)
        log.info("start: %d examples, test accuracy %.4f", len(start_rows), accuracy_start)
        replayed, runs = _replay(
            registry, base, [texts[i] for i in stream_rows], [labels[i] for i in stream_rows], vectors
        )
        active = registry.active()
        assert active is not None
        accuracy_end = accuracy(active[0], test_texts, test_labels, test_vectors)
    full = IntentClassifier()
    started = time.perf_counter()
    full.fit(texts, labels, vectors(texts))
    full_seconds = time.perf_counter() - started
    accuracy_full = accuracy(full, test_texts, test_labels, test_vectors)
    return {
        "accuracy_start": round(accuracy_start, 4),
        "accuracy_end": round(accuracy_end, 4),
        "accuracy_full": round(accuracy_full, 4),
        "retrain_seconds_max": round(max(r.seconds for r in runs), 2) if runs else 0.0,
        "retrain_cpu_seconds_max": round(max(r.cpu_seconds for r in runs), 2) if runs else 0.0,
        "retrains": len(runs),
        "promoted": sum(r.promoted for r in runs),
        "start_examples": len(start_rows),
        "tickets_replayed": len(stream_rows),
        "corrections": replayed["corrections"],
        "full_train_seconds": round(full_seconds, 2),
        "retrain_log": [
            {
                "trigger": trigger,
                "version": r.version,
                "promoted": r.promoted,
                "trained_on": r.trained_on,
                "held_back": r.held_back,
                "seconds": r.seconds,
                "cpu_seconds": r.cpu_seconds,
                "reason": r.reason,
            }
            for trigger, r in zip(replayed["triggers"], runs, strict=True)
        ],
    }


class _Vectors:
    """Embeds every distinct text once, then looks vectors up."""

    def __init__(self, embedder: Embedder, texts: Sequence[str]) -> None:
        distinct = list(dict.fromkeys(texts))
        self._matrix = embedder.encode(distinct)
        self._row = {text: i for i, text in enumerate(distinct)}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self._matrix[[self._row[t] for t in texts]] if texts else self._matrix[:0]


def _split(labels: list[str]) -> tuple[list[int], list[int]]:
    """Stratified start rows and the rest in a seeded random order."""
    rows = np.arange(len(labels))
    counts = {label: labels.count(label) for label in set(labels)}
    stratify = labels if min(counts.values()) >= 2 else None
    start, rest = train_test_split(rows, train_size=START_FRACTION, random_state=SEED, stratify=stratify)
    return sorted(int(i) for i in start), [int(i) for i in np.random.default_rng(SEED).permutation(rest)]


def _replay(
    registry: IntentModelRegistry,
    base: tuple[list[str], list[str]],
    texts: list[str],
    labels: list[str],
    vectors: _Vectors,
) -> tuple[dict[str, Any], list[RetrainResult]]:
    """Predict, correct, confirm, retrain every RETRAIN_EVERY corrections, then the nightly retrain."""
    confirmed: tuple[list[str], list[str]] = ([], [])
    runs: list[RetrainResult] = []
    triggers: list[str] = []
    pending = total = 0
    for start in range(0, len(texts), BATCH):
        batch_texts, batch_labels = texts[start : start + BATCH], labels[start : start + BATCH]
        active = registry.active()
        assert active is not None
        for prediction, gold, text in zip(
            active[0].predict(batch_texts, vectors(batch_texts)), batch_labels, batch_texts, strict=True
        ):
            wrong = prediction.is_unknown or prediction.label != gold
            pending, total = pending + wrong, total + wrong
            confirmed[0].append(text)
            confirmed[1].append(gold)
        if pending >= RETRAIN_EVERY:
            log.info("%d corrections after %d tickets: retraining", pending, start + len(batch_texts))
            runs.append(
                retrain(registry, base=base, confirmed=confirmed, embed=vectors, trigger=f"{pending} corrections")[1]
            )
            triggers.append(f"{pending} corrections")
            pending = 0
    log.info("end of the replayed traffic: nightly retrain")
    runs.append(retrain(registry, base=base, confirmed=confirmed, embed=vectors, trigger="nightly")[1])
    triggers.append("nightly")
    return {"corrections": total, "triggers": triggers}, runs
