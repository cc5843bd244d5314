"""Run many small write jobs in one transaction; when one fails, redo them one by one so the others still land."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.store.db import session_scope

log = logging.getLogger(__name__)

Job = Callable[[Session], Any]


@dataclass(frozen=True)
class Grouped:
    """A job whose neighbours with the same `run` go in one call: `run(session, items)` returns a result per item."""

    run: Callable[[Session, list[Any]], list[Any]]
    item: Any

    def __call__(self, session: Session) -> Any:
        """Run this job alone."""
        return self.run(session, [self.item])[0]


def run_batch(db: SAEngine, jobs: Sequence[Job]) -> list[Any]:
    """Each job's result, or the exception it raised; every successful job is committed."""
    try:
        with session_scope(db) as session:
            return _run_in_order(session, jobs)
    except Exception as exc:
        if len(jobs) == 1:
            return [exc]
        log.info("a batch of %d writes failed (%s); retrying them one by one", len(jobs), exc)
    return [run_batch(db, [job])[0] for job in jobs]


def _run_in_order(session: Session, jobs: Sequence[Job]) -> list[Any]:
    """Run the jobs in order; consecutive Grouped jobs that share `run` make one call."""
    results: list[Any] = []
    start = 0
    while start < len(jobs):
        job = jobs[start]
        if not isinstance(job, Grouped):
            results.append(job(session))
            start += 1
            continue
        end = start + 1
        while end < len(jobs) and isinstance(nxt := jobs[end], Grouped) and nxt.run == job.run:
            end += 1
        group = [g.item for g in jobs[start:end] if isinstance(g, Grouped)]
        results.extend(job.run(session, group))
        start = end
    return results
