"""Draft acceptance on the dashboard: sent unchanged, small edits, heavy edits and rejections, by intent and week."""

from __future__ import annotations

from typing import Any

from nicegui import run, ui

from engine.kpi import SMALL_EDIT, Kpis

COLUMNS: list[dict[str, Any]] = [
    {"name": "key", "label": "", "field": "key", "align": "left", "sortable": True},
    {"name": "drafts", "label": "Drafts", "field": "drafts", "sortable": True},
    {"name": "unchanged", "label": "Sent unchanged", "field": "unchanged", "sortable": True},
    {"name": "small_edit", "label": f"Small edits (≤ {SMALL_EDIT:.0%})", "field": "small_edit", "sortable": True},
    {"name": "heavy_edit", "label": "Heavily edited", "field": "heavy_edit", "sortable": True},
    {"name": "rejected", "label": "Rejected", "field": "rejected", "sortable": True},
    {"name": "copy_rate", "label": "Copy rate", "field": "copy_rate", "sortable": True},
]
VIEWS = {"intent": "By intent", "week": "By week", "basis": "By basis"}


def acceptance_section(kpis: Kpis) -> None:
    """A card with the acceptance table; the grouping is chosen with a toggle, figures load off the event loop."""
    data: dict[str, list[dict[str, Any]]] = {}
    with ui.card().classes("cd-card w-full gap-1").mark("draft-acceptance"):
        with ui.row().classes("w-full items-center"):
            ui.label("Draft acceptance").classes("font-semibold")
            summary = ui.label("").classes("cd-muted text-sm").mark("acceptance-summary")
            ui.space()
            view = ui.toggle(VIEWS, value="intent", on_change=lambda: show()).props("dense no-caps")
        table = ui.table(columns=COLUMNS, rows=[], row_key="key", pagination=10).classes("w-full").props("flat dense")

    def show() -> None:
        table.rows = data.get(str(view.value), [])
        total = (data.get("total") or [{}])[0]
        if total:
            summary.text = (
                f"{total['drafts']} drafts: {total['copy_rate']:.0%} sent unchanged, "
                f"{total['accepted_rate']:.0%} unchanged or with small edits"
            )
        else:
            summary.text = "no draft has been sent or rejected yet"

    async def load() -> None:
        data.update(await run.io_bound(kpis.draft_acceptance))
        show()

    ui.timer(0.1, load, once=True)
