"""What the dashboard and report screens ask of the KPIs, bound to one database."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine as SAEngine

from engine.kpi.acceptance import draft_acceptance
from engine.kpi.calibration import Calibration, reliability
from engine.kpi.dashboard import DashboardData, all_time, dashboard, filter_options, sentiment_point
from engine.kpi.filters import KpiFilter, KpiParams
from engine.kpi.series import TicketRef

RELIABILITY_SECONDS = 60.0  # the reliability bins are recomputed at most this often


class Kpis:
    """The KPIs of one desk; every method is the function of the same name on the desk's database."""

    def __init__(self, db: SAEngine, *, reliability_seconds: float = RELIABILITY_SECONDS) -> None:
        self._db = db
        self._reliability_seconds = reliability_seconds
        self._reliability: tuple[float, list[Calibration]] | None = None
        self._lock = threading.Lock()

    def dashboard(
        self, kpi_filter: KpiFilter, *, params: KpiParams | None = None, now: datetime | None = None
    ) -> DashboardData:
        """Every KPI, chart and alert for one filter (one refresh)."""
        return dashboard(self._db, kpi_filter, params=params, now=now)

    def all_time(
        self, *, now: datetime | None = None, channels: list[str] | None = None, intents: list[str] | None = None
    ) -> KpiFilter:
        """A filter from the first ticket until now."""
        return all_time(self._db, now=now, channels=channels, intents=intents)

    def filter_options(self) -> tuple[list[str], list[str]]:
        """The channels and intents the filters offer."""
        return filter_options(self._db)

    def draft_acceptance(self) -> dict[str, list[dict[str, Any]]]:
        """How drafts were received, by intent, week and basis."""
        return draft_acceptance(self._db)

    def reliability(self) -> list[Calibration]:
        """Per confidence bin, how many past tickets agents checked and how many had the predicted intent (recomputed
        at most every `reliability_seconds`)."""
        with self._lock:
            cached = self._reliability
        if cached is not None and time.monotonic() - cached[0] < self._reliability_seconds:
            return cached[1]
        bins = reliability(self._db)
        with self._lock:
            self._reliability = (time.monotonic(), bins)
        return bins

    def sentiment_point(self, kpi_filter: KpiFilter, day: str, channel: str | None) -> list[TicketRef]:
        """The tickets behind one point of the sentiment chart."""
        return sentiment_point(self._db, kpi_filter, day, channel)
