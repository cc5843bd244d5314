"""The admin's card for the desk's OAuth client at the store API: client id and secret, never shown back in full."""

from __future__ import annotations

from nicegui import ui

from engine.admin import save_store_client
from engine.privacy.secret_store import masked
from engine.runtime import Engine
from ui.auth import signed_in_name


def store_client_card(desk: Engine) -> None:
    """Set the client credentials the desk fetches its store tokens with (kept encrypted with the other keys)."""
    settings = desk.settings
    with ui.card().classes("cd-card w-full max-w-3xl gap-2").mark("store-client"):
        ui.label("Store API: OAuth client").classes("cd-section-title")
        where = settings.store_api_url.strip() or "the demo store"
        ui.label(
            f"The desk asks {where} for short-lived tokens, one scope per action, with these client credentials. "
            "They are kept encrypted next to the encryption keys; a blank field keeps the saved value."
        ).classes("cd-muted text-sm")
        with ui.row().classes("w-full gap-2"):
            client_id = (
                ui.input("Client id", placeholder=masked(settings.store_client_id))
                .props("dense outlined")
                .mark("store-client-id")
            )
            secret = (
                ui.input("Client secret", placeholder=masked(settings.store_client_secret))
                .props("dense outlined type=password")
                .mark("store-client-secret")
            )

        def save() -> None:
            changed = save_store_client(desk, client_id.value or "", secret.value or "", actor=signed_in_name())
            client_id.value = secret.value = ""
            ui.notify(f"Saved: {', '.join(changed)}" if changed else "Nothing changed", type="positive")

        ui.button("Save client", icon="key", on_click=save).props("unelevated").mark("save-store-client")
