"""Settings: which local model drafts, and the review threshold."""

from __future__ import annotations

from nicegui import run, ui

from engine.components import switch_drafter
from engine.drafting.drafter import DrafterUnavailable
from engine.settings_store import change_setting
from ui.pages.login import signed_in_name
from ui.pages.routing_settings import learning_card, routing_settings_card
from ui.pages.webhook_settings import webhook_source_card
from ui.state import engine
from ui.theme import frame


def settings_page() -> None:
    settings = engine().settings
    with frame("Settings"):
        with ui.card().classes("cd-card w-full max-w-3xl gap-2"):
            ui.label("Local Llama model").classes("cd-section-title")
            ui.label(
                "Any llama.cpp GGUF file on this machine. Leave empty for the bundled SmolLM2-135M-Instruct."
            ).classes("cd-muted text-sm")
            path = (
                ui.input("GGUF file", value=settings.gguf_path, placeholder=str(settings.llm_path))
                .props("outlined clearable")
                .classes("w-full")
                .mark("gguf-path")
            )
            result = ui.label(f"In use: {engine().status['drafter'].detail}").classes("text-sm").mark("gguf-result")

            async def load() -> None:
                button.disable()
                result.text = "Loading…"
                try:
                    detail = await run.io_bound(switch_drafter, engine(), path.value or "", actor=signed_in_name())
                except DrafterUnavailable as exc:
                    result.text = f"Not loaded: {exc}. The previous model stays in use."
                    ui.notify(f"Not loaded: {exc}", type="warning")
                else:
                    result.text = f"In use: {detail}"
                    ui.notify("Model loaded", type="positive")
                finally:
                    button.enable()

            button = ui.button("Load model", icon="memory", on_click=load).mark("load-gguf")

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
                change_setting(engine(), "review_threshold", float(threshold.value or 0.8), actor=signed_in_name())
                ui.notify("Saved; applies to tickets triaged from now on", type="positive")

            ui.button("Save", on_click=save_threshold).props("flat").mark("save-threshold")

        routing_settings_card()
        learning_card()
        webhook_source_card()
