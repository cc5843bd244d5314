"""Supervision of the background stages: failures counted per stage, failing tickets retried with backoff and,
after MAX_TRIES, set aside on a "needs attention" list while the other tickets flow on.

Stages: triage, routing, actions, drafting, outbox. A failure is logged with its ticket ids and kept per stage (count,
last error, when); the failing tickets get a WorkFailure row (tries, next try, needs attention) that survives a
restart. The desk is "degraded" while a stage failed in the last DEGRADED_SECONDS or the worker thread had to be
restarted then; error texts are redacted before they are stored or shown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.privacy.redaction import redact
from engine.store.db import session_scope
from engine.store.models import utcnow
from engine.store.work_models import WorkFailure

log = logging.getLogger(__name__)

STAGES = ("triage", "routing", "actions", "drafting", "outbox")
MAX_TRIES = 3
RETRY_SECONDS = 30.0  # the first retry of a failing ticket; each further one waits twice as long
DEGRADED_SECONDS = 300.0
ERROR_CHARS = 300


class StageFailure(RuntimeError):
    """An exception raised inside a named stage (so the worker counts it against the right one)."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = error


@dataclass
class StageStats:
    """One stage's failures since start, the last error (redacted) and when, and the tickets it was about."""

    failures: int = 0
    last_error: str = ""
    last_error_at: datetime | None = None
    last_ticket_ids: list[int] = field(default_factory=list)


@contextmanager
def in_stage(stage: str) -> Iterator[None]:
    """Raise any exception of the block as a StageFailure of `stage` (one already named passes unchanged)."""
    try:
        yield
    except StageFailure:
        raise
    except Exception as exc:
        raise StageFailure(stage, exc) from exc


def error_text(error: BaseException) -> str:
    """The exception's type and its message, redacted and cut to ERROR_CHARS."""
    return redact(f"{type(error).__name__}: {error}").text[:ERROR_CHARS]


class Supervisor:
    """Counts stage failures, keeps failing tickets out of the way (backoff, then needs attention), and knows
    whether the desk is degraded; thread-safe."""

    def __init__(self, db: SAEngine, *, retry_seconds: float = RETRY_SECONDS, max_tries: int = MAX_TRIES) -> None:
        self._db = db
        self.retry_seconds = retry_seconds
        self.max_tries = max_tries
        self.stages = {stage: StageStats() for stage in STAGES}
        self.restarts = 0
        self.last_restart_at: datetime | None = None
        self._lock = threading.Lock()
        self._held: dict[tuple[str, int], tuple[datetime, bool]] = {}  # (stage, ticket) -> (next try, set aside)
        with Session(db) as session:
            for row in session.exec(select(WorkFailure)):
                self._held[(row.stage, row.ticket_id)] = (row.next_try_at, row.needs_attention)

    def counted(self, stage: str, ticket_ids: Iterable[int], error: BaseException) -> str:
        """Count a failure of `stage` on these tickets and log it (no per-ticket record); the redacted error."""
        ids = sorted(set(ticket_ids))
        text = error_text(error)
        with self._lock:
            stats = self.stages[stage]
            stats.failures += 1
            stats.last_error, stats.last_error_at, stats.last_ticket_ids = text, utcnow(), ids[:20]
        log.warning("%s failed for tickets %s: %s", stage, ids, text, exc_info=error)
        return text

    def failed(self, stage: str, ticket_ids: Iterable[int], error: BaseException) -> list[int]:
        """Record a failure of `stage` on these tickets; returns those now set aside as needing attention."""
        ids = sorted(set(ticket_ids))
        text, now = self.counted(stage, ids, error), utcnow()
        set_aside = []
        with session_scope(self._db) as session:
            for ticket_id in ids:
                row = session.exec(
                    select(WorkFailure).where(WorkFailure.ticket_id == ticket_id, WorkFailure.stage == stage)
                ).first() or WorkFailure(ticket_id=ticket_id, stage=stage)
                row.failures += 1
                row.last_error, row.updated_at = text, now
                row.next_try_at = now + timedelta(seconds=self.retry_seconds * 2 ** (row.failures - 1))
                row.needs_attention = row.failures >= self.max_tries
                session.add(row)
                if row.needs_attention:
                    set_aside.append(ticket_id)
                with self._lock:
                    self._held[(stage, ticket_id)] = (row.next_try_at, row.needs_attention)
        if set_aside:
            log.warning("%s: tickets %s failed %d times and need attention", stage, set_aside, self.max_tries)
        return set_aside

    def succeeded(self, stage: str, ticket_ids: Iterable[int]) -> None:
        """Forget earlier failures of these tickets in `stage` (they went through)."""
        with self._lock:
            cleared = [t for t in ticket_ids if self._held.pop((stage, t), None) is not None]
        if cleared:
            with session_scope(self._db) as session:
                session.exec(
                    delete(WorkFailure).where(col(WorkFailure.stage) == stage, col(WorkFailure.ticket_id).in_(cleared))
                )

    def blocked(self, stage: str) -> set[int]:
        """Tickets `stage` must not take now: waiting for their next try, or set aside."""
        now = utcnow()
        with self._lock:
            return {t for (s, t), (next_try, aside) in self._held.items() if s == stage and (aside or next_try > now)}

    def held(self, stage: str) -> set[int]:
        """Tickets with a failure of `stage` on record (waiting, due for their next try, or set aside)."""
        with self._lock:
            return {t for (s, t) in self._held if s == stage}

    def due(self, stage: str) -> list[int]:
        """Tickets that failed `stage` before and whose next try has come (tried alone, never again in a batch)."""
        now = utcnow()
        with self._lock:
            return sorted(
                t for (s, t), (next_try, aside) in self._held.items() if s == stage and not aside and next_try <= now
            )

    def retry(self, ticket_id: int) -> None:
        """A person asks for another try: the ticket's failures are forgotten in every stage."""
        with self._lock:
            for key in [k for k in self._held if k[1] == ticket_id]:
                del self._held[key]
        with session_scope(self._db) as session:
            session.exec(delete(WorkFailure).where(col(WorkFailure.ticket_id) == ticket_id))

    def restarted(self) -> None:
        """The worker loop died and was started again."""
        with self._lock:
            self.restarts += 1
            self.last_restart_at = utcnow()

    @property
    def degraded(self) -> bool:
        """True while a stage failed, or the worker was restarted, in the last DEGRADED_SECONDS."""
        since = utcnow() - timedelta(seconds=DEGRADED_SECONDS)
        times = [s.last_error_at for s in self.stages.values()] + [self.last_restart_at]
        return any(t is not None and t > since for t in times)

    def last_error(self) -> tuple[str, str] | None:
        """(stage, error) of the most recent failure, or None."""
        failed = [(s.last_error_at, name, s.last_error) for name, s in self.stages.items() if s.last_error_at]
        if not failed:
            return None
        _, stage, text = max(failed)
        return stage, text
