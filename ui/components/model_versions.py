"""Admins: the saved intent model versions, and rolling back to one of them (audited)."""

from __future__ import annotations

from nicegui import run, ui

from engine.accounts import Permission, can
from engine.admin import rollback_intent_model
from engine.feedback.rollback import RollbackError, intent_versions
from engine.runtime import Engine
from ui.auth import current_user, signed_in_name


def _mark(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def intent_versions_card(desk: Engine) -> None:
    """A table of intent model versions (newest first) with a roll-back button for the chosen one."""
    with ui.card().classes("cd-card w-full max-w-3xl gap-2").mark("intent-versions"):
        ui.label("Intent model versions").classes("cd-section-title")
        ui.label(
            "Accuracy on held-back confirmed intents and recall of held-back “unknown” tickets "
            "(cross-validated figures for a first model)."
        ).classes("cd-muted text-sm")

        holder = ui.column().classes("w-full")

        @ui.refreshable
        def table() -> None:
            rows = [
                {
                    "version": v.version,
                    "saved": v.created_at,
                    "intents": v.intents,
                    "accuracy": _mark(v.accuracy),
                    "unknown recall": _mark(v.oos_recall),
                    "active": "active" if v.active else "",
                }
                for v in intent_versions(desk.settings.models_dir)
            ]
            columns = [
                {"name": key, "label": key.capitalize(), "field": key, "align": "left"}
                for key in (rows[0] if rows else {})
            ]
            ui.table(columns=columns, rows=rows, row_key="version").props("dense flat").classes("w-full").mark(
                "versions-table"
            )
            choice.options = [row["version"] for row in rows if not row["active"]]
            choice.update()

        choice = ui.select([], label="Roll back to").props("dense outlined").classes("w-48").mark("rollback-version")

        async def roll_back() -> None:
            if not can(current_user(), Permission.MANAGE_MODELS):
                ui.notify("Only an admin may roll the model back", type="warning")
                return
            if not choice.value:
                ui.notify("Choose a version", type="warning")
                return
            try:
                target = await run.io_bound(rollback_intent_model, desk, version=choice.value, actor=signed_in_name())
            except RollbackError as exc:
                ui.notify(str(exc), type="warning")
                return
            ui.notify(f"Intent model {target} is active", type="positive")
            table.refresh()

        ui.button("Roll back", icon="history", on_click=roll_back).props("flat").mark("rollback")
        with holder:
            table()
