"""The ticket's intent as an agent should read it: the intent, the review flag with its reason, the confidence with
what it has meant in practice, and only the alternatives that carry real probability."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from engine.nlp.intent import UNKNOWN, close_alternatives
from ui.components.badges import confidence_bar


def intent_summary(
    *,
    intent: str | None,
    confidence: float | None,
    review_reason: str,
    flagged: bool,
    alternatives: list[dict[str, Any]],
    threshold: float,
    set_by: str | None = None,
) -> ui.label | None:
    """Render the intent block; returns the label the calibration line goes into (None when there is no confidence)."""
    with ui.row().classes("items-center gap-2 w-full"):
        ui.label(intent or "not triaged yet").classes("text-lg font-semibold").mark("intent")
        if flagged and intent:
            ui.badge("needs review", color="warning").props("text-color=black").mark("needs-review")
            ui.label(review_reason).classes("text-sm").mark("review-reason")
    if intent == UNKNOWN:
        ui.label("No known intent fits: a person decides what the customer wants.").classes("text-sm cd-muted")
        guesses = [str(a["label"]) for a in alternatives[:1]] + [
            label for label, _ in close_alternatives(alternatives[1:], chosen="")
        ]
        if guesses:
            names = ", ".join(f"“{g}”" for g in guesses)
            ui.label(f"Closest known intent, not trusted: {names}").classes("text-sm cd-muted").mark("closest-intent")
        return None
    if set_by is not None:
        ui.label(f"Set by {set_by}: a person's choice, not a model's confidence.").classes("text-sm cd-muted").mark(
            "intent-set-by"
        )
        return None
    confidence_bar(confidence, threshold)
    if confidence is None or intent is None:
        return None
    calibration = ui.label("").classes("text-xs cd-muted").mark("calibration")
    close = close_alternatives(alternatives, chosen=intent)
    text = ", ".join(f"{label} {p:.0%}" for label, p in close) if close else "no close alternative"
    ui.label(f"Also possible: {text}" if close else text.capitalize()).classes("text-sm cd-muted").mark("alternatives")
    return calibration
