"""The "needs attention" card: tickets the background worker gave up on after 3 tries, with a retry button."""

from __future__ import annotations

from nicegui import ui

from engine.accounts import Permission, can
from engine.desk import retry_set_aside, set_aside_tickets
from engine.runtime import Engine
from ui.auth import current_user


def attention_card(desk: Engine) -> None:
    """Each set-aside ticket with the stage that failed and its tries (the error for supervisors); Retry clears it."""
    show_errors = can(current_user(), Permission.VIEW_DASHBOARD)

    @ui.refreshable
    def items() -> None:
        found = set_aside_tickets(desk)
        if not found:
            ui.label("Nothing: every ticket went through the background stages.").classes("cd-muted text-sm")
        for item in found:
            with ui.row().classes("w-full items-center gap-2 no-wrap").mark(f"attention-{item.ticket_id}"):
                ui.link(f"Ticket {item.ticket_id}", f"/ticket/{item.ticket_id}")
                ui.label(f"{item.stage} failed {item.failures} times, last {item.since:%d %b %H:%M}").classes(
                    "cd-muted text-sm grow"
                )
                if show_errors:
                    ui.label(item.last_error).classes("text-xs cd-text")

                def retry(ticket_id: int = item.ticket_id) -> None:
                    retry_set_aside(desk, ticket_id)
                    ui.notify(f"Ticket {ticket_id} will be tried again", type="positive")
                    items.refresh()

                ui.button("Retry", on_click=retry).props("flat dense").mark("attention-retry")

    with ui.card().classes("cd-card w-full gap-2").mark("needs-attention"):
        ui.label("Needs attention").classes("cd-section-title")
        ui.label(
            "Tickets a background stage (triage, routing, actions, drafting) failed on 3 times; the others went on."
        ).classes("cd-muted text-sm")
        items()
