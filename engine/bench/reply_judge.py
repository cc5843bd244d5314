"""Scoring drafts against reference replies: an intent judge, TF-IDF similarity, and the nearest-reply baseline.

The judge is a TF-IDF logistic regression trained on HISTORY's replies to name the request a reply answers; a
draft is on topic when the judge names the ticket's intent. Similarity is the TF-IDF cosine (single words, sublinear
term frequency, fitted on HISTORY's replies) of a draft to the reference reply. The baseline reuses, unchanged,
the reply of the HISTORY message most similar (TF-IDF cosine) to the ticket.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

_MARKER = re.compile(r"\{\{[^{}\n]*\}\}|\{[A-Za-z][^{}\n]{0,60}\}|\[[A-Z]+_\d+\]")


def template_markers(text: str) -> list[str]:
    """Template slots ({{Order Number}}, {name}) and redaction placeholders ([EMAIL_1]) left in a text."""
    return _MARKER.findall(text)


class ReplyJudge:
    """Names the request a reply answers (trained on HISTORY replies and their intents) and compares replies."""

    def __init__(self, replies: Sequence[str], intents: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self._vectorizer: Any = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2))
        matrix = self._vectorizer.fit_transform(list(replies))
        self._words: Any = TfidfVectorizer(sublinear_tf=True).fit(list(replies))  # similarity: single words
        self._model: Any = LogisticRegression(C=10.0, max_iter=3000)
        self._model.fit(matrix, list(intents))
        self.intents = set(intents)

    def intent_of(self, texts: Sequence[str]) -> list[str]:
        """The intent the judge reads in each reply."""
        return [str(label) for label in self._model.predict(self._vectorizer.transform(list(texts)))]

    def similarity(self, texts: Sequence[str], references: Sequence[str]) -> list[float]:
        """TF-IDF cosine of each text to its reference reply."""
        a = self._words.transform(list(texts))
        b = self._words.transform(list(references))
        return [float(x) for x in np.asarray(a.multiply(b).sum(axis=1)).ravel()]


def nearest_replies(history_texts: Sequence[str], queries: Sequence[str]) -> list[int]:
    """For each query, the HISTORY row whose message is most similar (TF-IDF cosine): the baseline's choice."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True)
    history = vectorizer.fit_transform(list(history_texts))
    scores = vectorizer.transform(list(queries)) @ history.T
    return [int(i) for i in np.asarray(scores.argmax(axis=1)).ravel()]
