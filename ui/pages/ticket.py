"""One ticket: the conversation, the triage, the AI draft streamed in with its sources, and the agent's actions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nicegui import events, run, ui

from engine.desk import (
    Direction,
    Message,
    NotReady,
    TicketView,
    age_text,
    approve_or_edit,
    change_intent,
    draft_now,
    intent_labels,
    reject,
    reopen,
    reveal_message,
    ticket_view,
    use_alternative,
)
from engine.feedback.capture import FeedbackError
from engine.kpi import calibration_at
from engine.privacy.opt_outs import Consent, consent_of
from engine.privacy.redaction import redact
from engine.privacy.redaction_context import customer_context
from engine.runtime import Engine, State
from engine.sla import standing
from ui.auth import signed_in_name
from ui.components.badges import CHANNEL_ICONS, sentiment_chip, sla_badge, status_badge
from ui.components.consent_panel import consent_panel
from ui.components.deliveries import DeliveryChips
from ui.components.draft_panel import (
    alternative_buttons,
    basis_line,
    draft_check,
    field_inputs,
    guidance_card,
    source_cards,
)
from ui.components.handle_timer import HandleTimer
from ui.components.intent_summary import intent_summary
from ui.components.resolved_panel import resolved_panel
from ui.components.routing_panel import routing_panel
from ui.state import engine
from ui.theme import frame

log = logging.getLogger(__name__)


@dataclass
class DraftStream:
    """Tokens written by the drafting thread, read by a UI timer."""

    tokens: list[str] = field(default_factory=list)
    running: bool = False
    error: str = ""

    def text(self) -> str:
        return "".join(self.tokens)


def ticket_page(ticket_id: int) -> None:
    desk = engine()
    view = ticket_view(desk, ticket_id)
    with frame(f"Ticket {ticket_id}"):
        if view is None:
            ui.label(f"Ticket {ticket_id} does not exist.").classes("text-lg")
            ui.button("Back to the queue", on_click=lambda: ui.navigate.to("/"))
            return
        TicketScreen(view, desk).build()


def reason_dialog(question: str, placeholder: str, button: str, marker: str, action: Callable[[str], str]) -> None:
    """Ask for a reason, then run `action` with it and notify its text (a FeedbackError as a warning)."""
    with ui.dialog() as dialog, ui.card().classes("w-96"):
        ui.label(question).classes("font-semibold")
        reason = ui.input("Reason", placeholder=placeholder).props("autofocus").classes("w-full")
        reason.mark(f"{marker}-reason")

        def confirm() -> None:
            try:
                done = action(reason.value or "")
            except FeedbackError as exc:
                ui.notify(str(exc), type="warning")
                return
            dialog.close()
            ui.notify(done, type="info")

        with ui.row():
            ui.button(button, on_click=confirm).props("color=negative").mark(f"confirm-{marker}")
            ui.button("Cancel", on_click=dialog.close).props("flat")
    dialog.open()


class TicketScreen:
    """The ticket page's state and layout."""

    def __init__(self, view: TicketView, desk: Engine) -> None:
        self.view = view
        self.desk = desk
        self.ticket_id = view.ticket.id or 0
        self.stream = DraftStream()
        self.threshold = self.desk.settings.review_threshold
        self.agent = signed_in_name()

    def build(self) -> None:
        self.timer = HandleTimer(self.desk, self.ticket_id, self.agent)
        self.header()
        with ui.row().classes("w-full gap-4 items-start no-wrap"):
            with ui.column().classes("gap-4").style("flex: 7; min-width: 0"):
                self.conversation()
                if self.view.resolution is not None:
                    resolved_panel(self.view.resolution, on_reopen=self.ask_reopen)
                else:
                    with ui.column().classes("w-full gap-2"):
                        self.draft_panel()
            with ui.column().classes("gap-4").style("flex: 5; min-width: 0"):
                self.triage_panel()
                consent = consent_of(self.view.customer)
                consent_panel(self.desk, self.ticket_id, consent, self.agent, self.consent_changed)
                self.routing = routing_panel(self.desk, self.ticket_id, resolved=self.view.resolution is not None)
                self.similar_panel()
        ui.keyboard(on_key=self.on_key, ignore=["input", "select", "button"])
        if self.view.draft is None and self.view.ticket.status != "resolved" and self.view.customer.ai_opt_in:
            self.start_timer = ui.timer(0.5, self.start_draft_when_ready)

    def consent_changed(self, consent: Consent) -> None:
        """The customer's opt-outs changed: the draft panel says whether the AI may draft for them."""
        customer = self.view.customer
        ai_changed = customer.ai_opt_in != consent.ai_handling
        customer.ai_opt_in, customer.ai_drafts_opt_out = consent.ai_handling, not consent.earlier_tickets
        if ai_changed and self.view.resolution is None:
            self.draft_panel.refresh()

    # ---- header and conversation -------------------------------------------------------------------------------
    def header(self) -> None:
        t, c = self.view.ticket, self.view.customer
        with ui.row().classes("items-center gap-3 w-full"):
            ui.button(icon="arrow_back", on_click=lambda: ui.navigate.to("/")).props("flat round").tooltip(
                "Back to the queue (Esc)"
            )
            ui.icon(CHANNEL_ICONS.get(t.channel, "help")).classes("text-2xl text-primary")
            ui.label(t.subject).classes("text-xl font-semibold cd-text").mark("subject")
            status_badge(t.status)
            sla_badge(standing(t, datetime.now(UTC)))
            if self.view.frustration_rising:
                ui.badge("frustration rising", color="negative").classes("text-sm px-2 py-1").mark("frustration")
            ui.space()
            with ui.column().classes("gap-0 items-end"):
                ui.label(c.name).classes("font-medium")
                ui.label(
                    " · ".join(x for x in (c.email, c.handle, f"#{t.id}", age_text(t.created_at) + " ago") if x)
                ).classes("cd-muted text-sm")

    def conversation(self) -> None:
        with ui.card().classes("cd-card w-full"):
            ui.label("Conversation").classes("cd-section-title")
            chips = DeliveryChips(self.desk, self.ticket_id)
            with ui.column().classes("w-full gap-2").mark("conversation"):
                for message in self.view.messages:
                    inbound = message.direction == Direction.INBOUND
                    with ui.column().classes("w-full gap-0 " + ("items-start" if inbound else "items-end")):
                        ui.label(f"{message.author} · {message.created_at:%d %b %H:%M}").classes("cd-muted text-xs")
                        self.message_text(message, "cd-bubble " + ("cd-bubble-in" if inbound else "cd-bubble-out"))
                        if not inbound:
                            chips.chip(message.id or 0)
                        for attachment in self.view.attachments.get(message.id or 0, []):
                            with ui.row().classes("items-center gap-1 text-sm"):
                                ui.icon("attach_file")
                                label = f"{attachment.filename} ({attachment.size // 1024 + 1} kB)"
                                ui.link(label, f"/attachments/{attachment.id}")
                                if attachment.error:
                                    ui.label(attachment.error).classes("cd-muted text-xs").mark("attachment-error")

    def message_text(self, message: Message, classes: str) -> None:
        """The message with its personal data hidden behind placeholders; "Show original" reveals it (audited)."""
        customer = self.view.customer
        redaction = redact(message.body, customer_context(customer.name, customer.email))
        bubble = ui.label(redaction.text).classes(classes).mark(f"message-{message.id}")
        if not redaction.found:
            return

        async def reveal() -> None:
            bubble.text = await run.io_bound(reveal_message, self.desk, message.id or 0, agent=self.agent)
            button.delete()

        kinds = ", ".join(sorted({span.kind.name.lower() for span in redaction.spans}))
        button = (
            ui.button("Show original", icon="visibility", on_click=reveal)
            .props("flat dense size=sm no-caps")
            .tooltip(f"Hidden: {kinds}. Revealing is recorded in the audit log.")
            .mark(f"reveal-{message.id}")
        )

    # ---- draft ----------------------------------------------------------------------------------------------------
    @ui.refreshable_method
    def draft_panel(self) -> None:
        draft = self.view.draft
        with ui.card().classes("cd-card w-full"):
            with ui.row().classes("items-center w-full"):
                ui.label("AI draft").classes("cd-section-title")
                ui.space()
                if draft is not None:
                    detail = f"{draft.model} · {draft.latency_ms / 1000:.1f} s · {len(draft.sources)} sources"
                    ui.label(detail).classes("cd-muted text-xs").mark("draft-meta")
            if not self.view.customer.ai_opt_in:
                ui.label("This customer opted out of AI handling: write the reply yourself.").classes("cd-muted").mark(
                    "ai-opted-out"
                )
            elif draft is None and not self.stream.running:
                self.status_line = ui.label(self.waiting_text()).classes("cd-muted").mark("draft-status")
            if draft is not None and draft.is_fallback:
                with ui.row().classes("items-center gap-2 bg-orange-1 rounded p-2 w-full"):
                    ui.icon("info", color="warning")
                    ui.label(f"Extractive draft: {draft.fallback_reason}").classes("text-sm").mark("fallback-note")
            if draft is not None:
                basis_line(draft, self.view.basis)
            initial = draft.text if draft is not None else self.stream.text()
            self.editor = (
                ui.textarea(value=initial, placeholder="The reply to send")
                .props("outlined autogrow")
                .classes("w-full")
                .mark("draft")
            )
            self.fields = field_inputs(list(draft.fields) if draft is not None else [], self.check_fields)
            if draft is not None:
                alternative_buttons(draft.alternatives, self.use_alternative)
                draft_check(draft, on_cite=self.show_source)
            with ui.row().classes("gap-2 items-center w-full"):
                self.send_button = (
                    ui.button("Approve & send", icon="send", on_click=self.send).props("unelevated").mark("approve")
                )
                self.check_fields()
                ui.button("Reject", icon="block", on_click=self.ask_reject).props("outline color=negative").mark(
                    "reject"
                )
                ui.button("Regenerate", icon="autorenew", on_click=self.regenerate).props("flat").mark("regenerate")
                ui.space()
                ui.html(
                    '<span class="cd-kbd">Ctrl</span>+<span class="cd-kbd">Enter</span> sends', sanitize=False
                ).classes("cd-muted text-xs")
        if draft is not None:
            guidance_card(draft.guidance, self.desk.routing.action_for_step, lambda a: self.routing.run_step(a))
        if draft is not None and draft.sources:
            source_cards(draft.sources)

    def check_fields(self) -> None:
        """Send stays disabled while a field of the draft is empty."""
        empty = [name for name, box in self.fields.items() if not (box.value or "").strip()]
        if empty:
            self.send_button.disable()
            self.send_button.tooltip(f"Fill in {', '.join(empty)} first")
        else:
            self.send_button.enable()

    async def use_alternative(self, option: dict[str, Any]) -> None:
        """Make another past reply the draft, with its own fields."""
        if self.view.draft is None or self.view.draft.id is None:
            return
        await run.io_bound(use_alternative, self.desk, self.view.draft.id, int(option["ticket_id"]))
        self.view = ticket_view(self.desk, self.ticket_id) or self.view
        self.draft_panel.refresh()

    def waiting_text(self) -> str:
        drafter = self.desk.status["drafter"]
        if drafter.state in (State.LOADING, State.WAITING) or not self.desk.ready:
            return "Models are loading; the draft will stream in here as soon as they are ready."
        return "Drafting…"

    async def start_draft_when_ready(self) -> None:
        if not self.desk.ready or self.stream.running:
            if hasattr(self, "status_line"):
                self.status_line.text = self.waiting_text()
            return
        self.start_timer.deactivate()
        await self.run_draft()

    async def run_draft(self) -> None:
        self.stream = DraftStream(running=True)
        self.view.draft = None
        self.draft_panel.refresh()
        ticker = ui.timer(0.1, self.show_tokens)
        try:
            await run.io_bound(draft_now, self.desk, self.ticket_id, self.stream.tokens.append)
        except NotReady as exc:
            ui.notify(str(exc), type="warning")
        except Exception as exc:
            log.warning("drafting ticket %s failed: %s", self.ticket_id, exc)
            ui.notify(f"Drafting failed: {exc}", type="negative")
        finally:
            self.stream.running = False
            ticker.cancel()
        self.view = ticket_view(self.desk, self.ticket_id) or self.view
        self.draft_panel.refresh()

    def show_tokens(self) -> None:
        text = self.stream.text()
        if self.editor.value != text:
            self.editor.value = text

    async def regenerate(self) -> None:
        if self.stream.running:
            return
        await self.run_draft()

    def show_source(self, number: int) -> None:
        draft = self.view.draft
        source = next((s for s in (draft.sources if draft else []) if s.get("n") == number), None)
        if source is None:
            ui.notify(f"[{number}] is not one of this draft's sources", type="warning")
            return
        with ui.dialog() as dialog, ui.card().classes("w-[720px] max-w-full"):
            ui.label(f"[{number}] {source.get('title', '')}").classes("text-lg font-semibold").mark("source-title")
            if source.get("heading"):
                ui.label(source["heading"]).classes("cd-muted")
            ui.label(source.get("text", "")).classes("cd-source").mark("source-text")
            ui.button("Close", on_click=dialog.close).props("flat")
        dialog.open()

    # ---- actions ----------------------------------------------------------------------------------------------------
    async def send(self) -> None:
        if self.stream.running:
            ui.notify("Wait for the draft to finish, or edit it after", type="warning")
            return
        self.send_button.disable()
        await self.timer.flush()  # the time worked so far counts before the reply resolves the ticket
        draft_id = self.view.draft.id if self.view.draft else None
        try:
            values = {name: box.value or "" for name, box in self.fields.items()}
            feedback = await run.io_bound(
                approve_or_edit,
                self.desk,
                self.ticket_id,
                draft_id,
                self.editor.value or "",
                agent=self.agent,
                fields=values,
            )
        except FeedbackError as exc:
            ui.notify(str(exc), type="warning")
            self.send_button.enable()
            return
        verb = (
            "Approved; sending to the customer"
            if feedback.kind == "approve"
            else f"Edited ({feedback.edit_distance} characters); sending to the customer"
        )
        ui.notify(verb, type="positive")
        ui.navigate.to(f"/ticket/{self.ticket_id}")

    def ask_reject(self) -> None:
        def do(reason: str) -> str:
            draft_id = self.view.draft.id if self.view.draft else None
            reject(self.desk, self.ticket_id, draft_id, reason, agent=self.agent)
            return "Draft rejected; write the reply yourself or regenerate"

        reason_dialog("Why is this draft wrong?", "e.g. cites the wrong policy", "Reject draft", "reject", do)

    def ask_reopen(self) -> None:
        def do(reason: str) -> str:
            reopen(self.desk, self.ticket_id, reason, agent=self.agent)
            ui.navigate.to(f"/ticket/{self.ticket_id}")
            return "Ticket reopened: it is back in the queue"

        reason_dialog("Why does this ticket need more work?", "e.g. the refund did not arrive", "Reopen", "reopen", do)

    async def on_key(self, e: events.KeyEventArguments) -> None:
        if not e.action.keydown:
            return
        if e.key.escape:
            ui.navigate.to("/")
        elif e.key.enter and (e.modifiers.ctrl or e.modifiers.meta) and self.view.resolution is None:
            await self.send()

    # ---- side panels ------------------------------------------------------------------------------------------------
    def triage_panel(self) -> None:
        t = self.view.ticket
        with ui.card().classes("cd-card w-full gap-2").mark("triage"):
            ui.label("Triage").classes("cd-section-title")
            latest = self.view.triage[-1] if self.view.triage else None
            calibration = intent_summary(
                intent=t.intent,
                confidence=t.intent_confidence,
                review_reason=t.review_reason,
                flagged=t.needs_review and t.status != "resolved",
                alternatives=latest.alternatives if latest is not None else [],
                threshold=self.threshold,
                set_by=next((f.agent for f in reversed(self.view.feedback) if f.kind == "override_intent"), None),
            )
            if calibration is not None and t.intent_confidence is not None:
                ui.timer(0.05, lambda: self.show_calibration(calibration, t.intent_confidence or 0.0), once=True)
            with ui.row().classes("items-center gap-2 w-full no-wrap"):
                picker = (
                    ui.select(intent_labels(self.desk), label="Change intent", with_input=True)
                    .props("dense outlined")
                    .classes("grow")
                    .mark("intent-picker")
                )
                ui.button("Save", on_click=lambda: self.override(picker.value)).props("flat").mark("override")
            ui.separator()
            ui.label("Sentiment").classes("cd-section-title")
            if latest is None:
                ui.label("not scored yet").classes("cd-muted")
                return
            with ui.row().classes("items-center gap-2"):
                sentiment_chip(latest.sentiment_label, latest.valence)
            for name, value in (("Arousal", latest.arousal), ("Urgency", latest.urgency)):
                with ui.row().classes("items-center gap-2 w-full no-wrap"):
                    ui.label(name).classes("w-20 text-sm")
                    colour = "negative" if value >= 0.6 else "warning" if value >= 0.3 else "positive"
                    ui.linear_progress(value=value, show_value=False, size="8px", color=colour).classes("grow").props(
                        "rounded"
                    )
                    ui.label(f"{value:.2f}").classes("text-sm w-10 text-right")
            if len(self.view.triage) > 1:
                trend = " → ".join(f"{r.valence:+.2f}" for r in self.view.triage)
                ui.label(f"Valence over the conversation: {trend}").classes("text-sm cd-muted").mark("trend")

    async def show_calibration(self, target: ui.label, confidence: float) -> None:
        """What this confidence has meant on past checked tickets, from the live reliability data."""
        bins = await run.io_bound(self.desk.kpi.reliability)
        found = calibration_at(bins or [], confidence)  # no bins: the app is stopping
        target.text = found.text() if found is not None else ""

    def override(self, intent: str | None) -> None:
        try:
            change_intent(self.desk, self.ticket_id, intent or "", agent=self.agent)
        except FeedbackError as exc:
            ui.notify(str(exc), type="warning")
            return
        ui.notify(f"Intent changed to {intent}; stored as a correction", type="positive")
        ui.navigate.to(f"/ticket/{self.ticket_id}")

    def similar_panel(self) -> None:
        with ui.card().classes("cd-card w-full gap-2").mark("similar"):
            ui.label("Similar resolved tickets").classes("cd-section-title")
            if not self.view.similar:
                ui.label("None yet.").classes("cd-muted text-sm")
            for item in self.view.similar:
                with ui.expansion(
                    f"#{item['id']} {item['subject']}", caption=f"similarity {item['score']:.2f}"
                ).classes("w-full"):
                    ui.label(item["reply"] or "(no reply stored)").classes("cd-text text-sm")
