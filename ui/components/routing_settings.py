"""Settings cards for routing and the learning loop: thresholds and auto-resolvable intents (audited), jobs, alerts."""

from __future__ import annotations

from nicegui import run, ui

from engine.accounts import Permission, can
from engine.feedback.drift import acknowledge, open_alerts
from engine.jobs import Jobs
from engine.routing.actions.registry import ACTIONS
from engine.routing.policy import ALL_INTENTS, PolicyError, RoutingPolicy
from engine.runtime import Engine
from ui.auth import current_user, signed_in_name

NUMBERS = (
    ("auto_threshold", "Auto-resolve at intent confidence of at least"),
    ("review_threshold", "Below this confidence a person always checks"),
    ("max_auto_risk", "Highest risk the AI may resolve alone"),
    ("escalate_risk", "Escalate from this risk"),
)


def routing_settings_card(desk: Engine) -> None:
    """Supervisors edit thresholds, auto-resolvable intents and which intents trigger which action."""
    service = desk.routing
    policy = service.policy
    editable = can(current_user(), Permission.EDIT_THRESHOLDS)
    services = desk.services
    intents = sorted(set(services.intent.labels if services and services.intent else []) | set(policy.intent_actions))
    with ui.card().classes("cd-card w-full max-w-3xl gap-2").mark("routing-settings"):
        ui.label("Routing").classes("cd-section-title")
        ui.label(
            "The AI resolves a ticket alone only when its intent is on the list, the confidence and risk pass these "
            "limits, the customer opted in and the intent's action passes the store policy. Every change is audited."
        ).classes("cd-muted text-sm")
        numbers = {
            key: ui.number(label, value=getattr(policy, key), min=0, max=1, step=0.01, format="%.2f")
            .props("outlined dense")
            .classes("w-96")
            .mark(f"policy-{key}")
            for key, label in NUMBERS
        }
        refund_limit = (
            ui.number(
                "Refunds above this amount ($) need a supervisor's code; the AI never does them alone",
                value=policy.refund_approval_limit,
                min=0,
                step=5,
                format="%.2f",
            )
            .props("outlined dense")
            .classes("w-96")
            .mark("policy-refund-limit")
        )
        frustration = ui.switch("Escalate when frustration is rising", value=policy.escalate_on_frustration).mark(
            "policy-frustration"
        )
        auto = (
            ui.select(
                [ALL_INTENTS, *intents],
                value=list(policy.auto_intents),
                multiple=True,
                label="Auto-resolvable intents (* = all)",
            )
            .props("use-chips outlined")
            .classes("w-full")
            .mark("policy-auto-intents")
        )
        by_action = {
            name: ui.select(
                intents,
                value=sorted(i for i, a in policy.intent_actions.items() if a == name),
                multiple=True,
                label=f"Intents that trigger: {action.title}",
            )
            .props("use-chips outlined dense")
            .classes("w-full")
            .mark(f"policy-action-{name}")
            for name, action in ACTIONS.items()
        }
        for element in [*numbers.values(), refund_limit, frustration, auto, *by_action.values()]:
            element.set_enabled(editable)

        def save() -> None:
            mapping = {intent: name for name, select in by_action.items() for intent in (select.value or [])}
            new = RoutingPolicy(
                auto_intents=tuple(auto.value or []),
                escalate_on_frustration=bool(frustration.value),
                intent_actions=mapping,
                refund_approval_limit=float(refund_limit.value if refund_limit.value is not None else 0.0),
                **{key: float(field.value if field.value is not None else 0.0) for key, field in numbers.items()},
            )
            try:
                service.update_policy(new, actor=signed_in_name())
            except PolicyError as exc:
                ui.notify(str(exc), type="warning")
                return
            ui.notify("Routing policy saved; it applies to tickets routed from now on", type="positive")
            changes.refresh()

        ui.button("Save routing policy", on_click=save).props("flat").mark("save-routing").set_enabled(editable)

        @ui.refreshable
        def changes() -> None:
            rows = service.policy_changes(limit=5)
            if rows:
                with ui.expansion("Recent changes", icon="history").classes("w-full").mark("policy-history"):
                    for row in rows:
                        fields = ", ".join(f"{k}: {v['from']} → {v['to']}" for k, v in row.details.items())
                        ui.label(f"{row.at:%d %b %H:%M} {row.actor}: {fields}").classes("text-sm cd-text")

        changes()


def learning_card(desk: Engine) -> None:
    """The learning-loop jobs with progress and last run, a retrain-now button, and open drift alerts."""

    def running() -> Jobs | None:
        return desk.jobs if desk.jobs is not None and desk.jobs.running else None

    with ui.card().classes("cd-card w-full max-w-3xl gap-2").mark("learning"):
        ui.label("Learning loop").classes("cd-section-title")

        @ui.refreshable
        def jobs() -> None:
            scheduler = running()
            states = scheduler.status() if scheduler is not None else []
            if not states:
                ui.label("Background jobs are not running.").classes("cd-muted")
            for state in states:
                with ui.row().classes("w-full items-center gap-2 no-wrap").mark(f"job-{state.key}"):
                    ui.icon(
                        "sync"
                        if state.running
                        else ("check_circle" if state.last_ok else "error" if state.last_ok is False else "schedule")
                    )
                    with ui.column().classes("gap-0 grow"):
                        ui.label(f"{state.title} · {state.schedule}").classes("font-medium")
                        last = (
                            f"last run {state.last_finished:%d %b %H:%M}: {state.last_result}"
                            if state.last_finished
                            else "not run yet"
                        )
                        ui.label(state.message if state.running else last).classes("cd-muted text-xs cd-text")
                        if state.running:
                            ui.linear_progress(value=state.progress, show_value=False, size="6px")
                    if state.next_run is not None:
                        ui.label(f"next {state.next_run:%d %b %H:%M}").classes("cd-muted text-xs")

        jobs()
        ui.timer(2.0, jobs.refresh)

        async def retrain_now() -> None:
            scheduler = running()
            if scheduler is None:
                ui.notify("Background jobs are not running", type="warning")
                return
            await run.io_bound(scheduler.run_now, "retrain_nightly")
            ui.notify("Retraining started; progress shows above", type="positive")

        ui.button("Retrain now", icon="model_training", on_click=retrain_now).props("flat").mark(
            "retrain-now"
        ).set_enabled(can(current_user(), Permission.EDIT_THRESHOLDS))

        @ui.refreshable
        def alerts() -> None:
            for alert in open_alerts(desk.settings.data_dir):
                with ui.row().classes("w-full items-center gap-2 bg-orange-1 rounded p-2 no-wrap").mark("alert"):
                    ui.icon("warning", color="warning")
                    ui.label(f"{alert.at}: {alert.message}").classes("text-sm grow cd-text")

                    def seen(alert_id: str = alert.id) -> None:
                        acknowledge(desk.settings.data_dir, alert_id, actor=signed_in_name())
                        alerts.refresh()

                    ui.button("Seen", on_click=seen).props("flat dense").mark("alert-seen")

        alerts()
