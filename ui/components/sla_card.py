"""The admin's SLA card: business hours, the alert address, and per channel and priority the business minutes to the
first response and to resolution."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from engine.admin import save_sla
from engine.runtime import Engine
from engine.sla import PRIORITIES, SlaSettings
from ui.auth import signed_in_name


class SlaCard:
    """Edit and save the SLA policy (saved in the data dir, audited; tickets that arrive from then on use it)."""

    def __init__(self, desk: Engine) -> None:
        self.desk = desk
        self.current = SlaSettings.lenient(desk.settings).table()
        self.fields: dict[str, Any] = {}
        self.targets: dict[tuple[str, str, str], ui.number] = {}

    def build(self) -> None:
        with ui.card().classes("cd-card w-full max-w-3xl gap-2").mark("sla-settings"):
            ui.label("SLA policy").classes("cd-section-title")
            ui.label(
                "Each ticket gets a first-response and a resolution due from its channel and priority, counted in "
                "business hours. Breaches show in the queue and on a header badge for supervisors, and go by e-mail "
                "to the alert address (through the SMTP server of the Admin page's channels)."
            ).classes("cd-muted text-sm")
            with ui.row().classes("w-full gap-2"):
                for name, label, width in (
                    ("timezone", "Timezone", "w-48"),
                    ("days", "Business days", "w-32"),
                    ("open", "Opens", "w-24"),
                    ("close", "Closes", "w-24"),
                    ("alert_email", "Alert e-mail", "w-64"),
                ):
                    field = ui.input(label, value=str(self.current.get(name, ""))).props("dense outlined")
                    self.fields[name] = field.classes(width).mark(f"sla-{name.replace('_', '-')}")
            ui.label("Targets in business minutes: first response / resolution").classes("text-sm font-medium")
            with ui.grid(columns=1 + len(PRIORITIES)).classes("items-center gap-x-3 gap-y-1"):
                ui.label("")
                for priority in PRIORITIES:
                    ui.label(priority).classes("text-sm font-medium")
                for channel, by_priority in self.current["targets"].items():
                    ui.label(channel).classes("text-sm")
                    for priority in PRIORITIES:
                        with ui.row().classes("no-wrap gap-1"):
                            for kind in ("first_response", "resolution"):
                                number = ui.number(value=by_priority[priority][kind], min=0, format="%.0f")
                                number.props("dense outlined").classes("w-20")
                                self.targets[(channel, priority, kind)] = number.mark(
                                    f"sla-{channel}-{priority}-{kind.replace('_', '-')}"
                                )
            ui.button("Save SLA policy", icon="save", on_click=self.save).props("unelevated").mark("save-sla")

    def table(self) -> dict[str, Any]:
        """What the card shows, as an `[sla]` table."""
        table: dict[str, Any] = {name: str(field.value or "").strip() for name, field in self.fields.items()}
        targets: dict[str, dict[str, dict[str, Any]]] = {}
        for (channel, priority, kind), number in self.targets.items():
            targets.setdefault(channel, {}).setdefault(priority, {})[kind] = number.value
        return table | {"targets": targets}

    def save(self) -> None:
        try:
            saved = save_sla(self.desk, self.table(), actor=signed_in_name())
        except ValueError as exc:
            ui.notify(f"Not saved: {exc}", type="warning")
            return
        ui.notify(f"SLA policy saved ({saved.hours.describe()}); new tickets get these dues", type="positive")
