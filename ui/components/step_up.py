"""Step-up: a dialog that asks for the signed-in user's authenticator code before a sensitive change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import run, ui

from engine.accounts import AccountError, Accounts, Permission, StepUpError, User, can
from engine.privacy.erasure import CustomerNotFound
from ui.auth import current_user, login_url
from ui.pages.login import CODE_PROPS


def acting_user(permission: Permission) -> User | None:
    """The signed-in user at the moment of the action (sessions can end while a page is open)."""
    user = current_user()
    if not can(user, permission):
        ui.notify("Your session ended or your role changed: sign in again.", type="warning")
        ui.navigate.to(login_url("/admin"))
        return None
    return user


def step_up_dialog(
    accounts: Accounts,
    title: str,
    action: str,
    build: Callable[[], Callable[[User], Any]],
    done: Callable[[Any], None],
    *,
    permission: Permission = Permission.MANAGE_USERS,
    confirm_label: str = "Save",
) -> None:
    """A dialog: the fields `build` makes, then the admin's code; on confirm, step-up, then the returned change."""
    with ui.dialog() as dialog, ui.card().classes("w-[28rem] gap-2"):
        ui.label(title).classes("text-lg font-semibold")
        change = build()
        code = ui.input("Your authenticator code").props(CODE_PROPS).mark("step-up-code")
        error = ui.label().classes("text-sm text-negative").mark("dialog-error")

        async def confirm() -> None:
            admin = acting_user(permission)
            if admin is None:
                dialog.close()
                return
            try:
                await run.io_bound(accounts.require_step_up, admin, code.value or "", action=action)
                result = await run.io_bound(change, admin)
            except (StepUpError, AccountError, CustomerNotFound) as exc:
                error.text = str(exc)
                return
            dialog.close()
            done(result)

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button(confirm_label, on_click=confirm).mark("confirm")
    dialog.open()
