"""The shell every page shares: header, navigation, model status, colours and the keyboard help."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from engine.app import State
from ui.state import engine

NAV = (
    ("Queue", "/", "inbox"),
    ("Dashboard", "/dashboard", "insights"),
    ("Knowledge", "/knowledge", "menu_book"),
    ("Inbox tools", "/inbox", "move_to_inbox"),
    ("Settings", "/settings", "tune"),
)
STATE_COLOURS = {State.READY: "positive", State.LOADING: "warning", State.WAITING: "grey", State.ERROR: "negative"}


@contextmanager
def frame(title: str) -> Iterator[None]:
    """Header with navigation and live model status; the page's content goes inside."""
    ui.colors(primary="#1f4e79", secondary="#3d6e99", accent="#c2571a", positive="#2e7d32", negative="#c62828")
    ui.add_head_html('<link rel="stylesheet" href="/assets/caredesk.css">')
    ui.page_title(f"{title} · CareDesk")
    with ui.header().classes("items-center justify-between bg-white text-black border-b px-6 py-2"):
        with ui.row().classes("items-center gap-6"):
            with ui.link(target="/").classes("no-underline text-primary"):
                ui.label("CareDesk").classes("text-xl font-bold tracking-tight")
            for label, target, icon in NAV:
                ui.button(label, icon=icon, on_click=lambda t=target: ui.navigate.to(t)).props("flat no-caps")
        model_status()
    with ui.column().classes("w-full max-w-screen-2xl mx-auto p-4 gap-4"):
        yield


def model_status() -> None:
    """One chip per model; hover for detail. Refreshes while models load."""

    @ui.refreshable
    def chips() -> None:
        with ui.row().classes("items-center gap-1").mark("model-status"):
            for status in engine().status.values():
                colour = STATE_COLOURS[status.state]
                with ui.chip(status.label, color=colour, text_color="white").props("dense square"):
                    ui.tooltip(f"{status.state}: {status.detail}" if status.detail else str(status.state))

    def signature() -> tuple[tuple[str, str], ...]:
        return tuple((s.state.value, s.detail) for s in engine().status.values())

    shown = [signature()]

    def refresh_if_changed() -> None:
        if signature() != shown[0]:
            shown[0] = signature()
            chips.refresh()

    chips()
    ui.timer(1.0, refresh_if_changed)
