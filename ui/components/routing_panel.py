"""The ticket's routing: route and reason trail, risk with each factor's contribution, and store actions.

Every action has a dry run (Preview) and an Execute button. Sensitive actions (refund, password reset, subscription,
address) ask a supervisor for their authenticator code first (step-up); agents see them disabled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nicegui import run, ui

from engine.accounts import Permission, User, can
from engine.resolution import failed_by_ai, handling_state
from engine.routing.actions.client import StoreError
from engine.routing.actions.runner import ActionFailed
from engine.routing.service import ActionOption, ApprovalRequired, Route, RoutingView
from engine.runtime import Engine
from ui.auth import current_user, signed_in_name
from ui.components.step_up import step_up_dialog

log = logging.getLogger(__name__)

ROUTE_LOOK = {
    Route.AUTO_RESOLVE: ("positive", "smart_toy"),
    Route.ASSIST: ("primary", "support_agent"),
    Route.ESCALATE: ("negative", "priority_high"),
}


def routing_panel(desk: Engine, view_ticket_id: int, *, resolved: bool = False) -> RoutingPanel:
    """Route, reason trail, risk factors and actions of one ticket (no actions once it is resolved)."""
    panel = RoutingPanel(desk, view_ticket_id, resolved)
    panel.build()
    return panel


class RoutingPanel:
    def __init__(self, desk: Engine, ticket_id: int, resolved: bool) -> None:
        self.ticket_id = ticket_id
        self.resolved = resolved
        self.service = desk.routing
        self.accounts = desk.accounts
        self.user: User | None = current_user()
        self.last_result = ""  # kept across refreshes: what the last Execute did

    @ui.refreshable_method
    def build(self) -> None:
        view = self.service.view(self.ticket_id)
        with ui.card().classes("cd-card w-full gap-2").mark("routing"):
            ui.label("Routing").classes("cd-section-title")
            if view is None or view.route is None:
                ui.label("Not routed yet: the route is decided right after triage.").classes("cd-muted").mark(
                    "route-none"
                )
            else:
                self.decision(view)
                self.risk(view)
            if not self.resolved:
                self.actions(view.actions if view is not None else [])

    def decision(self, view: RoutingView) -> None:
        colour, icon = ROUTE_LOOK.get(Route(view.route), ("grey", "help")) if view.route else ("grey", "help")
        if failed_by_ai(view.outcome):
            colour = "warning"
        with ui.row().classes("items-center gap-2"):
            ui.icon(icon, color=colour).classes("text-xl")
            ui.badge(handling_state(view.route, view.outcome), color=colour).classes("text-sm px-2 py-1").mark("route")
        ui.label(view.reason).classes("text-sm cd-text").mark("route-reason")
        if view.checks:
            with ui.expansion("Checks", icon="rule").classes("w-full").mark("route-checks"):
                for check in view.checks:
                    with ui.row().classes("items-start gap-1 no-wrap"):
                        ui.icon(
                            "check_circle" if check["passed"] else "cancel",
                            color="positive" if check["passed"] else "negative",
                        )
                        ui.label(check["text"]).classes("text-sm")
        if view.decided_by:
            ui.label(f"decided by {view.decided_by}").classes("cd-muted text-xs")

    def risk(self, view: RoutingView) -> None:
        if view.risk is None:
            return
        with ui.row().classes("items-center gap-2 w-full no-wrap"):
            ui.label("Risk").classes("font-medium")
            colour = (
                "negative"
                if view.risk >= self.service.policy.escalate_risk
                else ("warning" if view.risk > self.service.policy.max_auto_risk else "positive")
            )
            ui.linear_progress(value=view.risk, show_value=False, size="10px", color=colour).classes("grow").props(
                "rounded"
            )
            ui.label(f"{view.risk:.2f}").classes("text-sm w-10 text-right").mark("risk")
        with ui.column().classes("w-full gap-0").mark("risk-factors"):
            for factor in sorted(view.factors, key=lambda f: -f["contribution"]):
                muted = "" if factor["contribution"] > 0 else " cd-muted"
                with ui.row().classes("w-full items-center gap-2 no-wrap text-sm" + muted):
                    ui.label(factor["label"]).classes("w-40")
                    ui.label(factor["value"]).classes("grow").mark(f"risk-value-{factor['key']}")
                    ui.label(f"+{factor['contribution']:.2f}").classes("w-12 text-right")

    def actions(self, options: list[ActionOption]) -> None:
        if not options:
            return
        with (
            ui.expansion("Actions", icon="bolt", value=any(o.suggested for o in options))
            .classes("w-full")
            .mark("actions") as self.expansion
        ):
            names = {o.name: o.title + (" (suggested)" if o.suggested else "") for o in options}
            self.chosen = (
                ui.select(names, value=options[0].name, label="Action").classes("w-full").mark("action-choice")
            )
            fields = ui.column().classes("w-full gap-1")
            self.result = ui.label(self.last_result).classes("text-sm cd-text").mark("action-result")
            self.inputs: dict[str, Any] = {}

            def show_fields() -> None:
                fields.clear()
                self.inputs.clear()
                option = next(o for o in options if o.name == self.chosen.value)
                with fields:
                    for key, label in option.fields:
                        self.inputs[key] = (
                            ui.input(label, placeholder="from the customer's message")
                            .props("outlined dense")
                            .classes("w-full")
                            .mark(f"param-{key}")
                        )
                    if option.sensitive and not can(self.user, Permission.APPROVE_ACTIONS):
                        limit = self.service.policy.refund_approval_limit
                        ui.label(f"Needs a supervisor's authenticator code (refunds: above ${limit:,.2f}).").classes(
                            "cd-muted text-xs"
                        )

            self.chosen.on_value_change(show_fields)
            show_fields()
            with ui.row().classes("gap-2"):
                ui.button("Preview", icon="visibility", on_click=self.preview).props("outline").mark("action-preview")
                ui.button(
                    "Execute",
                    icon="play_arrow",
                    on_click=lambda: self.execute(self.chosen.value, options, self.params(), self.result.set_text),
                ).props("unelevated").mark("action-execute")

    def params(self) -> dict[str, str]:
        return {k: str(v.value or "") for k, v in self.inputs.items()}

    async def preview(self) -> None:
        """Dry run of the chosen action: what it would do and whether the policy allows it."""
        self.result.text = "Checking with the store…"
        try:
            plan = await run.io_bound(
                self.service.preview, self.ticket_id, self.chosen.value, self.params(), actor=signed_in_name()
            )
        except (StoreError, ActionFailed) as exc:
            self.result.text = f"Store not available: {exc}"
            return
        verdict = "✓ allowed" if plan.check.ok else "✗ not allowed"
        why = "; ".join(plan.check.reasons)
        self.result.text = f"Dry run: would {plan.summary}. {verdict}: {why} (rule: {plan.check.rule.article})"

    async def run_step(self, action: str) -> None:
        """A guidance step's button: open this action here and preview it; Execute then asks for approval as usual."""
        if not hasattr(self, "chosen"):  # resolved tickets have no actions
            ui.notify("Actions are closed on a resolved ticket.", type="warning")
            return
        self.expansion.value = True
        self.chosen.value = action
        await self.preview()

    async def execute(
        self, name: str, options: list[ActionOption], params: dict[str, str], show: Callable[[str], None]
    ) -> None:
        option = next(o for o in options if o.name == name)

        def run_action(user: User, approved: bool) -> str:
            try:
                done = self.service.execute(self.ticket_id, name, params, actor=user.username, approved=approved)
            except ApprovalRequired:
                raise
            except ActionFailed as exc:
                return str(exc)
            return f"Done: {done.customer_text}"

        def finish(text: Any) -> None:
            self.last_result = str(text)
            show(self.last_result)
            ui.notify(str(text), type="positive" if str(text).startswith("Done") else "warning")
            self.build.refresh()

        if self.user is None:
            ui.notify("Your session ended: sign in again.", type="warning")
            return
        try:
            finish(await run.io_bound(run_action, self.user, False))
            return
        except ApprovalRequired as exc:
            if not can(self.user, Permission.APPROVE_ACTIONS):
                ui.notify(f"{exc} Ask a supervisor to run it.", type="warning")
                return
        step_up_dialog(
            self.accounts,
            option.title,
            f"action:{name}",
            lambda: lambda user: run_action(user, True),
            finish,
            permission=Permission.APPROVE_ACTIONS,
            confirm_label="Execute",
        )
