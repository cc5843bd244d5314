"""Settings card for how KPIs are measured: the first contact resolution window and the agent hourly cost."""

from __future__ import annotations

from nicegui import ui

from engine.accounts import Permission, can
from engine.admin import change_setting
from engine.runtime import Engine
from ui.auth import current_user, signed_in_name


def kpi_settings_card(desk: Engine) -> None:
    """Supervisors set the reopen window of first contact resolution and the agent hourly cost (audited)."""
    settings = desk.settings
    editable = can(current_user(), Permission.EDIT_THRESHOLDS)
    with ui.card().classes("cd-card w-full max-w-3xl gap-2").mark("kpi-settings"):
        ui.label("How KPIs are measured").classes("cd-section-title")
        ui.label(
            "A resolved ticket counts as first contact resolution when the customer wrote once and it was not reopened "
            "within this many days of its first resolution. Cost per ticket adds agent time at the hourly cost to the "
            "AI's compute. The dashboard uses the new values at its next refresh."
        ).classes("cd-muted text-sm")
        days = (
            ui.number(
                "Reopen window for first contact resolution (days)", value=settings.fcr_reopen_days, min=0, step=1
            )
            .props("outlined dense")
            .classes("w-96")
            .mark("fcr-days")
        )
        cost = (
            ui.number("Agent cost per hour ($, fully loaded)", value=settings.agent_hourly_cost, min=0, step=1)
            .props("outlined dense")
            .classes("w-96")
            .mark("agent-hourly-cost")
        )

        def save() -> None:
            if days.value is None or cost.value is None or days.value < 0 or cost.value < 0:
                ui.notify("Both values must be numbers of 0 or more", type="warning")
                return
            for key, field in (("fcr_reopen_days", days), ("agent_hourly_cost", cost)):
                if float(field.value) != getattr(desk.settings, key):
                    change_setting(desk, key, float(field.value), actor=signed_in_name())
            ui.notify("Saved; the dashboard uses it from its next refresh", type="positive")

        for element in (days, cost):
            element.set_enabled(editable)
        ui.button("Save", on_click=save).props("flat").mark("save-kpi-settings").set_enabled(editable)
