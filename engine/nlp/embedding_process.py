"""Embed large inputs in a child process, so torch does not compete with the web server for the interpreter lock.

Torch releases the interpreter lock inside each operation but takes it back between operations; with the web
server, the ingest writer and triage's database work in the same process, every one of those hand-overs waited
for a busy Python thread. A child process has its own lock. Small inputs (a search query) stay in this process,
where the round trip would cost more than the embedding.

The child ends with the app, however the app ends (SIGTERM, SIGKILL, a crash): it watches a pipe whose other end
only the app holds, and on Linux the kernel also signals it when its parent goes (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from types import FrameType

import numpy as np

from engine.nlp.embedder import MiniLMEmbedder

log = logging.getLogger(__name__)

MIN_TEXTS = 32  # fewer texts are embedded in this process
CHILD_WORKERS = 2  # model replicas in the child, one core each
CHILD_NICENESS = 10  # background work: requests and pages of the app process get the cores first
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)

_child: MiniLMEmbedder | None = None


def _load_child(workers: int, niceness: int, lifeline: Connection, parent_pid: int) -> None:
    global _child
    _end_with_parent(lifeline, parent_pid)
    os.nice(niceness)
    _child = MiniLMEmbedder(workers=workers)
    _child.load()


def _end_with_parent(lifeline: Connection, parent_pid: int) -> None:
    """In the child: exit as soon as the app process `parent_pid` has gone."""
    if sys.platform.startswith("linux"):
        # The kernel sends the signal when the *thread* that started this process ends, which can happen while
        # the app runs on: the handler checks that the parent process is really gone.
        signal.signal(signal.SIGUSR1, lambda signum, frame: _exit_if_orphaned(parent_pid, frame))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGUSR1, 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    threading.Thread(target=_watch_lifeline, args=(lifeline,), name="caredesk-parent-watch", daemon=True).start()
    _exit_if_orphaned(parent_pid, None)  # the app may have gone before the watch was set


def _exit_if_orphaned(parent_pid: int, _frame: FrameType | None) -> None:
    if os.getppid() != parent_pid:
        os._exit(0)


def _watch_lifeline(lifeline: Connection) -> None:
    """Block on the pipe the app never writes to: it reads end-of-file when the app's end closes, then exit."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    os._exit(0)


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
        lifeline, self._lifeline = context.Pipe(duplex=False)  # this process holds the only write end
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=_load_child,
            initargs=(child_workers, CHILD_NICENESS, lifeline, os.getpid()),
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
        self._lifeline.close()  # the child exits at once, even in the middle of a batch
        self._local.close()
