"""The "needs attention" card: tickets the background worker gave up on after 3 tries, with a retry button."""

from __future__ import annotations

from nicegui import ui

from engine.accounts import Permission, can
from engine.health import needs_attention
from ui.auth import current_user
from ui.state import engine


def attention_card() -> None:
    """Each set-aside ticket with the stage that failed and its tries (the error for supervisors); Retry clears it."""
    show_errors = can(current_user(), Permission.VIEW_DASHBOARD)

    @ui.refreshable
    def items() -> None:
        found = needs_attention(engine().db)
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
                    supervisor = engine().supervisor
                    if supervisor is not None:
                        supervisor.retry(ticket_id)
                    engine().notify()
                    ui.notify(f"Ticket {ticket_id} will be tried again", type="positive")
                    items.refresh()

                ui.button("Retry", on_click=retry).props("flat dense").mark("attention-retry")

    with ui.card().classes("cd-card w-full gap-2").mark("needs-attention"):
        ui.label("Needs attention").classes("cd-section-title")
        ui.label(
            "Tickets a background stage (triage, routing, actions, drafting) failed on 3 times; the others went on."
        ).classes("cd-muted text-sm")
        items()
