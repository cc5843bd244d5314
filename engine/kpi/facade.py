"""What the dashboard and report screens ask of the KPIs, bound to one database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine as SAEngine

from engine.kpi.acceptance import draft_acceptance
from engine.kpi.calibration import Calibration, reliability
from engine.kpi.dashboard import DashboardData, all_time, dashboard, filter_options, sentiment_point
from engine.kpi.filters import KpiFilter, KpiParams
from engine.kpi.series import TicketRef


class Kpis:
    """The KPIs of one desk; every method is the function of the same name on the desk's database."""

    def __init__(self, db: SAEngine) -> None:
        self._db = db

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
        """Per confidence bin, how many past tickets agents checked and how many had the predicted intent."""
        return reliability(self._db)

    def sentiment_point(self, kpi_filter: KpiFilter, day: str, channel: str | None) -> list[TicketRef]:
        """The tickets behind one point of the sentiment chart."""
        return sentiment_point(self._db, kpi_filter, day, channel)
