"""Sentiment bench: train the scorer from scratch on TRAIN (text,label), evaluate on TEST, time both."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score, recall_score

from engine.nlp.embedder import MiniLMEmbedder
from engine.nlp.labeled_csv import read_labeled_csv
from engine.nlp.sentiment import LABELS, SentimentScorer

log = logging.getLogger(__name__)


def _quality(gold: list[str], predicted: list[str], prefix: str = "") -> dict[str, float]:
    recalls = recall_score(gold, predicted, labels=list(LABELS), average=None, zero_division=0)
    return {
        f"{prefix}accuracy": round(float(accuracy_score(gold, predicted)), 4),
        f"{prefix}macro_f1": round(float(f1_score(gold, predicted, labels=list(LABELS), average="macro")), 4),
        **{f"{prefix}recall_{label}": round(float(r), 4) for label, r in zip(LABELS, recalls, strict=True)},
    }


def run(*, train: Path, test: Path) -> dict[str, Any]:
    """Accuracy, macro F1 and per-class recall on TEST, training time, and scoring speed with embedding included."""
    train_texts, train_labels = read_labeled_csv(train)
    test_texts, test_labels = read_labeled_csv(test)
    gold = [label.strip().lower() for label in test_labels]
    embedder = MiniLMEmbedder()
    embedder.load()
    embedder.encode(["warm up"])

    start = time.perf_counter()
    log.info("embedding %d training messages", len(train_texts))
    scorer = SentimentScorer()
    scorer.fit(
        train_texts,
        train_labels,
        embedder.encode(train_texts),
        progress=lambda fraction, message: log.info("train %3.0f%% %s", fraction * 100, message),
    )
    train_seconds = time.perf_counter() - start

    log.info("scoring %d test messages (embedding included)", len(test_texts))
    start = time.perf_counter()
    vectors = embedder.encode(test_texts)
    scores = scorer.score(test_texts, vectors)
    predict_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scorer.score(test_texts, vectors)
    score_only_seconds = time.perf_counter() - start

    log.info("scoring the test messages with the default (seed-trained) scorer")
    default_scores = SentimentScorer.default(embedder).score(test_texts, vectors)
    return {
        **_quality(gold, [s.label for s in scores]),
        "train_seconds": round(train_seconds, 3),
        "predict_per_second": round(len(test_texts) / predict_seconds, 1),
        "score_only_per_second": round(len(test_texts) / score_only_seconds, 1),
        "train_examples": len(train_texts),
        "test_examples": len(test_texts),
        "unknown_predictions": sum(s.label == "unknown" for s in scores),
        **_quality(gold, [s.label for s in default_scores], prefix="default_"),
    }
