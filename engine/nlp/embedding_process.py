"""Embed large inputs in a child process, so torch does not compete with the web server for the interpreter lock.

Torch releases the interpreter lock inside each operation but takes it back between operations; with the web
server, the ingest writer and triage's database work in the same process, every one of those hand-overs waited
for a busy Python thread. A child process has its own lock. Small inputs (a search query) stay in this process,
where the round trip would cost more than the embedding.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from engine.nlp.embedder import MiniLMEmbedder

log = logging.getLogger(__name__)

MIN_TEXTS = 32  # fewer texts are embedded in this process
CHILD_WORKERS = 2  # model replicas in the child, one core each
CHILD_NICENESS = 10  # background work: requests and pages of the app process get the cores first

_child: MiniLMEmbedder | None = None


def _load_child(workers: int, niceness: int) -> None:
    global _child
    os.nice(niceness)
    _child = MiniLMEmbedder(workers=workers)
    _child.load()


def _encode_in_child(texts: list[str], batch_size: int) -> np.ndarray:
    assert _child is not None
    return _child.encode(texts, batch_size=batch_size)


class ProcessEmbedder:
    """all-MiniLM-L6-v2 with a child process for inputs of `min_texts` or more; the same vectors either way.

    If the child dies, every input is embedded in this process from then on (and a warning is logged).
    """

    name = MiniLMEmbedder.name
    dim = MiniLMEmbedder.dim

    def __init__(self, local: MiniLMEmbedder, *, min_texts: int = MIN_TEXTS, child_workers: int = CHILD_WORKERS):
        self._local = local
        self._min_texts = min_texts
        context = multiprocessing.get_context("spawn")  # a clean interpreter: no copied threads or locks
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=_load_child, initargs=(child_workers, CHILD_NICENESS)
        )

    def load(self) -> None:
        """Load the model here and in the child (the child's first answer waits for its model)."""
        self._local.load()
        self.encode(["warm-up"] * self._min_texts)

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Embed texts; empty input gives an empty (0, dim) array."""
        if self._pool is None or len(texts) < self._min_texts or show_progress:
            return self._local.encode(texts, batch_size, show_progress)
        try:
            return self._pool.submit(_encode_in_child, list(texts), batch_size).result()
        except BrokenProcessPool:
            log.warning("the embedding process stopped; embedding in the app process from now on")
            self._pool = None
            return self._local.encode(texts, batch_size)

    def close(self) -> None:
        """Stop the child process and the local threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._local.close()
