"""Small visual cues: confidence bar, sentiment chip, channel icon, status badge, SLA badge."""

from __future__ import annotations

from nicegui import ui

from engine.sla import Standing

CHANNEL_ICONS = {"email": "mail", "chat": "chat", "sms": "sms", "social": "alternate_email", "voice": "call"}
SENTIMENT_COLOURS = {"negative": "negative", "neutral": "grey-7", "positive": "positive", "unknown": "grey-5"}
STATUS_COLOURS = {"new": "primary", "open": "secondary", "escalated": "accent", "resolved": "positive"}
SLA_COLOURS = {"green": "positive", "amber": "warning", "red": "negative", "grey": "grey-6"}


def confidence_colour(confidence: float, threshold: float) -> str:
    """Green when the model is sure, amber near the review threshold, red below it."""
    if confidence >= 0.9:
        return "positive"
    return "warning" if confidence >= threshold else "negative"


def confidence_bar(confidence: float | None, threshold: float) -> None:
    """A labelled bar for the intent confidence, with a review flag below the threshold."""
    if confidence is None:
        ui.label("not triaged yet").classes("cd-muted")
        return
    with ui.row().classes("items-center gap-2 w-full no-wrap"):
        ui.linear_progress(
            value=confidence, show_value=False, size="10px", color=confidence_colour(confidence, threshold)
        ).classes("grow").props("rounded")
        ui.label(f"{confidence:.0%}").classes("text-sm font-medium w-10 text-right").mark("confidence")


def sentiment_chip(label: str | None, valence: float | None = None) -> None:
    """The sentiment label as a coloured chip, with the valence when known."""
    if not label:
        return
    text = label if valence is None else f"{label} {valence:+.2f}"
    ui.chip(text, color=SENTIMENT_COLOURS.get(label, "grey-6"), text_color="white").props("dense")


def status_badge(status: str) -> None:
    """The ticket status."""
    ui.badge(status, color=STATUS_COLOURS.get(status, "grey")).classes("text-sm px-2 py-1")


def sla_badge(standing: Standing | None) -> None:
    """Where the ticket stands against its SLA: time left in colour, "breached 2 h ago", "met" or "missed"."""
    if standing is None:
        return
    text_colour = "black" if standing.colour == "amber" else "white"
    with (
        ui.badge(f"SLA: {standing.text}", color=SLA_COLOURS[standing.colour], text_color=text_colour)
        .classes("text-sm px-2 py-1")
        .mark("sla")
    ):
        ui.tooltip(f"{standing.what.capitalize()} due {standing.due:%Y-%m-%d %H:%M} UTC")
