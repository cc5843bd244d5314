"""Supervisor KPIs: `dashboard()` runs every query for one refresh; tiles, series and quality are defined inside."""

from engine.kpi.acceptance import SMALL_EDIT
from engine.kpi.calibration import Calibration, calibration_at
from engine.kpi.dashboard import DashboardData, all_time, csv_text, dashboard, filter_options, refresh, sentiment_point
from engine.kpi.facade import Kpis
from engine.kpi.filters import KpiFilter, KpiParams, ensure_kpi_indexes
from engine.kpi.series import TicketRef
from engine.kpi.tiles import DEFINITIONS, Kpi, KpiDefinition
from engine.store.models import utcnow

__all__ = [
    "DEFINITIONS",
    "SMALL_EDIT",
    "Calibration",
    "DashboardData",
    "Kpi",
    "KpiDefinition",
    "KpiFilter",
    "KpiParams",
    "Kpis",
    "TicketRef",
    "all_time",
    "calibration_at",
    "csv_text",
    "dashboard",
    "ensure_kpi_indexes",
    "filter_options",
    "refresh",
    "sentiment_point",
    "utcnow",
]
