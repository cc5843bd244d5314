"""Run many small write jobs in one transaction; when one fails, redo them one by one so the others still land."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.store.db import session_scope

log = logging.getLogger(__name__)

Job = Callable[[Session], Any]


def run_batch(db: SAEngine, jobs: Sequence[Job]) -> list[Any]:
    """Each job's result, or the exception it raised; every successful job is committed."""
    try:
        with session_scope(db) as session:
            return [job(session) for job in jobs]
    except Exception as exc:
        if len(jobs) == 1:
            return [exc]
        log.info("a batch of %d writes failed (%s); retrying them one by one", len(jobs), exc)
    return [run_batch(db, [job])[0] for job in jobs]
