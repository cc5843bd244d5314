"""Background jobs on APScheduler, with progress, a history and retries (the desk's jobs: `engine.desk_jobs`).

Every job reports progress and its last run (`Jobs.status`, read by the UI). A run that raises is logged, written
to `jobs/history.jsonl` in the data dir and to the audit log, and retried after RETRY_DELAYS seconds; after the
last retry it waits for its next scheduled time, and the failure stays on record. Nothing fails silently.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.engine import Engine as SAEngine

from engine.privacy import audit
from engine.store.db import session_scope
from engine.store.models import utcnow

log = logging.getLogger(__name__)

RETRY_DELAYS = (60.0, 300.0, 1800.0)
HISTORY_FILE = Path("jobs") / "history.jsonl"
Progress = Callable[[float, str], None]
JobFunction = Callable[[Progress], str]


@dataclass
class JobState:
    """What the UI shows about one job."""

    key: str
    title: str
    schedule: str
    running: bool = False
    progress: float = 0.0
    message: str = ""
    attempt: int = 0  # 0 for a scheduled run, n for the n-th retry
    last_started: datetime | None = None
    last_finished: datetime | None = None
    last_ok: bool | None = None
    last_result: str = ""
    next_run: datetime | None = None


class Jobs:
    """A background scheduler whose jobs record progress, results and failures, and retry on failure."""

    def __init__(self, data_dir: Path, db: SAEngine, *, retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self.data_dir = data_dir
        self.db = db
        self.retry_delays = retry_delays
        self.scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
        )
        self._functions: dict[str, JobFunction] = {}
        self._at_start: list[str] = []
        self._states: dict[str, JobState] = {}
        self._lock = threading.Lock()

    def add(
        self,
        key: str,
        title: str,
        function: JobFunction,
        trigger: BaseTrigger,
        schedule: str,
        *,
        at_start: bool = False,
    ) -> None:
        """Register a job (before `start`); `at_start` runs it once as soon as the scheduler starts, too."""
        self._functions[key] = function
        if at_start:
            self._at_start.append(key)
        self._states[key] = self._last_run(JobState(key, title, schedule))
        self.scheduler.add_job(self._run, trigger, args=[key, 0], id=key, name=title, replace_existing=True)

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return bool(self.scheduler.running)

    def start(self) -> None:
        """Start the scheduler thread (once)."""
        if self.scheduler.running:
            return
        self.scheduler.start()
        for key in self._at_start:
            self.run_now(key)
        log.info("background jobs started: %s", ", ".join(self._functions))

    def stop(self) -> None:
        """Stop the scheduler without waiting for running jobs."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def run_now(self, key: str) -> None:
        """Run a job as soon as possible (e.g. a supervisor's "retrain now")."""
        if key not in self._functions:
            raise KeyError(f"no job {key!r}")
        self.scheduler.add_job(self._run, DateTrigger(utcnow()), args=[key, 0], id=f"{key}-now", replace_existing=True)

    def status(self) -> list[JobState]:
        """A snapshot of every job's state with its next run time."""
        with self._lock:
            states = [replace(s) for s in self._states.values()]
        for state in states:
            job = self.scheduler.get_job(state.key)
            retry = self.scheduler.get_job(f"{state.key}-retry")
            times = [t for j in (job, retry) if (t := getattr(j, "next_run_time", None)) is not None]
            state.next_run = min(times) if times else None
        return states

    def _run(self, key: str, attempt: int) -> None:
        state = self._states[key]
        with self._lock:
            state.running, state.progress, state.attempt = True, 0.0, attempt
            state.last_started, state.message = utcnow(), "started"

        def progress(fraction: float, message: str) -> None:
            with self._lock:
                state.progress, state.message = max(0.0, min(1.0, fraction)), message

        try:
            result = self._functions[key](progress)
        except Exception as exc:  # a job must never take the scheduler down; the failure is kept and retried
            self._failed(state, attempt, exc)
        else:
            with self._lock:
                state.last_ok, state.last_result, state.progress, state.message = True, result, 1.0, "done"
            log.info("job %s done: %s", key, result)
        finally:
            with self._lock:
                state.running, state.last_finished = False, utcnow()
            self._record(state)

    def _failed(self, state: JobState, attempt: int, exc: Exception) -> None:
        retry = attempt < len(self.retry_delays)
        text = f"{type(exc).__name__}: {exc}"
        with self._lock:
            state.last_ok, state.message = False, "failed"
            state.last_result = text + (f" (retry {attempt + 1} in {self.retry_delays[attempt]:g} s)" if retry else "")
        if retry:
            log.warning(
                "job %s failed (attempt %d), retrying in %g s: %s",
                state.key,
                attempt + 1,
                self.retry_delays[attempt],
                text,
                exc_info=True,
            )
            when = utcnow() + timedelta(seconds=self.retry_delays[attempt])
            self.scheduler.add_job(
                self._run,
                DateTrigger(when),
                args=[state.key, attempt + 1],
                id=f"{state.key}-retry",
                replace_existing=True,
            )
        else:
            log.error(
                "job %s failed %d times, waiting for its next scheduled run: %s",
                state.key,
                attempt + 1,
                text,
                exc_info=True,
            )
        try:
            with session_scope(self.db) as session:
                audit.append(
                    session,
                    actor="jobs",
                    action="job_failed",
                    subject=f"job:{state.key}",
                    details={"attempt": attempt + 1, "error": text, "will_retry": retry},
                )
        except Exception:  # the history file still has it
            log.warning("could not audit the failure of job %s", state.key, exc_info=True)

    def _record(self, state: JobState) -> None:
        path = self.data_dir / HISTORY_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        row = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(state).items()}
        with self._lock, path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    def _last_run(self, state: JobState) -> JobState:
        """The state with its last recorded run filled in (the UI shows it after a restart)."""
        for row in reversed(history(self.data_dir, limit=500)):
            if row.get("key") == state.key:
                state.last_ok, state.last_result = row.get("last_ok"), str(row.get("last_result", ""))
                for name in ("last_started", "last_finished"):
                    if row.get(name):
                        setattr(state, name, datetime.fromisoformat(row[name]))
                break
        return state


def history(data_dir: Path, *, limit: int = 100) -> list[dict[str, Any]]:
    """The last `limit` job runs, oldest first."""
    path = data_dir / HISTORY_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[-limit:]:
        try:
            rows.append(json.loads(line))
        except ValueError:
            log.warning("skipping an unreadable line of %s", path)
    return rows
