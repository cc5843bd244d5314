"""The admin's channels card: the SMTP server replies go out through, callback URL and secret per webhook source."""

from __future__ import annotations

from typing import Any

from nicegui import run, ui

from engine.outbox import Channels, current_channels, save_channels, send_test_message
from engine.privacy.secret_store import masked
from engine.runtime import Engine
from ui.auth import signed_in_name


class ChannelsCard:
    """Edit, save and test the outbound channels."""

    def __init__(self, desk: Engine) -> None:
        self.desk = desk
        self.channels = current_channels(desk)
        self.smtp: dict[str, Any] = {}
        self.sources: list[tuple[ui.input, ui.input, ui.input]] = []

    def build(self) -> None:
        with ui.card().classes("cd-card w-full gap-2").mark("channels"):
            ui.label("Channels: where replies go out").classes("cd-section-title")
            ui.label(
                "E-mail replies go out through this SMTP server from the support address; chat, SMS, social and "
                "voice replies are POSTed, signed, to the source's callback URL. Saved in the data dir and audited."
            ).classes("cd-muted text-sm")
            smtp = self.channels.smtp
            with ui.row().classes("w-full gap-2"):
                for name, label, kind in (
                    ("host", "SMTP host", "text"),
                    ("port", "Port", "number"),
                    ("user", "User", "text"),
                    ("password", "Password", "password"),
                    ("from", "From address", "text"),
                    ("domain", "Message-ID domain", "text"),
                ):
                    value = smtp.get(name, "")
                    if kind == "password":  # never sent back to the browser: blank keeps the saved one
                        field = ui.input(label, placeholder=masked(str(value))).props("dense outlined type=password")
                    else:
                        field = ui.input(label, value=str(value) if value != "" else "").props("dense outlined")
                    self.smtp[name] = field.mark(f"smtp-{name}")
                self.smtp["starttls"] = ui.checkbox("STARTTLS", value=bool(smtp.get("starttls"))).mark("smtp-starttls")
                self.smtp["ssl"] = ui.checkbox("SSL", value=bool(smtp.get("ssl"))).mark("smtp-ssl")
            with ui.row().classes("items-center gap-2"):
                test_to = ui.input("Send a test e-mail to").props("dense outlined").mark("test-email-to")

                async def test_email() -> None:
                    result = await run.io_bound(send_test_message, self.desk.settings, to=test_to.value or "")
                    ui.notify(result, type="positive" if result.startswith("Test") else "warning")

                ui.button("Send test message", icon="send", on_click=test_email).props("flat").mark("test-email")
            ui.separator()
            ui.label("Webhook sources").classes("font-medium")
            self.rows = ui.column().classes("w-full gap-1")
            for source in self.channels.sources:
                self.add_row(source, self.channels.callbacks.get(source, ""), self.channels.secrets.get(source, ""))
            with ui.row().classes("gap-2"):
                ui.button("Add source", icon="add", on_click=lambda: self.add_row("", "", "")).props("flat")
                ui.button("Save channels", icon="save", on_click=self.save).props("unelevated").mark("save-channels")

    def add_row(self, source: str, url: str, secret: str) -> None:
        with self.rows, ui.row().classes("items-center gap-2 w-full no-wrap"):
            name = ui.input("Source", value=source).props("dense outlined").classes("w-40")
            link = ui.input("Callback URL", value=url).props("dense outlined").classes("grow")
            key = ui.input("Secret", placeholder=masked(secret)).props("dense outlined type=password").classes("w-48")
            key.tooltip("Blank keeps the saved secret")
            self.sources.append((name, link, key))

            async def test() -> None:
                result = await run.io_bound(send_test_message, self.desk.settings, source=name.value or "")
                ui.notify(result, type="positive" if result.startswith("Test") else "warning")

            ui.button("Test", icon="send", on_click=test).props("flat dense").mark(f"test-source-{source}")

    def save(self) -> None:
        smtp = {k: (f.value if not isinstance(f.value, str) else f.value.strip()) for k, f in self.smtp.items()}
        sources = [(n.value.strip(), u.value.strip(), s.value) for n, u, s in self.sources if (n.value or "").strip()]
        channels = Channels(
            smtp=smtp,
            callbacks={name: url for name, url, _ in sources},
            secrets={name: secret for name, _, secret in sources},
        )
        try:
            changed = save_channels(self.desk, channels, actor=signed_in_name())
        except ValueError as exc:
            ui.notify(str(exc), type="warning")
            return
        ui.notify(f"Saved: {', '.join(changed)}" if changed else "Nothing changed", type="positive")
