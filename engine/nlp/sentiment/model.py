"""The trainable sentiment classifier: one logistic regression over word and character n-grams, the triage
embedding and lexicon features, with probabilities corrected towards balanced classes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import joblib
import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

log = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
EMBEDDING_SCALE = 4.0  # unit-norm embeddings next to unit-norm n-gram blocks: weight the embedding block up
LEXICON_SCALE = 1.0
PRIOR_CORRECTION = 0.5  # divide probabilities by prior**0.5: more recall on rare classes, better macro F1
_TOKENS = r"(?u)[@#]?\w[\w']*|[!?]+|[^\w\s]"

Progress = Callable[[float, str], None]


class SentimentModel:
    """Maps (cleaned text, embedding, lexicon features) to probabilities over LABELS."""

    def __init__(self, *, c: float = 4.0, min_df: int = 2) -> None:
        self._words = TfidfVectorizer(ngram_range=(1, 3), min_df=min_df, sublinear_tf=True, token_pattern=_TOKENS)
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), min_df=min_df, sublinear_tf=True)
        self._classifier = LogisticRegression(C=c, max_iter=3000)
        self._dim = 0
        self._correction = np.ones(len(LABELS))

    @property
    def dim(self) -> int:
        """Embedding dimension the model was trained with."""
        return self._dim

    def fit(self, texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray, lexicon: np.ndarray) -> None:
        """Train on cleaned texts and their labels (a subset of LABELS with at least two classes)."""
        self._dim = embeddings.shape[1]
        self._words.fit(texts)
        self._chars.fit(texts)
        self._classifier.fit(self._features(texts, embeddings, lexicon), list(labels))
        priors = np.array([max(list(labels).count(label), 1) / len(labels) for label in LABELS])
        self._correction = priors**-PRIOR_CORRECTION

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray, lexicon: np.ndarray) -> np.ndarray:
        """Prior-corrected probabilities, one row per text, columns in LABELS order (0 for a class not trained on)."""
        raw = self._classifier.predict_proba(self._features(texts, embeddings, lexicon))
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float64)
        for column, label in enumerate(self._classifier.classes_):
            out[:, LABELS.index(label)] = raw[:, column]
        out *= self._correction
        return out / out.sum(axis=1, keepdims=True)

    def _features(self, texts: Sequence[str], embeddings: np.ndarray, lexicon: np.ndarray) -> csr_matrix:
        blocks = [
            self._words.transform(texts),
            self._chars.transform(texts),
            csr_matrix(embeddings * EMBEDDING_SCALE),
            csr_matrix(lexicon * LEXICON_SCALE),
        ]
        return hstack(blocks, format="csr")

    def save(self, path: Path) -> None:
        """Write the fitted model to one file."""
        joblib.dump(self, path)

    @staticmethod
    def load(path: Path) -> SentimentModel:
        """Read a model written by `save`."""
        model = joblib.load(path)
        if not isinstance(model, SentimentModel):
            raise ValueError(f"{path} does not hold a sentiment model")
        return model
