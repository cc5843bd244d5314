"""Admin: users and their roles and second factors, a customer's data export and erasure, the audit log.

Every change here asks for the admin's current authenticator code (step-up) and is audited by the engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nicegui import run, ui

from engine.accounts import (
    AccountError,
    Permission,
    Role,
    User,
    begin_totp_enrolment,
    check_password,
    normalise_username,
)
from engine.admin import audit_log, verify_audit_chain
from engine.privacy.erasure import CustomerMatch, erase_customer, export_customer, find_customers
from engine.runtime import Engine
from ui.components.channels_card import ChannelsCard
from ui.components.step_up import acting_user, step_up_dialog
from ui.guard import require
from ui.pages.login import CODE_PROPS
from ui.state import engine
from ui.theme import frame

AUDIT_ROWS = 200
ROLES = {role.value: role.value for role in Role}
AUDIT_COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "label": "#", "field": "id", "align": "left"},
    {"name": "at", "label": "When (UTC)", "field": "at", "align": "left"},
    {"name": "actor", "label": "Who", "field": "actor", "align": "left"},
    {"name": "action", "label": "Action", "field": "action", "align": "left"},
    {"name": "subject", "label": "Subject", "field": "subject", "align": "left"},
    {"name": "details", "label": "Details", "field": "details", "align": "left", "classes": "cd-text"},
]


def admin_page() -> None:
    if require(Permission.MANAGE_USERS) is None:
        return
    desk = engine()
    audit_panel = AuditPanel(desk)
    with frame("Admin"):
        UsersPanel(desk, audit_panel.refresh).build()
        CustomerPanel(desk, audit_panel.refresh).build()
        ChannelsCard(desk).build()
        audit_panel.build()


class UsersPanel:
    """The user list with add, password, role, second-factor and (de)activation actions."""

    def __init__(self, desk: Engine, changed: Callable[[], None]) -> None:
        self.desk = desk
        self.changed = changed

    def build(self) -> None:
        with ui.card().classes("cd-card w-full gap-2"):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label("Users").classes("cd-section-title")
                ui.button("Add user", icon="person_add", on_click=self.add_user).props("flat").mark("add-user")
            self.rows()

    @ui.refreshable_method
    def rows(self) -> None:
        for user in self.desk.accounts.list_users():
            with ui.row().classes("w-full items-center gap-3 border-b py-1").mark(f"user-{user.username}"):
                ui.label(user.username).classes("font-medium w-40")
                ui.badge(user.role, color="primary" if user.role == Role.ADMIN else "secondary")
                ui.label("2FA on" if user.totp_secret else "no 2FA").classes("text-sm w-20 cd-muted")
                ui.label("active" if user.active else "deactivated").classes(
                    "text-sm w-24 " + ("text-positive" if user.active else "text-negative")
                )
                last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
                ui.label(f"last sign-in {last}").classes("text-sm cd-muted grow")
                ui.button("Password", on_click=lambda u=user: self.reset_password(u)).props("flat dense no-caps")
                ui.button("Role", on_click=lambda u=user: self.change_role(u)).props("flat dense no-caps")
                ui.button("2FA", on_click=lambda u=user: self.enrol(u)).props("flat dense no-caps").mark("enrol")
                toggle = "Reactivate" if not user.active else "Deactivate"
                ui.button(toggle, on_click=lambda u=user: self.toggle(u)).props("flat dense no-caps").mark("toggle")

    def _done(self, message: str) -> Callable[[Any], None]:
        def finish(_: Any) -> None:
            ui.notify(message, type="positive")
            self.rows.refresh()
            self.changed()

        return finish

    def add_user(self) -> None:
        def build() -> Callable[[User], Any]:
            name = ui.input("User name").props("outlined").mark("new-username")
            role = ui.select(ROLES, value=Role.AGENT.value, label="Role").props("outlined").mark("new-role")
            password = ui.input("First password (10+ characters)", password=True, password_toggle_button=True)
            password.props("outlined").mark("new-password")

            def change(admin: User) -> User:
                return self.desk.accounts.create_user(
                    username=name.value or "",
                    password=password.value or "",
                    role=role.value,
                    actor=admin.username,
                )

            name.validation = {"2-64 letters, digits, . _ - @": _valid(normalise_username)}
            password.validation = {"at least 10 characters": _valid(check_password)}
            return change

        step_up_dialog(self.desk.accounts, "Add a user", "user_create", build, self._done("User added"))

    def reset_password(self, user: User) -> None:
        def build() -> Callable[[User], Any]:
            password = ui.input("New password (10+ characters)", password=True, password_toggle_button=True)
            password.props("outlined").mark("reset-password")
            ui.label("Their open sessions end and any lockout is lifted.").classes("text-sm cd-muted")
            return lambda admin: self.desk.accounts.set_password(_id(user), password.value or "", actor=admin.username)

        step_up_dialog(
            self.desk.accounts,
            f"New password for {user.username}",
            "password_reset",
            build,
            self._done("Password changed"),
        )

    def change_role(self, user: User) -> None:
        def build() -> Callable[[User], Any]:
            role = ui.select(ROLES, value=user.role, label="Role").props("outlined").mark("role-select")
            return lambda admin: self.desk.accounts.set_role(_id(user), role.value, actor=admin.username)

        step_up_dialog(self.desk.accounts, f"Role of {user.username}", "role_change", build, self._done("Role changed"))

    def toggle(self, user: User) -> None:
        def build() -> Callable[[User], Any]:
            verb = "Reactivate" if not user.active else "Deactivate (their sessions end)"
            ui.label(f"{verb}: {user.username}").classes("text-sm")
            return lambda admin: self.desk.accounts.set_active(_id(user), not user.active, actor=admin.username)

        step_up_dialog(
            self.desk.accounts, f"{user.username}", "user_active", build, self._done("Saved"), confirm_label="Confirm"
        )

    def enrol(self, user: User) -> None:
        def build() -> Callable[[User], Any]:
            secret, qr = begin_totp_enrolment(user.username)
            ui.label(f"{user.username} scans this with their authenticator app:").classes("text-sm")
            ui.image(qr).classes("w-48 h-48 self-center").mark("totp-qr")
            ui.label(f"or types the key: {secret}").classes("cd-muted text-xs font-mono break-all")
            their_code = ui.input(f"Code shown on {user.username}'s app").props(CODE_PROPS).mark("their-code")

            def change(admin: User) -> None:
                if not self.desk.accounts.confirm_totp(_id(user), secret, their_code.value or "", actor=admin.username):
                    raise AccountError(f"The code from {user.username}'s app does not match; try the current one.")

            return change

        step_up_dialog(
            self.desk.accounts,
            f"Second factor for {user.username}",
            "totp_enrol",
            build,
            self._done("Second factor set up"),
        )


def _id(user: User) -> int:
    assert user.id is not None
    return user.id


def _valid(check: Callable[[str], object]) -> Callable[[str], bool]:
    def valid(value: str) -> bool:
        try:
            check(value or "")
        except AccountError:
            return False
        return True

    return valid


class CustomerPanel:
    """Find a customer; export everything held about them, or erase it."""

    def __init__(self, desk: Engine, changed: Callable[[], None]) -> None:
        self.desk = desk
        self.changed = changed

    def build(self) -> None:
        with ui.card().classes("cd-card w-full gap-2") as self.card:
            ui.label("Customer data (access and erasure requests)").classes("cd-section-title")
            with ui.row().classes("items-center gap-2"):
                self.query = ui.input("Customer id, e-mail, handle or name").props("outlined dense clearable")
                self.query.classes("w-96").mark("customer-query")
                self.query.on("keydown.enter", lambda: self.results.refresh())
                ui.button("Find", icon="search", on_click=lambda: self.results.refresh()).props("flat").mark(
                    "find-customer"
                )
            self.results()

    @ui.refreshable_method
    def results(self) -> None:
        query = self.query.value or ""
        matches = find_customers(self.desk, query) if query.strip() else []
        if query.strip() and not matches:
            ui.label("No customer matches.").classes("text-sm cd-muted").mark("no-customer")
        for match in matches:
            with ui.row().classes("w-full items-center gap-3 border-b py-1").mark(f"customer-{match.id}"):
                ui.label(f"#{match.id}").classes("w-12 cd-muted")
                ui.label(match.name).classes("font-medium w-48")
                ui.label(match.email or match.handle or "").classes("text-sm grow")
                ui.label(f"{match.tickets} tickets").classes("text-sm cd-muted w-20")
                ui.button("Export", icon="download", on_click=lambda m=match: self.export(m)).props("flat dense")
                ui.button("Erase", icon="delete_forever", on_click=lambda m=match: self.erase(m)).props(
                    "flat dense color=negative"
                ).mark("erase")

    async def export(self, match: CustomerMatch) -> None:
        admin = acting_user(Permission.MANAGE_RETENTION)
        if admin is None:
            return
        data = await run.io_bound(export_customer, self.desk, match.id, actor=admin.username)
        if data is None:  # the app is shutting down
            return
        payload = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
        ui.download.content(payload, f"customer-{match.id}.json", "application/json")
        self.changed()

    def erase(self, match: CustomerMatch) -> None:
        def build() -> Callable[[User], Any]:
            ui.label(
                f"This permanently deletes {match.name} (#{match.id}), their {match.tickets} tickets with every "
                "message, draft, feedback, survey, attachment and vector. The audit log keeps a tombstone."
            ).classes("text-sm")
            return lambda admin: erase_customer(self.desk, match.id, actor=admin.username)

        def done(report: Any) -> None:
            with self.card, ui.dialog() as dialog, ui.card().classes("w-[32rem]"):
                ui.label("Erased").classes("text-lg font-semibold")
                ui.label(report.summary()).classes("cd-text text-sm").mark("erase-report")
                ui.button("Close", on_click=dialog.close)
            dialog.open()
            self.results.refresh()
            self.changed()

        step_up_dialog(
            self.desk.accounts,
            f"Erase customer #{match.id}?",
            f"erase_customer:{match.id}",
            build,
            done,
            permission=Permission.MANAGE_RETENTION,
            confirm_label="Erase",
        )


class AuditPanel:
    """The newest audit rows and a button that verifies the whole hash chain."""

    def __init__(self, desk: Engine) -> None:
        self.desk = desk

    def build(self) -> None:
        with ui.card().classes("cd-card w-full gap-2"):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(f"Audit log (newest {AUDIT_ROWS})").classes("cd-section-title")
                with ui.row().classes("items-center gap-2"):
                    self.verdict = ui.label().classes("text-sm").mark("verify-result")
                    ui.button("Verify chain", icon="verified", on_click=self.verify).props("flat").mark("verify")
                    ui.button(icon="refresh", on_click=self.refresh).props("flat").mark("refresh-audit")
            self.table = ui.table(columns=AUDIT_COLUMNS, rows=self.rows(), row_key="id").props("dense flat")
            self.table.classes("w-full").mark("audit-table")

    def refresh(self) -> None:
        """Show the newest rows again."""
        self.table.update_rows(self.rows())

    def rows(self) -> list[dict[str, Any]]:
        entries = audit_log(self.desk, AUDIT_ROWS)
        return [
            {
                "id": e.id,
                "at": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                "actor": e.actor,
                "action": e.action,
                "subject": e.subject,
                "details": json.dumps(e.details, ensure_ascii=False) if e.details else "",
            }
            for e in entries
        ]

    async def verify(self) -> None:
        result = await run.io_bound(verify_audit_chain, self.desk)
        if result is None:  # the app is shutting down
            return
        if result.ok:
            self.verdict.text = f"Chain intact: {result.checked} rows"
            self.verdict.classes(replace="text-sm text-positive")
        else:
            self.verdict.text = f"BROKEN at row {result.first_broken_id}: {result.reason}"
            self.verdict.classes(replace="text-sm text-negative")
