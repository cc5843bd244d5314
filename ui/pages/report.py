"""The weekly report: last week's KPIs against the week before, the main charts and model quality, made to print."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

from nicegui import run, ui

from engine.kpi import DashboardData, KpiFilter, KpiParams, utcnow
from engine.runtime import Engine
from ui.components import charts
from ui.state import engine
from ui.theme import frame

PRINT_CSS = """
@page { size: A4; margin: 14mm; }
@media print {
  .q-header, .q-footer, .cd-no-print { display: none !important; }
  .q-page-container { padding: 0 !important; }
  body { background: white !important; }
  .cd-card { break-inside: avoid; border-color: #bbb !important; }
  .cd-report-section { break-inside: avoid; }
}
.cd-report table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
.cd-report th, .cd-report td { border-bottom: 1px solid var(--cd-line); padding: 4px 8px; text-align: left; }
.cd-report th { color: var(--cd-muted); font-weight: 600; }
.cd-report td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""
TOP = 10


def last_week(now: datetime) -> KpiFilter:
    """The seven full UTC days before today."""
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return KpiFilter(today - timedelta(days=7), today)


def _load(desk: Engine) -> DashboardData:
    now = utcnow()
    return desk.kpi.dashboard(last_week(now), params=KpiParams.from_settings(desk.settings), now=now)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"num" if i in numeric else ""}">{escape(c)}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def kpi_table(data: DashboardData) -> str:
    """Every KPI: this week, the week before, the change and the target."""
    rows = []
    for kpi in data.kpis:
        d = kpi.definition
        met = {True: "met", False: "missed", None: ""}[kpi.on_target]
        target = f"{d.target.text} {met}".strip() if d.target else ""
        rows.append(
            [d.label, d.format(kpi.value), d.format(kpi.previous), d.format_change(kpi.value, kpi.previous), target]
        )
    return _table(["KPI", "This week", "Week before", "Change", "Target"], rows, {1, 2, 3})


def quality_table(data: DashboardData) -> str:
    """The intents with the lowest precision among those agents reviewed."""
    reviewed = [q for q in data.intent_quality if q.reviewed][:TOP]
    rows = [
        [q.intent, str(q.predicted), str(q.reviewed), f"{q.precision:.0%}" if q.precision is not None else "–",
         f"{q.override_rate:.0%}" if q.override_rate is not None else "–"]
        for q in reviewed
    ]  # fmt: skip
    return _table(["Intent (AI)", "Predicted", "Reviewed", "Precision", "Override rate"], rows, {1, 2, 3, 4})


def intents_table(data: DashboardData) -> str:
    """The most frequent intents and their share."""
    total = sum(i.tickets for i in data.intent_mix) or 1
    rows = [[i.intent, str(i.tickets), f"{i.tickets / total:.0%}"] for i in data.intent_mix[:TOP]]
    return _table(["Intent", "Tickets", "Share"], rows, {1, 2})


def _section(title: str) -> ui.card:
    card = ui.card().classes("cd-card cd-report-section w-full gap-2")
    with card:
        ui.label(title).classes("cd-section-title")
    return card


async def report_page() -> None:
    ui.add_css(PRINT_CSS)
    with frame("Weekly report"):
        body = ui.column().classes("cd-report w-full gap-3")
        with body:
            ui.label("Preparing the report…").classes("cd-muted").mark("report-loading")
    data = await run.io_bound(_load, engine())
    if data is None:  # the app is shutting down
        return
    period = data.kpi_filter
    body.clear()
    with body:
        with ui.row().classes("w-full items-end"):
            with ui.column().classes("gap-0"):
                ui.label("Weekly report").classes("text-2xl font-semibold")
                last_day = period.end - timedelta(days=1)
                ui.label(
                    f"{period.start:%a %d %b} – {last_day:%a %d %b %Y} (UTC), compared with the week before · "
                    f"generated {data.computed_at:%d %b %Y %H:%M} UTC"
                ).classes("cd-muted").mark("report-period")
            ui.space()
            ui.button("Print", icon="print", on_click=lambda: ui.run_javascript("window.print()")).props(
                "unelevated"
            ).classes("cd-no-print")
        for alert in data.alerts:
            ui.label(f"⚠ {alert.message}").classes("text-orange-10").mark(f"report-alert-{alert.key}")
        with _section("Key performance indicators"):
            ui.html(kpi_table(data), sanitize=False).classes("w-full").mark("report-kpis")
        with ui.row().classes("w-full gap-3 no-wrap"):
            with _section("Volume"):
                ui.plotly(charts.volume(data, static=True)).classes("w-full")
            with _section("Sentiment"):
                ui.plotly(charts.sentiment(data, static=True)).classes("w-full")
        with ui.row().classes("w-full gap-3 no-wrap"):
            with _section("Top intents"):
                ui.html(intents_table(data), sanitize=False).classes("w-full")
            with _section("AI outcomes"):
                f = data.funnel
                rows = [
                    ["Tickets", str(f.tickets)],
                    ["Triaged by the AI", str(f.triaged)],
                    ["Auto-resolved / assisted / escalated", f"{f.auto_resolved} / {f.assisted} / {f.escalated}"],
                    ["Drafts accepted / edited / rejected", f"{f.accepted} / {f.edited} / {f.rejected}"],
                ]
                ui.html(_table(["", "This week"], rows, {1}), sanitize=False).classes("w-full")
        with _section("Model quality"):
            confidence = "no data" if data.mean_confidence is None else f"{data.mean_confidence:.2f}"
            ui.label(f"Mean intent confidence {confidence}. Intents with the lowest precision:")
            ui.html(quality_table(data), sanitize=False).classes("w-full").mark("report-quality")
