"""Sentiment of inbound customer messages: label with probability, valence, arousal and urgency, plus the ticket trend.

The label and valence come from a trained model (`SentimentModel`: word and character n-grams, the triage
embedding, lexicon features); valence is P(positive) - P(negative). Arousal and urgency add lexical cues to the
valence, as documented in `engine.nlp.sentiment.cues`. `SentimentScorer.default()` trains the model on the
hand-written seed messages in `engine.nlp.sentiment.seeds`, so the product ships no model trained on data it
may not redistribute; `fit` retrains it on the user's own labelled messages.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.nlp.embedder import Embedder, MiniLMEmbedder
from engine.nlp.sentiment.cues import Cues, arousal_score, clean_text, extract_cues, urgency_score
from engine.nlp.sentiment.lexicon import lexicon_features
from engine.nlp.sentiment.model import LABELS, SentimentModel
from engine.nlp.sentiment.seeds import SEED_LABELS, SEED_TEXTS

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
FRUSTRATION_DROP = 0.15  # valence must fall at least this much between two customer messages
_MODEL_FILE = "sentiment_model.joblib"
_META_FILE = "sentiment.json"
_FORMAT = 1

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SentimentScore:
    """How one inbound message reads: label ("unknown" when there is nothing to read) and the three scales."""

    label: str  # "negative" | "neutral" | "positive" | "unknown"
    probability: float  # probability of label (0.0 for "unknown")
    valence: float  # -1..1
    arousal: float  # 0..1, calm -> agitated
    urgency: float  # 0..1
    cues: list[str]  # human-readable reasons, e.g. "all caps", "money at stake", "repeated contact"


class SentimentScorer:
    """Scores messages from their text and the embedding already computed for triage."""

    def __init__(self, model: SentimentModel | None = None, *, trained_on: int = 0) -> None:
        self._model = model
        self._trained_on = trained_on

    @classmethod
    def default(cls, embedder: Embedder | None = None) -> SentimentScorer:
        """A scorer trained on the built-in seed messages, embedded with `embedder` (the bundled MiniLM if None)."""
        vectors = (embedder or MiniLMEmbedder()).encode(list(SEED_TEXTS))
        scorer = cls()
        scorer.fit(list(SEED_TEXTS), list(SEED_LABELS), vectors)
        return scorer

    def fit(
        self,
        texts: list[str],
        labels: list[str],
        embeddings: np.ndarray,
        *,
        progress: Progress | None = None,
    ) -> dict[str, float]:
        """Train on labelled messages (labels negative / neutral / positive); returns training statistics."""
        report = progress or (lambda fraction, message: None)
        if not len(texts) == len(labels) == len(embeddings):
            raise ValueError(f"{len(texts)} texts, {len(labels)} labels and {len(embeddings)} embeddings differ")
        normalised = [str(label).strip().lower() for label in labels]
        unknown = sorted(set(normalised) - set(LABELS))
        if unknown:
            raise ValueError(f"sentiment labels must be {', '.join(LABELS)}; found {', '.join(unknown[:5])}")
        if len(set(normalised)) < 2:
            raise ValueError("sentiment training needs at least two different labels")
        started = time.perf_counter()
        report(0.05, "reading cues")
        cleaned, lexicon, _ = _prepare(texts, None)
        report(0.2, f"training on {len(texts)} messages")
        model = SentimentModel(min_df=1 if len(texts) < 2000 else 2)
        model.fit(cleaned, normalised, _finite(embeddings), lexicon)
        self._model, self._trained_on = model, len(texts)
        report(0.9, "checking the fit")
        predicted = model.predict_proba(cleaned, _finite(embeddings), lexicon).argmax(axis=1)
        train_accuracy = float(np.mean([LABELS[i] == label for i, label in zip(predicted, normalised, strict=True)]))
        seconds = time.perf_counter() - started
        log.info("sentiment model trained on %d messages in %.1f s", len(texts), seconds)
        report(1.0, "done")
        return {
            "examples": float(len(texts)),
            **{f"examples_{label}": float(normalised.count(label)) for label in LABELS},
            "train_accuracy": train_accuracy,
            "train_seconds": seconds,
        }

    def score(
        self,
        texts: list[str],
        embeddings: np.ndarray,
        *,
        prior_inbound_count: list[int] | None = None,
    ) -> list[SentimentScore]:
        """Score each text; `prior_inbound_count[i]` is how many earlier customer messages its ticket has."""
        if self._model is None:
            raise RuntimeError("the sentiment scorer is not trained: use SentimentScorer.default() or fit()")
        if len(embeddings) != len(texts) or (len(texts) and embeddings.shape[1] != self._model.dim):
            raise ValueError(f"need {len(texts)} embeddings of dimension {self._model.dim}, got {embeddings.shape}")
        if not texts:
            return []
        cleaned, lexicon, cues = _prepare(texts, prior_inbound_count)
        probabilities = self._model.predict_proba(cleaned, _finite(embeddings), lexicon)
        return [_score_one(row, cue) for row, cue in zip(probabilities, cues, strict=True)]

    def save(self, directory: Path) -> None:
        """Write the trained scorer into `directory` (created if missing)."""
        if self._model is None:
            raise RuntimeError("nothing to save: the sentiment scorer is not trained")
        directory.mkdir(parents=True, exist_ok=True)
        self._model.save(directory / _MODEL_FILE)
        meta = {"format": _FORMAT, "labels": list(LABELS), "trained_on": self._trained_on, "dim": self._model.dim}
        (directory / _META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> SentimentScorer:
        """Read a scorer written by `save`."""
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{directory}: sentiment model format {meta.get('format')} is not {_FORMAT}")
        return cls(SentimentModel.load(directory / _MODEL_FILE), trained_on=int(meta.get("trained_on", 0)))


def frustration_rising(valences: list[float]) -> bool:
    """True when the latest customer message (oldest -> newest) is negative and clearly below the one before."""
    readable = [v for v in valences if isinstance(v, int | float) and math.isfinite(v)]
    return len(readable) >= 2 and readable[-1] < 0 and readable[-1] <= readable[-2] - FRUSTRATION_DROP


def _prepare(texts: Sequence[str], prior: Sequence[int] | None) -> tuple[list[str], np.ndarray, list[Cues]]:
    cleaned = [clean_text(text) for text in texts]
    counts = list(prior) if prior is not None else [0] * len(texts)
    if len(counts) != len(texts):
        raise ValueError(f"prior_inbound_count has {len(counts)} entries for {len(texts)} texts")
    cues = [extract_cues(text, prior_inbound=int(count or 0)) for text, count in zip(cleaned, counts, strict=True)]
    lexicon = np.stack([lexicon_features(text, cue) for text, cue in zip(cleaned, cues, strict=True)])
    return cleaned, lexicon, cues


def _finite(embeddings: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.asarray(embeddings, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def _score_one(probabilities: np.ndarray, cues: Cues) -> SentimentScore:
    if not cues.has_content:
        arousal, arousal_cues = arousal_score(cues, 0.0)
        urgency, urgency_cues = urgency_score(cues, 0.0)
        return SentimentScore(UNKNOWN, 0.0, 0.0, arousal, urgency, ["no readable text", *arousal_cues, *urgency_cues])
    best = int(np.argmax(probabilities))
    valence = float(probabilities[LABELS.index("positive")] - probabilities[LABELS.index("negative")])
    arousal, arousal_cues = arousal_score(cues, valence)
    urgency, urgency_cues = urgency_score(cues, valence)
    reasons = arousal_cues + urgency_cues
    return SentimentScore(LABELS[best], float(probabilities[best]), valence, arousal, urgency, reasons)
