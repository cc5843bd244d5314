"""Supervisor dashboard: KPI tiles with trends and targets, charts, model quality; CSV and PNG exports; live refresh."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nicegui import background_tasks, events, run, ui

from engine.kpi import (
    DEFINITIONS,
    DashboardData,
    KpiFilter,
    KpiParams,
    Kpis,
    TicketRef,
    csv_text,
    utcnow,
)
from engine.runtime import Engine
from ui.components import charts
from ui.components.acceptance_card import acceptance_section
from ui.components.kpi_tile import kpi_tile
from ui.state import engine
from ui.theme import frame

log = logging.getLogger(__name__)

RANGES = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days", "365": "Last 12 months", "all": "All time"}
QUALITY_KEYS = ("override_rate",)  # shown in the model quality section, not among the tiles
POLL_SECONDS = 3.0
# Load and compile plotly (4.5 MB) while the first refresh runs, not after its data arrives with the first chart.
PLOTLY_PRELOAD = '<script type="module">import("nicegui-plotly");</script>'
Builder = Callable[[DashboardData], charts.Figure]
# (element key, figure builder, what it shows, the table its CSV export holds)
OVERVIEW: tuple[tuple[str, Builder, str, str], ...] = (
    ("volume", charts.volume, "Ticket volume by channel", "volume_by_day_channel"),
    ("sentiment", charts.sentiment, "Sentiment trend", "sentiment_by_day"),
    ("intent-mix", charts.intent_mix, "Intent mix", "intent_mix"),
    ("confidence", charts.confidence_histogram, "Intent confidence", "confidence_bins"),
    ("funnel", charts.outcome_funnel, "AI outcome funnel", "funnel"),
)
QUALITY: tuple[tuple[str, Builder, str, str], ...] = (
    ("confusion", charts.confusion, "AI intent vs agent-confirmed intent", "confusion_matrix"),
    ("reliability", charts.reliability, "Reliability", "confidence_bins"),
    ("edit-distance", charts.edit_distance, "Draft edit distance by intent", "edit_distance"),
)
QUALITY_COLUMNS: list[dict[str, Any]] = [
    {"name": "intent", "label": "Intent (AI)", "field": "intent", "sortable": True, "align": "left"},
    {"name": "predicted", "label": "Predicted", "field": "predicted", "sortable": True},
    {"name": "reviewed", "label": "Reviewed", "field": "reviewed", "sortable": True},
    {"name": "precision", "label": "Precision", "field": "precision", "sortable": True},
    {"name": "overrides", "label": "Overrides", "field": "overrides", "sortable": True},
    {"name": "override_rate", "label": "Override rate", "field": "override_rate", "sortable": True},
]
POINT_COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "label": "#", "field": "id", "align": "left"},
    {"name": "subject", "label": "Subject", "field": "subject", "align": "left", "classes": "cd-text"},
    {"name": "channel", "label": "Channel", "field": "channel", "align": "left"},
    {"name": "intent", "label": "Intent", "field": "intent", "align": "left"},
    {"name": "valence", "label": "Valence", "field": "valence", "sortable": True},
    {"name": "status", "label": "Status", "field": "status", "align": "left"},
]
LINK_SLOT = (
    r"""<q-td :props="props"><a :href="'/ticket/' + props.row.id" class="text-primary">{{ props.value }}</a></q-td>"""
)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


@dataclass
class Filters:
    """What the supervisor chose: a preset range or custom days, channels and intents."""

    preset: str = "30"
    days: tuple[date, date] | None = None  # custom range, both days included
    channels: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    live_only: bool = False  # leave out the demo tickets

    def resolve(self, kpis: Kpis, now: datetime) -> KpiFilter:
        """The KPI filter for now (runs a query for 'all time')."""
        if self.days is not None:
            first, last = self.days
            start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
            end = start + timedelta(days=(last - first).days + 1)
            return KpiFilter(start, end, self.channels, self.intents, self.live_only)
        if self.preset == "all":
            period = kpis.all_time(now=now, channels=self.channels, intents=self.intents)
        else:
            period = KpiFilter.last_days(int(self.preset), now=now, channels=self.channels, intents=self.intents)
        return period.with_live_only(self.live_only)


def _load(desk: Engine, filters: Filters) -> tuple[DashboardData, list[str], list[str]]:
    """One refresh (runs in a worker thread): every dashboard query and the filter menus' options."""
    now = utcnow()
    params = KpiParams.from_settings(desk.settings)
    data = desk.kpi.dashboard(filters.resolve(desk.kpi, now), params=params, now=now)
    channels, intents = desk.kpi.filter_options()
    return data, channels, intents


