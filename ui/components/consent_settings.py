"""Settings card (admin): whether a new customer may be handled by the AI until they opt out."""

from __future__ import annotations

from nicegui import ui

from engine.accounts import Permission, can
from engine.admin import change_setting
from engine.runtime import Engine
from ui.auth import current_user, signed_in_name


def consent_default_card(desk: Engine) -> None:
    """Admins choose the AI-handling default for new customers (audited); SECURITY.md states the shipped default."""
    editable = can(current_user(), Permission.MANAGE_MODELS)
    with ui.card().classes("cd-card w-full max-w-3xl gap-2").mark("consent-default"):
        ui.label("Customer consent").classes("cd-section-title")
        ui.label(
            "Whether the AI may draft for and answer a customer who never said. Customers can opt out (or in) through "
            "the webhook API, and agents set it on the ticket; those choices stay as they are when this changes."
        ).classes("cd-muted text-sm")
        switch = ui.switch(
            "New customers may be handled by the AI until they opt out",
            value=desk.settings.ai_opt_in_default,
        ).mark("ai-opt-in-default")
        switch.set_enabled(editable)

        def save() -> None:
            if not can(current_user(), Permission.MANAGE_MODELS):
                ui.notify("Only an admin may change the consent default", type="warning")
                return
            change_setting(desk, "ai_opt_in_default", bool(switch.value), actor=signed_in_name())
            ui.notify("Saved; applies to customers who write from now on", type="positive")

        ui.button("Save", on_click=save).props("flat").mark("save-consent-default").set_enabled(editable)
