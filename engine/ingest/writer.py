"""One writer thread for the webhook: requests queue their writes, which commit together in short batches."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any

from engine.ingest.batch import Job, run_batch
from engine.runtime import Engine

log = logging.getLogger(__name__)

MAX_BATCH = 64
WRITER_THREAD = "caredesk-ingest-writer"


class IngestWriter:
    """Serialises SQLite writes: one transaction per batch of waiting jobs, then wakes the triage worker."""

    def __init__(self, engine: Engine, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Job, Future[Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job: Job) -> Future[Any]:
        """Queue a write job; the future holds its result once committed (or its exception)."""
        self._ensure_thread()
        future: Future[Any] = Future()
        self._queue.put((job, future))
        return future

    async def run(self, job: Job) -> Any:
        """Await a write job from async code."""
        return await asyncio.wrap_future(self.submit(job))

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=WRITER_THREAD, daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, queued: list[tuple[Job, Future[Any]]]) -> None:
        # a request whose client went away is cancelled: skip it (it got no 202, so the sender sends it again)
        batch = [(job, future) for job, future in queued if future.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            results = run_batch(self._engine.db, [job for job, _ in batch])
        except Exception as exc:  # the database itself failed: every sender gets an error and may retry
            log.exception("ingest batch of %d could not be written", len(batch))
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
        if not all(isinstance(r, Exception) for r in results):
            self._engine.notify()