def _rows(refs: list[TicketRef]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "subject": r.subject,
            "channel": r.channel,
            "intent": r.intent or "",
            "valence": None if r.valence is None else round(r.valence, 2),
            "status": r.status,
        }
        for r in refs
    ]


class DashboardScreen:
    """The dashboard's state, layout and refresh loop."""

    def __init__(self, desk: Engine) -> None:
        self.desk = desk
        self.filters = Filters()
        self.data: DashboardData | None = None
        self.loading = False
        self.again = False
        self.seen_revision = -1
        self.plots: dict[str, ui.plotly] = {}
        self.slots: dict[str, ui.element] = {}
        self.point_rows: list[dict[str, Any]] = []

    def build(self) -> None:
        ui.add_body_html(PLOTLY_PRELOAD)
        with frame("Dashboard"):
            self._filter_bar()
            self.alerts = ui.column().classes("w-full gap-2").mark("alerts")
            self.tiles = (
                ui.element("div")
                .classes("w-full grid gap-3")
                .style("grid-template-columns: repeat(auto-fill, minmax(210px, 1fr))")
            )
            self._render_tiles()
            with ui.row().classes("w-full items-center"):
                ui.label("Overview").classes("text-lg font-semibold")
                ui.space()
                self._csv_button("kpis", "KPI table")
            with (
                ui.element("div")
                .classes("w-full grid gap-3")
                .style("grid-template-columns: repeat(auto-fit, minmax(520px, 1fr))")
            ):
                for key, _, title, table in OVERVIEW:
                    self._chart_card(key, title, table)
            self._point_card()
            self._quality_section()
            acceptance_section(self.desk.kpi)
        # The first load runs while the browser loads the page (its updates go out once it connects), then the timer
        # refreshes whenever tickets change.
        background_tasks.create(self.refresh(), name="dashboard-first-load", context=ui.context.client)
        ui.timer(POLL_SECONDS, self.poll)

    def _filter_bar(self) -> None:
        with ui.row().classes("w-full items-end gap-3"):
            ui.select(RANGES, value="30", label="Period", on_change=self._on_preset).props("dense outlined").classes(
                "w-44"
            ).mark("range")
            with ui.button("Custom days", icon="date_range").props("flat no-caps").mark("custom-range"), ui.menu():
                ui.date(on_change=self._on_days).props("range").mark("range-picker")
            self.channel_select = (
                ui.select([], multiple=True, label="Channels (all)", on_change=self._on_channels)
                .props("dense outlined use-chips clearable")
                .classes("min-w-[200px]")
                .mark("channel-filter")
            )
            self.intent_select = (
                ui.select([], multiple=True, label="Intents (all)", on_change=self._on_intents, with_input=True)
                .props("dense outlined use-chips clearable")
                .classes("min-w-[260px]")
                .mark("intent-filter")
            )
            ui.switch("Live only", on_change=self._on_live_only).mark("live-only").tooltip(
                "Leave out the demo tickets (seeded, their past simulated)"
            )
            ui.space()
            self.status = ui.label("loading…").classes("cd-muted text-sm").mark("dashboard-status")
            ui.button(icon="refresh", on_click=self.refresh).props("flat round").tooltip("Refresh now")
            ui.button("Weekly report", icon="print", on_click=lambda: ui.navigate.to("/report")).props("flat no-caps")

    def _csv_button(self, table: str, what: str) -> None:
        ui.button(icon="download", on_click=lambda: self.download(table)).props("flat dense round").tooltip(
            f"Download {what} as CSV"
        ).mark(f"csv-{table}")

    def _chart_card(self, key: str, title: str, table: str) -> None:
        """A card whose chart is drawn once the first data arrives (one plot per chart, not a placeholder first)."""
        wide = "grid-column: 1 / -1" if key == "funnel" else ""
        with ui.card().classes("cd-card p-2 gap-0 w-full").style(wide):
            with ui.row().classes("w-full justify-end"):
                self._csv_button(table, title.lower())
            self.slots[key] = ui.element("div").classes("w-full").style("min-height: 320px")
            with self.slots[key]:
                ui.spinner(size="lg").classes("m-auto")

    def _draw(self, key: str, figure: charts.Figure) -> None:
        if key in self.plots:
            self.plots[key].update_figure(figure)
            return
        self.slots[key].clear()
        with self.slots[key]:
            self.plots[key] = ui.plotly(figure).classes("w-full").mark(f"chart-{key}")
        if key == "sentiment":
            self.plots[key].on("plotly_click", self._on_point)

    def _point_card(self) -> None:
        with ui.card().classes("cd-card w-full gap-2") as self.point_card:
            with ui.row().classes("w-full items-center"):
                self.point_title = ui.label("Click a point of the sentiment chart to list its tickets.").classes(
                    "cd-muted"
                )
                ui.space()
                ui.button(icon="download", on_click=self._download_point).props("flat dense round").tooltip(
                    "Download these tickets as CSV"
                )
            self.point_table = (
                ui.table(columns=POINT_COLUMNS, rows=[], row_key="id", pagination=10)
                .classes("w-full")
                .props("flat dense")
                .mark("point-tickets")
            )
            self.point_table.add_slot("body-cell-subject", LINK_SLOT)

    def _quality_section(self) -> None:
        with ui.row().classes("w-full items-center"):
            ui.label("Model quality").classes("text-lg font-semibold")
            self.quality_summary = ui.label("").classes("cd-muted").mark("quality-summary")
        with (
            ui.element("div")
            .classes("w-full grid gap-3")
            .style("grid-template-columns: repeat(auto-fit, minmax(520px, 1fr))")
        ):
            for key, _, title, table in QUALITY:
                self._chart_card(key, title, table)
            with ui.card().classes("cd-card w-full gap-1"):
                with ui.row().classes("w-full items-center"):
                    ui.label("Precision and override rate per intent").classes("font-semibold")
                    ui.space()
                    self._csv_button("intent_quality", "per-intent quality")
                self.quality_table = (
                    ui.table(columns=QUALITY_COLUMNS, rows=[], row_key="intent", pagination=12)
                    .classes("w-full")
                    .props("flat dense")
                    .mark("intent-quality")
                )

    async def refresh(self) -> None:
        """Run every query off the event loop, then redraw; a refresh asked for meanwhile runs right after."""
        if self.loading:
            self.again = True
            return
        self.loading = True
        self.status.text = "refreshing…"
        self.seen_revision = self.desk.revision
        try:
            loaded = await run.io_bound(_load, self.desk, self.filters)
        except Exception as exc:  # a bad custom range or a locked database: say so, keep the last data
            log.warning("dashboard refresh failed: %s", exc)
            self.status.text = f"could not refresh: {exc}"
            return
        finally:
            self.loading = False
        if loaded is None:  # the app is shutting down
            return
        data, channels, intents = loaded
        self.data = data
        self._render(data, channels, intents)
        if self.again:
            self.again = False
            await self.refresh()

    async def poll(self) -> None:
        """Refresh when tickets changed (the engine bumps its revision)."""
        if self.desk.revision != self.seen_revision and not self.loading:
            await self.refresh()

    def _render(self, data: DashboardData, channels: list[str], intents: list[str]) -> None:
        self.channel_select.set_options(channels, value=[c for c in self.filters.channels if c in channels])
        self.intent_select.set_options(intents, value=[i for i in self.filters.intents if i in intents])
        period = data.kpi_filter
        last_day = (period.end - timedelta(microseconds=1)).date()
        self.status.text = f"{period.start:%d %b %Y} – {last_day:%d %b %Y} · updated {data.computed_at:%H:%M:%S} UTC"
        self._render_tiles()
        self.alerts.clear()
        with self.alerts:
            if data.demo_tickets:
                ui.label(
                    f"{data.demo_tickets} of this period's tickets are demo data, their past simulated: figures that "
                    "count them are marked demo. Switch on 'Live only' to leave them out."
                ).classes("cd-muted text-sm").mark("demo-note")
            for alert in data.alerts:
                with ui.row().classes("w-full items-center gap-2 p-2 rounded bg-orange-1 text-orange-10"):
                    ui.icon("warning", color="warning")
                    ui.label(alert.message).mark(f"alert-{alert.key}")
        for key, builder, _, _ in OVERVIEW + QUALITY:
            self._draw(key, builder(data))
        override = data.kpi("override_rate")
        confidence = "no data" if data.mean_confidence is None else f"{data.mean_confidence:.2f}"
        self.quality_summary.text = (
            f"mean confidence {confidence} · {override.definition.label.lower()} "
            f"{override.definition.format(override.value)} (previous {override.definition.format(override.previous)})"
        )
        self.quality_table.rows = [
            {
                "intent": q.intent,
                "predicted": q.predicted,
                "reviewed": q.reviewed,
                "precision": _percent(q.precision),
                "overrides": q.overrides,
                "override_rate": _percent(q.override_rate),
            }
            for q in data.intent_quality
        ]
        self.quality_table.update()

    def _render_tiles(self) -> None:
        by_key = {k.key: k for k in self.data.kpis} if self.data else {}
        self.tiles.clear()
        with self.tiles:
            for definition in DEFINITIONS:
                if definition.key not in QUALITY_KEYS:
                    kpi_tile(definition, by_key.get(definition.key))

    async def _on_preset(self, e: events.ValueChangeEventArguments) -> None:
        self.filters.preset, self.filters.days = str(e.value), None
        await self.refresh()

    async def _on_days(self, e: events.ValueChangeEventArguments) -> None:
        value = e.value
        if not value:
            return
        first, last = (value["from"], value["to"]) if isinstance(value, dict) else (value, value)
        self.filters.days = (date.fromisoformat(first.replace("/", "-")), date.fromisoformat(last.replace("/", "-")))
        await self.refresh()

    async def _on_live_only(self, e: events.ValueChangeEventArguments) -> None:
        self.filters.live_only = bool(e.value)
        await self.refresh()

    async def _on_channels(self, e: events.ValueChangeEventArguments) -> None:
        if list(e.value or []) != self.filters.channels:
            self.filters.channels = list(e.value or [])
            await self.refresh()

    async def _on_intents(self, e: events.ValueChangeEventArguments) -> None:
        if list(e.value or []) != self.filters.intents:
            self.filters.intents = list(e.value or [])
            await self.refresh()

    async def _on_point(self, e: events.GenericEventArguments) -> None:
        points = (e.args or {}).get("points") or []
        if not points or self.data is None:
            return
        day, channel = (points[0].get("customdata") or [str(points[0].get("x")), ""])[:2]
        refs = await run.io_bound(self.desk.kpi.sentiment_point, self.data.kpi_filter, str(day), channel or None)
        if refs is None:
            return
        self.point_rows = _rows(refs)
        self.point_table.rows = self.point_rows
        self.point_table.update()
        where = f"{channel}, " if channel else "all channels, "
        self.point_title.text = f"{len(refs)} tickets on {str(day)[:10]} ({where}most negative first)"
        self.point_title.classes(remove="cd-muted")

    def download(self, table: str) -> None:
        """Download one of the page's tables as CSV."""
        if self.data is None:
            ui.notify("The dashboard is still loading.")
            return
        self._send(self.data.tables()[table], table)

    def _download_point(self) -> None:
        self._send(self.point_rows, "sentiment_point_tickets")

    def _send(self, rows: list[dict[str, Any]], name: str) -> None:
        content = csv_text(rows) or "no data\n"
        ui.download.content(content.encode("utf-8"), f"caredesk-{name}-{utcnow():%Y%m%d-%H%M}.csv", "text/csv")


def dashboard_page() -> None:
    DashboardScreen(engine()).build()
