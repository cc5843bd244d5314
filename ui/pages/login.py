"""Sign-in at /login: password, TOTP when needed, and the first-start admin setup."""

from __future__ import annotations

from nicegui import app, run, ui

from engine.accounts import (
    DEMO_ACCOUNTS,
    AccountError,
    Accounts,
    AuthReason,
    AuthResult,
    User,
    begin_totp_enrolment,
)
from ui.auth import TOKEN_KEY, current_user, safe_target
from ui.state import engine

CODE_PROPS = "outlined inputmode=numeric autocomplete=one-time-code maxlength=8"


def login_page(redirect_to: str = "/") -> None:
    target = safe_target(redirect_to)
    if current_user() is not None:
        ui.navigate.to(target)
        return
    ui.page_title("Sign in · CareDesk")
    ui.add_head_html('<link rel="stylesheet" href="/assets/caredesk.css">')
    desk = engine()
    with ui.column().classes("w-full items-center pt-16"):
        ui.label("CareDesk").classes("text-3xl font-bold tracking-tight text-primary")
        with ui.card().classes("cd-card w-full max-w-md gap-3 p-6"):
            if desk.accounts.needs_admin_setup():
                AdminSetup(desk.accounts).build()
            else:
                LoginForm(desk.accounts, target, demo=desk.settings.demo).build()


def _signed_in(result: AuthResult | None, target: str) -> bool:
    """On a successful `result`, keep its session for this browser and go to `target`; else False."""
    if result is None or not result.ok or not result.token:
        return False
    app.storage.user[TOKEN_KEY] = result.token
    ui.navigate.to(target)
    return True


def _enrolment(username: str) -> str:
    """Show a fresh TOTP secret as a QR code and as text; returns the secret."""
    secret, qr = begin_totp_enrolment(username)
    ui.label("Scan this with an authenticator app (Aegis, Google Authenticator, 1Password, …):").classes("text-sm")
    ui.image(qr).classes("w-48 h-48 self-center").mark("totp-qr")
    ui.label(f"or type the key: {secret}").classes("cd-muted text-xs font-mono break-all").mark("totp-secret")
    return secret


class LoginForm:
    """User name and password; the code field appears when the account needs one."""

    def __init__(self, accounts: Accounts, target: str, *, demo: bool) -> None:
        self.accounts = accounts
        self.target = target
        self.demo = demo

    def build(self) -> None:
        ui.label("Sign in").classes("text-xl font-semibold")
        self.username = ui.input("User name").props("outlined autofocus autocomplete=username").classes("w-full")
        self.username.mark("username")
        self.password = ui.input("Password", password=True, password_toggle_button=True).props(
            "outlined autocomplete=current-password"
        )
        self.password.classes("w-full").mark("password")
        self.code = ui.input("Authenticator code").props(CODE_PROPS).classes("w-full").mark("totp-code")
        self.code.visible = False
        self.enrol = ui.column().classes("w-full gap-2")
        self.message = ui.label().classes("text-sm").mark("login-message")
        self.button = ui.button("Sign in", on_click=self.submit).classes("w-full").mark("sign-in")
        for field in (self.username, self.password, self.code):
            field.on("keydown.enter", self.submit)
        if self.demo:
            self.demo_hint()

    def demo_hint(self) -> None:
        accounts = ", ".join(f"{a.username} / {a.password}" for a in DEMO_ACCOUNTS)
        admin_secret = next(a.totp_secret for a in DEMO_ACCOUNTS if a.totp_secret)
        with ui.expansion("Demo accounts").classes("w-full text-sm cd-muted").mark("demo-accounts"):
            ui.label(accounts).classes("text-sm")
            ui.label(f"The demo admin's authenticator key: {admin_secret}").classes("text-xs font-mono break-all")

    def show(self, text: str, *, error: bool) -> None:
        self.message.text = text
        self.message.classes(replace="text-sm " + ("text-negative" if error else "text-positive"))

    async def submit(self) -> None:
        if not self.button.enabled:
            return
        self.button.disable()
        try:
            result: AuthResult | None = await run.io_bound(
                self.accounts.authenticate,
                self.username.value or "",
                self.password.value or "",
                self.code.value or None,
            )
        finally:
            self.button.enable()
        if result is None or _signed_in(result, self.target):  # None: the app is shutting down
            return
        self.show(result.message, error=result.reason != AuthReason.TOTP_REQUIRED)
        if result.reason in (AuthReason.TOTP_REQUIRED, AuthReason.TOTP_INVALID, AuthReason.TOTP_REPLAYED):
            self.code.visible = True
            self.code.value = ""
            self.code.run_method("focus")
        elif result.reason == AuthReason.TOTP_ENROLMENT_REQUIRED and result.user is not None:
            self.start_enrolment(result.user)

    def start_enrolment(self, user: User) -> None:
        self.enrol.clear()
        with self.enrol:
            secret = _enrolment(user.username)
            first_code = ui.input("Code shown by the app").props(CODE_PROPS).classes("w-full").mark("enrol-code")

            async def confirm() -> None:
                result = await run.io_bound(
                    self.accounts.authenticate,
                    self.username.value or "",
                    self.password.value or "",
                    first_code.value or "",
                    enrol_secret=secret,
                )
                if result is not None and not _signed_in(result, self.target):
                    self.show(result.message, error=True)

            ui.button("Confirm and sign in", on_click=confirm).props("outline").mark("confirm-enrolment")


class AdminSetup:
    """First start: create the admin account, with its second factor, before anything else."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def build(self) -> None:
        ui.label("Set up CareDesk").classes("text-xl font-semibold")
        ui.label("No accounts exist yet. Create the first admin; admins sign in with a password and a code.").classes(
            "cd-muted text-sm"
        )
        self.username = ui.input("Admin user name", value="admin").props("outlined").classes("w-full")
        self.username.mark("setup-username")
        self.password = ui.input("Password (10+ characters)", password=True, password_toggle_button=True).props(
            "outlined autocomplete=new-password"
        )
        self.password.classes("w-full").mark("setup-password")
        self.repeat = ui.input("Repeat the password", password=True).props("outlined autocomplete=new-password")
        self.repeat.classes("w-full").mark("setup-repeat")
        self.secret = _enrolment(self.username.value)
        self.code = ui.input("Code shown by the app").props(CODE_PROPS).classes("w-full").mark("setup-code")
        self.message = ui.label().classes("text-sm text-negative").mark("setup-message")
        ui.button("Create admin", on_click=self.submit).classes("w-full").mark("create-admin")

    async def submit(self) -> None:
        if self.password.value != self.repeat.value:
            self.message.text = "The two passwords differ."
            return
        try:
            result = await run.io_bound(
                lambda: self.accounts.create_first_admin(
                    username=self.username.value or "",
                    password=self.password.value or "",
                    totp_secret=self.secret,
                    totp_code=self.code.value or "",
                )
            )
        except AccountError as exc:
            self.message.text = str(exc)
            return
        if result is not None and not _signed_in(result, "/"):
            self.message.text = result.message
