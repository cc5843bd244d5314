"""Embeddings of training texts kept on disk, so a retrain embeds only the texts it has not seen before."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.nlp.embedder import Embedder
from engine.nlp.intent import text_key

log = logging.getLogger(__name__)


def forget_texts(path: Path, keys: set[str]) -> int:
    """Rewrite the cache file without the vectors of texts with `keys` (erasure); how many it dropped."""
    if not keys or not path.is_file():
        return 0
    with np.load(path, allow_pickle=False) as stored:
        data = {name: stored[name] for name in stored.files}
    keep = ~np.isin(data["keys"].astype(str), sorted(keys))
    dropped = int((~keep).sum())
    if dropped:
        temporary = path.with_name(path.stem + ".tmp.npz")
        np.savez(temporary, keys=data["keys"][keep], vectors=data["vectors"][keep], embedder=data["embedder"])
        temporary.replace(path)
    return dropped


class DiskEmbeddingCache:
    """Vectors by text in one .npz file next to the models; a different embedder starts a new cache."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        self.path = path
        self.embedder = embedder
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, embedder.dim), dtype=np.float32)
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                if str(stored["embedder"]) != self.embedder.name or stored["vectors"].shape[1] != self.embedder.dim:
                    log.info("embedding cache %s is for another embedder: starting afresh", self.path)
                    return
                self._vectors = stored["vectors"].astype(np.float32)
                self._rows = {str(k): i for i, k in enumerate(stored["keys"])}
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable embedding cache %s: %s", self.path, exc)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts`, embedding and saving only the new ones."""
        with self._lock:
            keys = [text_key(t) for t in texts]
            missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._rows}
            if missing:
                log.info("embedding %d new training texts", len(missing))
                fresh = np.asarray(self.embedder.encode(list(missing.values())), dtype=np.float32)
                start = len(self._vectors)
                self._vectors = np.concatenate([self._vectors, fresh]) if start else fresh
                self._rows.update({k: start + i for i, k in enumerate(missing)})
                self._save()
            if not keys:
                return np.zeros((0, self.embedder.dim), dtype=np.float32)
            return self._vectors[[self._rows[k] for k in keys]]

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.stem + ".tmp.npz")
        keys = np.array(sorted(self._rows, key=self._rows.__getitem__))
        np.savez(temporary, keys=keys, vectors=self._vectors, embedder=np.array(self.embedder.name))
        temporary.replace(self.path)
