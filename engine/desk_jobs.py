"""The desk's scheduled jobs: nightly retrain, retrain after N corrections, drift check, IMAP polling, SLA watch,
survey follow-ups.

`desk_jobs(engine)` is called once by build_engine; the app starts and stops the `Jobs` it returns (`engine.jobs`).
Settings (engine/config.py): `retrain_every`, `retrain_hour`, `retrain_check_seconds`, `drift_hour`, and `imap`
(see engine.ingest.email_channel) to poll a mailbox.
"""

from __future__ import annotations

import threading

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine.feedback.drift import check_drift
from engine.feedback.retrain import corrections_since_last_retrain, retrain_in_use
from engine.ingest.email_channel import imap_interval_seconds, poll_imap
from engine.jobs import Jobs, Progress
from engine.runtime import Engine
from engine.sla_watch import CHECK_SECONDS, watch_sla
from engine.surveys import FOLLOW_UP_CHECK_SECONDS, send_follow_ups


def desk_jobs(engine: Engine) -> Jobs:
    """The engine's jobs, registered but not started."""
    retraining = threading.Lock()  # the nightly and the corrections retrain never run at once

    def retrain(trigger: str, progress: Progress) -> str:
        if not retraining.acquire(blocking=False):
            return "another retrain is running"
        try:
            result = retrain_in_use(engine.services, engine.settings, engine.db, trigger=trigger, progress=progress)
        finally:
            retraining.release()
        verdict = "promoted" if result.promoted else "kept as a candidate"
        return f"{result.version} {verdict}: {result.reason} ({result.seconds:.0f} s)"

    def retrain_on_corrections(progress: Progress) -> str:
        every = engine.settings.retrain_every
        count = corrections_since_last_retrain(engine.db, engine.settings.models_dir)
        if count < every:
            return f"{count} of {every} corrections since the last retrain"
        return retrain(f"{count} corrections", progress)

    settings = engine.settings
    jobs = Jobs(settings.data_dir, engine.db)
    hour, drift_hour = settings.retrain_hour, settings.drift_hour
    check, every = settings.retrain_check_seconds, settings.retrain_every
    jobs.add(
        "retrain_nightly",
        "Nightly retrain",
        lambda p: retrain("nightly", p),
        CronTrigger(hour=hour),
        f"daily at {hour:02d}:00",
    )
    jobs.add(
        "retrain_corrections",
        "Retrain after corrections",
        retrain_on_corrections,
        IntervalTrigger(seconds=check),
        f"after {every} corrections (checked every {check:g} s)",
    )
    jobs.add(
        "drift",
        "Drift check",
        lambda p: _drift(engine),
        CronTrigger(hour=drift_hour, minute=30),
        f"daily at {drift_hour:02d}:30",
    )
    interval = imap_interval_seconds(settings)
    if interval is not None:
        jobs.add(
            "imap",
            "E-mail inbox",
            lambda p: f"{poll_imap(engine)} new e-mails",
            IntervalTrigger(seconds=interval),
            f"every {interval} s",
        )
    jobs.add(
        "survey_follow_ups",
        "Survey follow-ups",
        lambda p: f"{send_follow_ups(engine.db, engine.settings)} survey follow-ups queued",
        IntervalTrigger(seconds=FOLLOW_UP_CHECK_SECONDS),
        f"every {FOLLOW_UP_CHECK_SECONDS} s, for tickets surveyed by a follow-up message",
    )
    jobs.add(
        "sla",
        "SLA watch",
        lambda p: watch_sla(engine),
        IntervalTrigger(seconds=CHECK_SECONDS),
        f"every {CHECK_SECONDS} s",
        at_start=True,  # the header badge is right from the start
    )
    return jobs


def _drift(engine: Engine) -> str:
    with engine.transaction() as session:
        report = check_drift(session, engine.settings.data_dir)
    if report.psi is None:
        return f"not enough tickets to compare ({report.week.tickets} this week, {report.month.tickets} before)"
    return "; ".join(report.findings) or f"no drift (PSI {report.psi:.2f})"
