"""One KPI tile of the dashboard: value, trend, previous period, target, and a "demo" mark for simulated figures."""

from __future__ import annotations

from nicegui import ui

from engine.kpi import Kpi, KpiDefinition


def kpi_tile(definition: KpiDefinition, kpi: Kpi | None) -> None:
    """One KPI: value, trend arrow against the previous period, target; the definition on hover."""
    value = kpi.value if kpi else None
    with ui.card().classes("cd-card p-3 gap-1").style("min-width: 200px").mark(f"kpi-{definition.key}"):
        ui.label(definition.label).classes("cd-section-title")
        with ui.row().classes("items-center gap-1 no-wrap"):
            text = definition.format(value) if kpi else "…"
            ui.label(text).classes("text-2xl font-semibold").mark(f"kpi-value-{definition.key}")
            if kpi is not None and kpi.trend is not None:
                icon = {"up": "arrow_upward", "down": "arrow_downward", "flat": "trending_flat"}[kpi.trend]
                colour = {True: "positive", False: "negative", None: "grey-7"}[kpi.improving]
                ui.icon(icon, color=colour, size="20px").mark(f"kpi-trend-{definition.key}")
        if kpi is not None:
            previous = definition.format(kpi.previous)
            change = definition.format_change(kpi.value, kpi.previous)
            ui.label(f"previous period: {previous}" + (f" ({change})" if change else "")).classes("cd-muted text-xs")
        if kpi is not None and kpi.demo:
            ui.badge("demo", color="grey-7").classes("self-start").mark(f"kpi-demo-{definition.key}").tooltip(
                "Counts demo tickets, whose past was simulated; switch on 'Live only' to leave them out"
            )
        if definition.target is not None:
            met = kpi.on_target if kpi else None
            colour = {True: "positive", False: "negative", None: "grey-6"}[met]
            ui.badge(f"target {definition.target.text}", color=colour).props("outline").classes("self-start")
        ui.tooltip(definition.doc)
