"""Settings card: how resolved tickets are surveyed, per channel and for AI-resolved tickets (audited)."""

from __future__ import annotations

from nicegui import ui

from engine.accounts import Permission, can
from engine.admin import change_setting
from engine.runtime import Engine
from engine.surveys import METHODS, SurveySettings, survey_table
from ui.auth import current_user, signed_in_name


def survey_settings_card(desk: Engine) -> None:
    """Supervisors choose, per channel and for AI-resolved tickets: a link in the reply, a follow-up, or none."""
    config = SurveySettings.of(desk.settings)
    editable = can(current_user(), Permission.EDIT_THRESHOLDS)
    with ui.card().classes("cd-card w-full max-w-3xl gap-2").mark("survey-settings"):
        ui.label("Customer surveys").classes("cd-section-title")
        ui.label(
            "When a ticket is resolved the customer gets a CSAT and effort survey: a link in the resolution reply, or "
            "a follow-up message some hours later (sent once per ticket through the outbox)."
        ).classes("cd-muted text-sm")
        with ui.row().classes("w-full gap-2"):
            channels = {
                channel: ui.select(METHODS, value=method, label=channel.capitalize())
                .props("outlined dense")
                .classes("w-44")
                .mark(f"survey-{channel}")
                for channel, method in config.channels.items()
            }
        ai = (
            ui.select(METHODS, value=config.ai_resolved, label="Tickets the AI resolved")
            .props("outlined dense")
            .classes("w-64")
            .mark("survey-ai-resolved")
        )
        hours = (
            ui.number("Follow-up after (hours)", value=config.follow_up_hours, min=0.1, max=720, step=1)
            .props("outlined dense")
            .classes("w-64")
            .mark("survey-follow-up-hours")
        )

        def save() -> None:
            try:
                table = survey_table(
                    desk.settings.surveys,
                    channels={channel: str(select.value) for channel, select in channels.items()},
                    ai_resolved=str(ai.value),
                    hours=hours.value,
                )
            except ValueError as exc:
                ui.notify(str(exc), type="warning")
                return
            change_setting(desk, "surveys", table, actor=signed_in_name())
            ui.notify("Saved; applies to tickets resolved from now on", type="positive")

        for element in (*channels.values(), ai, hours):
            element.set_enabled(editable)
        ui.button("Save", on_click=save).props("flat").mark("save-surveys").set_enabled(editable)
