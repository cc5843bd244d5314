"""Settings card for admins: the demo webhook source's secret and a signed curl request to try it."""

from __future__ import annotations

from nicegui import ui

from engine.accounts import Permission, can
from engine.ingest.demo_source import DEMO_SOURCE, curl_example, demo_source_secret
from engine.runtime import Engine
from ui.auth import current_user


def webhook_source_card(desk: Engine) -> None:
    """The demo source, for admins only (its secret lets anyone post messages)."""
    user = current_user()
    settings = desk.settings
    secret = demo_source_secret(settings)
    if user is None or not can(user, Permission.MANAGE_KEYS) or secret is None:
        return
    with ui.card().classes("cd-card w-full max-w-3xl gap-2").mark("webhook-source"):
        ui.label("Webhook: demo source").classes("cd-section-title")
        ui.label(
            f"Chat, SMS, social and voice platforms post to /api/v1/messages as a source with a shared secret "
            f"([webhook_secrets] in caredesk.toml). This demo desk has the source '{DEMO_SOURCE}'; the command below "
            "signs one message with its secret and sends it."
        ).classes("cd-muted text-sm")
        ui.label(f"Secret: {secret}").classes("text-sm font-mono break-all").mark("webhook-secret")
        example = curl_example(f"http://{settings.host}:{settings.port}", DEMO_SOURCE, secret)
        ui.code(example, language="bash").classes("w-full text-xs").mark("webhook-curl")
