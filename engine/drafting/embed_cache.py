"""An embedder wrapper that remembers the vectors of texts it has seen, so repeated source sentences cost nothing."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from engine.nlp.embedder import Embedder


class CachingEmbedder:
    """Wraps an Embedder; keeps the vectors of the last `capacity` distinct texts (LRU)."""

    def __init__(self, inner: Embedder, capacity: int = 8192) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.name = inner.name
        self._capacity = capacity
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Vectors for texts, encoding only the ones not seen recently."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
            if missing:
                for text, vector in zip(missing, self.inner.encode(missing, batch_size=batch_size), strict=True):
                    self._vectors[text] = vector
            for text in texts:
                self._vectors.move_to_end(text)
            out = np.stack([self._vectors[t] for t in texts])
            while len(self._vectors) > self._capacity:
                self._vectors.popitem(last=False)
        return out

    def close(self) -> None:
        """Nothing to release: the wrapped embedder is closed by its owner."""
