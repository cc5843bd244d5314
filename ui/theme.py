"""The shell every page shares: header, navigation, model status, colours and the keyboard help."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from engine.accounts import Permission, can
from engine.runtime import Engine, State
from engine.supervisor import Supervisor
from ui.auth import current_user
from ui.state import engine

NAV = (
    ("Queue", "/", "inbox", Permission.WORK_TICKETS),
    ("Dashboard", "/dashboard", "insights", Permission.VIEW_DASHBOARD),
    ("Knowledge", "/knowledge", "menu_book", Permission.WORK_TICKETS),
    ("Inbox tools", "/inbox", "move_to_inbox", Permission.WORK_TICKETS),
    ("Settings", "/settings", "tune", Permission.EDIT_THRESHOLDS),
    ("Admin", "/admin", "admin_panel_settings", Permission.MANAGE_USERS),
)
STATE_COLOURS = {State.READY: "positive", State.LOADING: "warning", State.WAITING: "grey", State.ERROR: "negative"}


@contextmanager
def frame(title: str) -> Iterator[None]:
    """Header with navigation and live model status; the page's content goes inside."""
    user = current_user()
    ui.colors(primary="#1f4e79", secondary="#3d6e99", accent="#c2571a", positive="#2e7d32", negative="#c62828")
    ui.add_head_html('<link rel="stylesheet" href="/assets/caredesk.css">')
    ui.page_title(f"{title} · CareDesk")
    with ui.header().classes("items-center justify-between bg-white text-black border-b px-6 py-2"):
        with ui.row().classes("items-center gap-4 no-wrap"):
            with ui.link(target="/").classes("no-underline text-primary"):
                ui.label("CareDesk").classes("text-xl font-bold tracking-tight")
            for label, target, icon, permission in NAV:
                if user is not None and can(user, permission):
                    ui.button(label, icon=icon, on_click=lambda t=target: ui.navigate.to(t)).props("flat no-caps dense")
        with ui.row().classes("items-center gap-3 no-wrap"):
            model_status(engine())
            if user is not None:
                ui.label(f"{user.username} · {user.role}").classes("cd-muted text-sm").mark("signed-in-user")
                ui.button(icon="logout", on_click=lambda: ui.navigate.to("/logout")).props("flat round dense").tooltip(
                    "Sign out"
                )
    with ui.column().classes("w-full max-w-screen-2xl mx-auto p-4 gap-4"):
        yield


def degraded_chip(supervisor: Supervisor | None) -> None:
    """A "Degraded" chip while a background stage failed lately; supervisors see the last error on hover."""
    if supervisor is None or not supervisor.degraded:
        return
    with (
        ui.chip("Degraded", color="negative", text_color="white")
        .props("dense square")
        .classes("text-xs")
        .mark("degraded")
    ):
        last = supervisor.last_error()
        if can(current_user(), Permission.VIEW_DASHBOARD) and last is not None:
            ui.tooltip(f"{last[0]} failed: {last[1]}").mark("degraded-error")
        else:
            ui.tooltip("A background stage failed lately; a supervisor can see why")


def sla_badge(breached: int) -> None:
    """Supervisors: a red "SLA breached" chip while open tickets missed a due; it opens the queue by time left."""
    if not breached or not can(current_user(), Permission.VIEW_DASHBOARD):
        return
    with (
        ui.chip(f"{breached} SLA breached", icon="alarm", color="negative", text_color="white")
        .props("dense square clickable")
        .classes("text-xs")
        .on("click", lambda: ui.navigate.to("/?sort=sla"))
        .mark("sla-breached")
    ):
        ui.tooltip(f"{breached} open ticket(s) missed a first-response or resolution due; click to see them first")


def model_status(desk: Engine) -> None:
    """One chip per model; hover for detail. Refreshes while models load."""

    @ui.refreshable
    def chips() -> None:
        with ui.row().classes("items-center gap-1 no-wrap").mark("model-status"):
            for status in desk.status.values():
                colour = STATE_COLOURS[status.state]
                with ui.chip(status.label, color=colour, text_color="white").props("dense square").classes("text-xs"):
                    ui.tooltip(f"{status.state}: {status.detail}" if status.detail else str(status.state))
            degraded_chip(desk.supervisor)
            sla_badge(desk.sla_breached)

    def signature() -> tuple[tuple[str, str], ...]:
        supervisor = desk.supervisor
        degraded = supervisor is not None and supervisor.degraded
        last = ("degraded", str(supervisor.last_error())) if supervisor is not None and degraded else ("ok", "")
        breaches = ("sla", str(desk.sla_breached))
        return (*((s.state.value, s.detail) for s in desk.status.values()), last, breaches)

    shown = [signature()]

    def refresh_if_changed() -> None:
        if signature() != shown[0]:
            shown[0] = signature()
            chips.refresh()

    chips()
    ui.timer(1.0, refresh_if_changed)
