"""A resolved ticket in place of the draft: how it ended, the reply that was sent, the survey, and Reopen.

Nothing here sends: to reply again an agent reopens the ticket first.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from engine.desk import age_text
from engine.resolution import Resolution


def resolved_panel(resolution: Resolution, *, on_reopen: Callable[[], None]) -> None:
    """The resolved ticket's outcome, last reply and survey, with a Reopen button."""
    with ui.card().classes("cd-card w-full gap-2").mark("resolved"):
        with ui.row().classes("items-center w-full gap-2"):
            ui.icon("task_alt", color="positive").classes("text-xl")
            ui.label("Resolved").classes("cd-section-title")
            if resolution.resolved_at is not None:
                ui.label(f"{age_text(resolution.resolved_at)} ago").classes("cd-muted text-xs")
            ui.space()
            ui.button("Reopen", icon="undo", on_click=on_reopen).props("outline dense").mark("reopen")
        ui.label(resolution.state).classes("font-medium").mark("resolution-state")
        if resolution.sent_by is not None and resolution.sent_at is not None:
            sent = f"Reply sent by {resolution.sent_by} on {resolution.sent_at:%d %b %H:%M}: the last message above."
        else:
            sent = "No reply was sent on this ticket."
        ui.label(sent).classes("text-sm").mark("resolution-reply")
        ui.label(resolution.survey).classes("text-sm").mark("resolution-survey")
        ui.label("To write to the customer again, reopen the ticket.").classes("cd-muted text-xs")
