"""Drift: compare this week's intent confidence and override rate with the month before; raise dashboard alerts.

This week = the last 7 days; the month before = the 30 days before that. An alert is raised when both windows
have at least MIN_TICKETS triaged tickets and
 - the confidence distribution shifted: population stability index over 10 bins > PSI_ALERT (0.2 is the usual
   "significant shift" mark), or the mean confidence fell by more than MEAN_DROP, or
 - agents corrected the intent noticeably more often: override rate up by more than OVERRIDE_RISE (absolute).
Alerts are kept in `alerts.json` in the data dir (the dashboard lists the open ones) and written to the audit log.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session, col, func, select

from engine.privacy import audit
from engine.store.models import Feedback, FeedbackKind, TriageResult, utcnow

log = logging.getLogger(__name__)

WEEK = timedelta(days=7)
MONTH = timedelta(days=30)
MIN_TICKETS = 30
PSI_ALERT = 0.2
MEAN_DROP = 0.05
OVERRIDE_RISE = 0.05
BINS = np.linspace(0.0, 1.0, 11)
ALERTS_FILE = "alerts.json"
_alerts_lock = threading.Lock()


@dataclass(frozen=True)
class Window:
    """One period's numbers."""

    start: datetime
    end: datetime
    tickets: int
    mean_confidence: float | None
    override_rate: float | None
    histogram: list[float]


@dataclass(frozen=True)
class DriftReport:
    week: Window
    month: Window
    psi: float | None
    findings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Alert:
    id: str
    at: str
    kind: str
    message: str
    details: dict[str, Any]
    acknowledged_by: str = ""


def psi(expected: list[float], actual: list[float], eps: float = 1e-4) -> float:
    """Population stability index between two binned distributions (shares that sum to 1)."""
    e = np.clip(np.asarray(expected, dtype=float), eps, None)
    a = np.clip(np.asarray(actual, dtype=float), eps, None)
    return float(np.sum((a - e) * np.log(a / e)))


def window(session: Session, start: datetime, end: datetime) -> Window:
    """Triage confidence and override rate of the tickets triaged in [start, end)."""
    rows = session.exec(
        select(TriageResult.ticket_id, TriageResult.confidence).where(
            col(TriageResult.created_at) >= start, col(TriageResult.created_at) < end
        )
    ).all()
    per_ticket: dict[int, float] = {ticket_id: confidence for ticket_id, confidence in rows}
    confidences = np.array(list(per_ticket.values()), dtype=float)
    overrides = session.exec(
        select(func.count(func.distinct(Feedback.ticket_id))).where(
            Feedback.kind == FeedbackKind.OVERRIDE_INTENT,
            col(Feedback.created_at) >= start,
            col(Feedback.created_at) < end,
        )
    ).one()
    n = len(confidences)
    counts, _ = np.histogram(np.clip(confidences, 0, 1), bins=BINS) if n else (np.zeros(len(BINS) - 1), None)
    return Window(
        start=start,
        end=end,
        tickets=n,
        mean_confidence=float(confidences.mean()) if n else None,
        override_rate=float(min(overrides / n, 1.0)) if n else None,
        histogram=[float(c / n) if n else 0.0 for c in counts],
    )


def drift_report(session: Session, *, now: datetime | None = None) -> DriftReport:
    """This week against the month before, with the findings that call for an alert."""
    now = now or utcnow()
    week = window(session, now - WEEK, now)
    month = window(session, now - WEEK - MONTH, now - WEEK)
    if week.tickets < MIN_TICKETS or month.tickets < MIN_TICKETS:
        return DriftReport(week, month, None)
    shift = psi(month.histogram, week.histogram)
    findings = []
    if shift > PSI_ALERT:
        findings.append(f"intent confidence distribution shifted (PSI {shift:.2f} > {PSI_ALERT})")
    assert week.mean_confidence is not None and month.mean_confidence is not None
    if month.mean_confidence - week.mean_confidence > MEAN_DROP:
        findings.append(f"mean intent confidence fell from {month.mean_confidence:.2f} to {week.mean_confidence:.2f}")
    assert week.override_rate is not None and month.override_rate is not None
    if week.override_rate - month.override_rate > OVERRIDE_RISE:
        findings.append(
            f"agents corrected {week.override_rate:.0%} of intents this week, {month.override_rate:.0%} before"
        )
    return DriftReport(week, month, shift, findings)


def check_drift(session: Session, data_dir: Path, *, now: datetime | None = None) -> DriftReport:
    """Compute the drift report and raise (store and audit) an alert when it has findings."""
    report = drift_report(session, now=now)
    if report.findings:
        details = {"psi": report.psi, "week": _plain(report.week), "month": _plain(report.month)}
        alert = raise_alert(data_dir, "drift", "Intent model drift: " + "; ".join(report.findings), details)
        audit.append(session, actor="drift-check", action="drift_alert", subject=f"alert:{alert.id}", details=details)
    return report


def raise_alert(data_dir: Path, kind: str, message: str, details: dict[str, Any]) -> Alert:
    """Store an alert for the dashboard."""
    alert = Alert(uuid.uuid4().hex[:12], utcnow().isoformat(timespec="seconds"), kind, message, details)
    with _alerts_lock:
        alerts = _read(data_dir)
        alerts.append(asdict(alert))
        _write(data_dir, alerts)
    log.warning("alert raised: %s", message)
    return alert


def open_alerts(data_dir: Path) -> list[Alert]:
    """Alerts nobody acknowledged yet, newest first."""
    with _alerts_lock:
        return [Alert(**a) for a in reversed(_read(data_dir)) if not a.get("acknowledged_by")]


def acknowledge(data_dir: Path, alert_id: str, *, actor: str) -> bool:
    """Mark an alert as seen by `actor`; False when there is no such open alert."""
    with _alerts_lock:
        alerts = _read(data_dir)
        for alert in alerts:
            if alert["id"] == alert_id and not alert.get("acknowledged_by"):
                alert["acknowledged_by"] = actor
                _write(data_dir, alerts)
                return True
    return False


def _read(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / ALERTS_FILE
    try:
        value = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    except (OSError, ValueError) as exc:
        log.warning("unreadable %s: %s", path, exc)
        return []
    return value if isinstance(value, list) else []


def _write(data_dir: Path, alerts: list[dict[str, Any]]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / (ALERTS_FILE + ".tmp")
    temporary.write_text(json.dumps(alerts, indent=1), encoding="utf-8")
    temporary.replace(data_dir / ALERTS_FILE)


def _plain(w: Window) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(w).items()}
