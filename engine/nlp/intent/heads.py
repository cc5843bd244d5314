"""The three scorers the intent ensemble adds up: a linear model on embeddings, TF-IDF n-grams and nearest examples.

Each head is fitted on class indices `0..n_classes-1` (a training fold may miss some classes) and returns one score
column per class; a class the head never saw gets `MISSING`, far below any real score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

MISSING = -30.0


class Head(Protocol):
    """Scores texts against classes; higher is more likely."""

    def fit(self, texts: Sequence[str], embeddings: np.ndarray, y: np.ndarray, n_classes: int) -> Head: ...

    def scores(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray: ...


def _full_columns(raw: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """Spread a linear model's decision values over all classes (binary models give one column)."""
    if raw.ndim == 1:
        raw = np.stack([-raw, raw], axis=1)
    out = np.full((raw.shape[0], n_classes), MISSING, dtype=np.float64)
    out[:, seen] = raw
    return out


class EmbeddingLogReg:
    """Multinomial logistic regression on the sentence embeddings."""

    def __init__(self, c: float = 20.0) -> None:
        self.c = c
        self._model: LogisticRegression | None = None
        self._n_classes = 0

    def fit(self, texts: Sequence[str], embeddings: np.ndarray, y: np.ndarray, n_classes: int) -> EmbeddingLogReg:
        self._model = LogisticRegression(C=self.c, max_iter=1000)
        self._model.fit(embeddings, y)
        self._n_classes = n_classes
        return self

    def scores(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        assert self._model is not None
        return _full_columns(self._model.decision_function(embeddings), self._model.classes_, self._n_classes)


class LexicalSvm:
    """Linear SVM on TF-IDF word 1-2 grams and character 2-5 grams: catches the exact words embeddings blur."""

    def __init__(self, c: float = 0.5) -> None:
        self.c = c
        self._words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
        self._model: LinearSVC | None = None
        self._n_classes = 0

    def _features(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return sparse.hstack([self._words.transform(texts), self._chars.transform(texts)]).tocsr()

    def fit(self, texts: Sequence[str], embeddings: np.ndarray, y: np.ndarray, n_classes: int) -> LexicalSvm:
        self._words.fit(texts)
        self._chars.fit(texts)
        self._model = LinearSVC(C=self.c)
        self._model.fit(self._features(texts), y)
        self._n_classes = n_classes
        return self

    def scores(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        assert self._model is not None
        raw = self._model.decision_function(self._features(texts))
        return _full_columns(raw, self._model.classes_, self._n_classes)


class NearestExamples:
    """Cosine similarity to the closest training example of each class."""

    def __init__(self) -> None:
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._starts = np.zeros(0, dtype=np.int64)
        self._seen = np.zeros(0, dtype=np.int64)
        self._n_classes = 0

    def fit(self, texts: Sequence[str], embeddings: np.ndarray, y: np.ndarray, n_classes: int) -> NearestExamples:
        order = np.argsort(y, kind="stable")
        self._vectors = np.ascontiguousarray(embeddings[order], dtype=np.float32)
        self._seen, self._starts = np.unique(y[order], return_index=True)
        self._n_classes = n_classes
        return self

    def scores(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        similarity = np.asarray(embeddings, dtype=np.float32) @ self._vectors.T
        out = np.full((len(embeddings), self._n_classes), MISSING, dtype=np.float64)
        out[:, self._seen] = np.maximum.reduceat(similarity, self._starts, axis=1)
        return out


def new_heads() -> list[Head]:
    """Fresh, unfitted heads in the order their weights are stored."""
    return [EmbeddingLogReg(), LexicalSvm(), NearestExamples()]


def fit_heads(texts: Sequence[str], embeddings: np.ndarray, y: np.ndarray, n_classes: int) -> list[Head]:
    """Fit every head on the same rows."""
    return [head.fit(texts, embeddings, y, n_classes) for head in new_heads()]


def head_scores(heads: Sequence[Head], texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
    """Scores of every head stacked as (n_heads, n_texts, n_classes)."""
    return np.stack([head.scores(texts, embeddings) for head in heads])
