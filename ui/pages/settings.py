"""Settings: which local model drafts and which intent model version is active (admins), and the thresholds."""

from __future__ import annotations

from nicegui import run, ui

from engine.accounts import Permission, can
from engine.admin import change_setting, switch_drafter
from engine.drafting import DrafterUnavailable
from engine.runtime import Engine
from ui.auth import current_user, signed_in_name
from ui.components.consent_settings import consent_default_card
from ui.components.kpi_settings import kpi_settings_card
from ui.components.model_versions import intent_versions_card
from ui.components.routing_settings import learning_card, routing_settings_card
from ui.components.sla_card import SlaCard
from ui.components.store_client_card import store_client_card
from ui.components.survey_settings import survey_settings_card
from ui.pages.webhook_settings import webhook_source_card
from ui.state import engine
from ui.theme import frame


def settings_page() -> None:
    desk = engine()
    with frame("Settings"):
        if can(current_user(), Permission.MANAGE_MODELS):
            model_card(desk)
            intent_versions_card(desk)
            consent_default_card(desk)
        if can(current_user(), Permission.MANAGE_KEYS):
            store_client_card(desk)
            SlaCard(desk).build()
        threshold_cards(desk)


def model_card(desk: Engine) -> None:
    """Admins: load a GGUF from the models folder (or the bundled one)."""
    settings = desk.settings
    with ui.card().classes("cd-card w-full max-w-3xl gap-2"):
        ui.label("Local Llama model").classes("cd-section-title")
        ui.label(
            f"A llama.cpp GGUF file in {settings.gguf_dir}. Leave empty for the bundled SmolLM2-135M-Instruct."
        ).classes("cd-muted text-sm")
        path = (
            ui.input("GGUF file", value=settings.gguf_path, placeholder=str(settings.llm_path))
            .props("outlined clearable")
            .classes("w-full")
            .mark("gguf-path")
        )
        result = ui.label(f"In use: {desk.status['drafter'].detail}").classes("text-sm").mark("gguf-result")

        async def load() -> None:
            if not can(current_user(), Permission.MANAGE_MODELS):
                ui.notify("Only an admin may change the model", type="warning")
                return
            button.disable()
            result.text = "Loading…"
            try:
                detail = await run.io_bound(switch_drafter, desk, path.value or "", actor=signed_in_name())
            except DrafterUnavailable as exc:
                result.text = f"Not loaded: {exc}. The previous model stays in use."
                ui.notify(f"Not loaded: {exc}", type="warning")
            else:
                result.text = f"In use: {detail}"
                ui.notify("Model loaded", type="positive")
            finally:
                button.enable()

        button = ui.button("Load model", icon="memory", on_click=load).mark("load-gguf")


def threshold_cards(desk: Engine) -> None:
    """Supervisors: the review threshold, the routing policy and the learning loop."""
    settings = desk.settings
    with ui.card().classes("cd-card w-full max-w-3xl gap-2"):
        ui.label("Human review").classes("cd-section-title")
        threshold = (
            ui.number(
                "Flag tickets for review below this intent confidence",
                value=settings.review_threshold,
                min=0.5,
                max=0.99,
                step=0.01,
            )
            .props("outlined")
            .classes("w-96")
            .mark("review-threshold")
        )

        def save_threshold() -> None:
            change_setting(desk, "review_threshold", float(threshold.value or 0.8), actor=signed_in_name())
            ui.notify("Saved; applies to tickets triaged from now on", type="positive")

        ui.button("Save", on_click=save_threshold).props("flat").mark("save-threshold")

    routing_settings_card(desk)
    kpi_settings_card(desk)
    survey_settings_card(desk)
    learning_card(desk)
    webhook_source_card(desk)
