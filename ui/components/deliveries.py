"""Delivery states on screen: a chip per reply on the ticket page, and the failed deliveries above the queue."""

from __future__ import annotations

from nicegui import run, ui

from engine.desk import reply_deliveries, resend_reply, undelivered_replies
from engine.outbox import Delivery
from engine.runtime import Engine
from ui.auth import signed_in_name

COLOURS = {"sent": "positive", "queued": "grey-7", "sending": "grey-7", "failed": "negative"}
ICONS = {"sent": "done_all", "queued": "schedule", "sending": "outbox", "failed": "error"}


class DeliveryChips:
    """The delivery state under each outbound message, updated until every reply is sent or failed."""

    def __init__(self, desk: Engine, ticket_id: int) -> None:
        self.desk = desk
        self.ticket_id = ticket_id
        self.chips: dict[int, ui.chip] = {}
        self.deliveries = reply_deliveries(desk, ticket_id)
        self.timer = ui.timer(1.0, self.update, active=self.pending())

    def chip(self, message_id: int) -> None:
        """The chip of one outbound message (nothing for a reply that never went through the outbox)."""
        delivery = self.deliveries.get(message_id)
        if delivery is None:
            return
        chip = ui.chip("", icon=ICONS[delivery.state]).props("dense outline").mark(f"delivery-{message_id}")
        self.chips[message_id] = chip
        self._show(chip, delivery)
        if delivery.state == "failed":
            ui.button("Retry delivery", icon="replay", on_click=lambda: self.retry(delivery)).props(
                "flat dense size=sm no-caps"
            ).mark(f"retry-{message_id}")

    def pending(self) -> bool:
        return any(d.state in ("queued", "sending") for d in self.deliveries.values())

    async def update(self) -> None:
        self.deliveries = await run.io_bound(reply_deliveries, self.desk, self.ticket_id)
        for message_id, chip in self.chips.items():
            delivery = self.deliveries.get(message_id)
            if delivery is not None:
                self._show(chip, delivery)
        if not self.pending():
            self.timer.deactivate()

    async def retry(self, delivery: Delivery) -> None:
        if await resend(self.desk, delivery):
            ui.navigate.to(f"/ticket/{self.ticket_id}")

    @staticmethod
    def _show(chip: ui.chip, delivery: Delivery) -> None:
        chip.text = delivery.label if delivery.state != "failed" else "Not delivered"
        chip.props(f"color={COLOURS[delivery.state]} icon={ICONS[delivery.state]}")
        chip.tooltip(delivery.label)


class FailedDeliveries:
    """Replies that did not reach their customer, each with its reason and a retry button (one per page)."""

    def __init__(self, desk: Engine) -> None:
        self.desk = desk

    @ui.refreshable_method
    def panel(self) -> None:
        failed = undelivered_replies(self.desk)
        if not failed:
            return
        with ui.card().classes("cd-card w-full gap-1 border-l-4 border-red-500").mark("failed-deliveries"):
            ui.label(f"{len(failed)} replies not delivered").classes("cd-section-title text-negative")
            for delivery in failed[:20]:
                with ui.row().classes("items-center gap-2 w-full no-wrap text-sm"):
                    ui.link(f"#{delivery.ticket_id}", f"/ticket/{delivery.ticket_id}").classes("font-medium")
                    ui.label(delivery.channel).classes("cd-muted")
                    ui.label(delivery.reason).classes("grow cd-text")
                    ui.button("Retry", icon="replay", on_click=lambda d=delivery: self.retry(d)).props(
                        "flat dense no-caps"
                    ).mark(f"retry-delivery-{delivery.id}")

    async def retry(self, delivery: Delivery) -> None:
        if await resend(self.desk, delivery):
            self.panel.refresh()


async def resend(desk: Engine, delivery: Delivery) -> bool:
    """Queue a failed reply again and say what was done; False (with the reason shown) when it cannot be."""
    try:
        text = await run.io_bound(resend_reply, desk, delivery.id, actor=signed_in_name())
    except ValueError as exc:
        ui.notify(str(exc), type="warning")
        return False
    ui.notify(text, type="info")
    return True
