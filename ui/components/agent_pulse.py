"""The monthly question to agents, as a banner after sign-in: 0-10, dismissable, asked again next month."""

from __future__ import annotations

from nicegui import run, ui

from engine.accounts import Permission, User, can
from engine.agent_pulse import QUESTION, SCALE, PulseError, answer_pulse, dismiss_pulse, pulse_due
from engine.runtime import Engine


def agent_pulse_banner(desk: Engine, user: User | None) -> None:
    """Ask a signed-in agent the monthly question unless they answered or dismissed it this month."""
    if user is None or not can(user, Permission.WORK_TICKETS):
        return
    agent = user.username
    slot = ui.element("div").classes("w-full")

    async def settle(score: int | None) -> None:
        try:
            if score is None:
                await run.io_bound(dismiss_pulse, desk, agent)
            else:
                await run.io_bound(answer_pulse, desk, agent, score)
        except PulseError as exc:
            ui.notify(str(exc), type="warning")
        else:
            ui.notify("Thank you" if score is not None else "We will ask again next month")
        slot.clear()

    async def ask() -> None:
        if not await run.io_bound(pulse_due, desk, agent):
            return
        low, high = SCALE
        with slot, ui.card().classes("cd-card w-full gap-2").mark("agent-pulse"):
            with ui.row().classes("w-full items-center no-wrap"):
                ui.label(f"{QUESTION} {low} = not at all, {high} = extremely likely").classes("font-medium cd-text")
                ui.space()
                ui.button("Not now", on_click=lambda: settle(None)).props("flat dense no-caps").mark("pulse-dismiss")
            with ui.row().classes("gap-1"):
                for score in range(low, high + 1):
                    ui.button(str(score), on_click=lambda s=score: settle(s)).props("outline dense").mark(
                        f"pulse-{score}"
                    )

    ui.timer(0.05, ask, once=True)
