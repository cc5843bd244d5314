"""Intent bench: train from scratch on a `text,label` CSV with the real MiniLM embeddings, evaluate on another.

`train_seconds` counts embedding the training texts plus fitting (not loading the embedding model, a one-off at app
start); `predict_per_second` counts embedding plus classifying the test texts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from engine.nlp.embedder import MiniLMEmbedder
from engine.nlp.intent import IntentClassifier, evaluate
from engine.nlp.labeled_csv import read_labeled_csv

log = logging.getLogger(__name__)


def run(*, train: Path, test: Path, oos_label: str | None) -> dict[str, Any]:
    """Train on TRAIN, evaluate on TEST; rows labelled `oos_label` are out of scope."""
    train_texts, train_labels = read_labeled_csv(train)
    test_texts, test_labels = read_labeled_csv(test, min_classes=1)
    log.info("intent bench: %d training rows, %d test rows", len(train_texts), len(test_texts))
    embedder = MiniLMEmbedder()
    embedder.load()

    started = time.perf_counter()
    log.info("embedding training texts")
    train_vectors = embedder.encode(train_texts, show_progress=True)
    model = IntentClassifier()
    with tqdm(total=100, desc="training", unit="%") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(round(fraction * 100) - bar.n)

        fit_metrics = model.fit(train_texts, train_labels, train_vectors, oos_label=oos_label, progress=progress)
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    log.info("embedding and classifying test texts")
    test_vectors = embedder.encode(test_texts, show_progress=True)
    predictions = model.predict(test_texts, test_vectors)
    predict_seconds = time.perf_counter() - started

    result: dict[str, Any] = evaluate(predictions, test_labels, oos_label)
    result.update(
        train_seconds=round(train_seconds, 2),
        predict_per_second=round(len(test_texts) / predict_seconds, 1),
        n_train=len(train_texts),
        n_test=len(test_texts),
        reject_threshold=fit_metrics.get("reject_threshold"),
    )
    return result
