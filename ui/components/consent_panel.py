"""The ticket's customer panel: who the customer is and their two opt-outs, which an agent sets (audited)."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import run, ui

from engine.desk import set_customer_consent
from engine.privacy.opt_outs import Consent
from engine.runtime import Engine


def consent_panel(
    desk: Engine, ticket_id: int, consent: Consent, agent: str, on_change: Callable[[Consent], None]
) -> None:
    """Two switches: AI handling, and earlier tickets used in drafts; each change is saved at once and audited."""
    with ui.card().classes("cd-card w-full gap-1").mark("customer-panel"):
        ui.label("Customer consent").classes("cd-section-title")
        ai = ui.switch("AI may handle this customer (drafts, answers)", value=consent.ai_handling).mark("consent-ai")
        history = ui.switch("Their earlier tickets may be used in drafts", value=consent.earlier_tickets).mark(
            "consent-history"
        )
        if consent.asked_for_person_at is not None:
            ui.label(
                f"Asked for a person on {consent.asked_for_person_at:%d %b %Y}: the AI never answers them alone."
            ).classes("cd-muted text-sm").mark("asked-for-person")
        ui.label("The customer's choice; every change is recorded in the audit log.").classes("cd-muted text-xs")

        async def save(ai_handling: bool | None, earlier_tickets: bool | None) -> None:
            try:
                now = await run.io_bound(
                    set_customer_consent,
                    desk,
                    ticket_id,
                    ai_handling=ai_handling,
                    earlier_tickets=earlier_tickets,
                    agent=agent,
                )
            except LookupError as exc:
                ui.notify(str(exc), type="warning")
                return
            if now is None:  # the app is shutting down
                return
            ui.notify(_saved_text(now), type="positive")
            on_change(now)

        ai.on_value_change(lambda e: save(bool(e.value), None))
        history.on_value_change(lambda e: save(None, bool(e.value)))


def _saved_text(consent: Consent) -> str:
    ai = "the AI may handle them" if consent.ai_handling else "opted out of AI handling: a person answers them"
    history = "earlier tickets may be used" if consent.earlier_tickets else "earlier tickets never used in drafts"
    return f"Saved: {ai}; {history}"
