"""Run actions for tickets: dry-run previews and executions, each recorded as an ActionRun and audited by reference.

What an action was about (its summary, the store's answer, every HTTP call) is stored encrypted in the ActionRun row
of the ticket; the audit row names only the action, the run id and the idempotency key, so the tamper-evident log,
which is never deleted, holds no address, name or message text.

An execution's idempotency key depends on the ticket, the action and the values an agent typed, never on the
store's current state, so a double click or a retry after a timeout asks the store for the same change twice and
the store applies it once. A failure raises `ActionFailed` with a note for the agent; nothing is half-done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import asdict
from typing import Any

from sqlmodel import Session, col, select

from engine.privacy import audit
from engine.routing.actions.base import ActionContext, ActionResult, Plan
from engine.routing.actions.client import Call, StoreClient, StoreError, StoreUnavailable
from engine.routing.actions.registry import action_named
from engine.store.action_models import ActionRun, RunStatus
from engine.store.audit_models import AuditEntry
from engine.store.models import utcnow

log = logging.getLogger(__name__)

EXECUTED = "action_executed"


class ActionFailed(RuntimeError):
    """The action was not done (refused by policy, or the store failed); the message is the agent's note."""


def idempotency_key(context: ActionContext, action: str) -> str:
    """The same key for the same ticket, action and typed values: the store applies that request once."""
    typed = json.dumps(context.params, sort_keys=True)
    return f"caredesk-{context.ticket_id}-{action}-{hashlib.sha256(typed.encode()).hexdigest()[:12]}"


class ActionRunner:
    """Plans and executes actions through one store client, auditing in the caller's session."""

    def __init__(self, client: StoreClient) -> None:
        self.client = client
        self._calls = threading.local()
        client.on_call = self._record

    def _record(self, call: Call) -> None:
        getattr(self._calls, "items", []).append(asdict(call))

    def _start(self) -> list[dict[str, Any]]:
        self._calls.items = []
        calls: list[dict[str, Any]] = self._calls.items
        return calls

    def preview(self, session: Session, action_name: str, context: ActionContext, *, actor: str) -> Plan:
        """Dry run: what the action would do and whether the policy allows it (StoreError when the store fails)."""
        action, calls = action_named(action_name), self._start()
        try:
            plan = action.plan(self.client, context)
        except StoreError as exc:
            run = _record(
                session, context, action_name, "", actor, RunStatus.FAILED, {"error": str(exc), "calls": calls}
            )
            _audit(session, actor, "action_preview_failed", context, {"action": action_name, "action_id": run.id})
            raise
        detail = {"ok": plan.check.ok, "summary": plan.summary, "reasons": plan.check.reasons, "calls": calls}
        run = _record(session, context, action_name, "", actor, RunStatus.PREVIEW, detail)
        _audit(
            session, actor, "action_preview", context, {"action": action_name, "action_id": run.id, "ok": plan.check.ok}
        )
        return plan

    def execute(self, session: Session, action_name: str, context: ActionContext, *, actor: str) -> ActionResult:
        """Do the action once; a repeat of a done request returns the first result without asking the store."""
        action, key = action_named(action_name), idempotency_key(context, action_name)
        done = executed(session, context.ticket_id, key) if action.writes else None
        if done is not None:
            log.info("ticket %s: %s already done (key %s)", context.ticket_id, action_name, key)
            return done
        calls, plan = self._start(), None
        try:
            plan = action.plan(self.client, context)
            if not plan.check.ok:
                raise ActionFailed(f"{action.title} not done: {plan.check.text(action.title)}")
            answer = self.client.post(*plan.request, key=key) if plan.request else action.read(self.client, plan)
            result = action.result(plan, answer)
        except (StoreError, ActionFailed) as exc:
            note = _note(action.title, exc, key, writes=plan is not None and plan.request is not None)
            run = _record(session, context, action_name, key, actor, RunStatus.FAILED, {"error": note, "calls": calls})
            _audit(session, actor, "action_failed", context, {"action": action_name, "action_id": run.id, "key": key})
            raise ActionFailed(note) from exc
        detail = {"summary": plan.summary, "result": asdict(result), "calls": calls}
        run = _record(session, context, action_name, key, actor, RunStatus.DONE, detail)
        _audit(session, actor, EXECUTED, context, {"action": action_name, "action_id": run.id, "key": key})
        return result


def executed(session: Session, ticket_id: int, key: str) -> ActionResult | None:
    """The result of an earlier execution with this key on this ticket (its ActionRun, or an older audit row)."""
    done = select(ActionRun).where(
        ActionRun.ticket_id == ticket_id, ActionRun.key == key, ActionRun.status == RunStatus.DONE
    )
    run = session.exec(done.order_by(col(ActionRun.id))).first()
    if run is not None:
        return ActionResult(**json.loads(run.detail)["result"])
    legacy = select(AuditEntry).where(AuditEntry.action == EXECUTED, AuditEntry.subject == f"ticket:{ticket_id}")
    for entry in session.exec(legacy.order_by(col(AuditEntry.id))):  # written before runs had their own table
        if entry.details.get("key") == key and "result" in entry.details:
            return ActionResult(**entry.details["result"])
    return None


def run_detail(session: Session, run_id: int) -> dict[str, Any]:
    """What a run recorded: summary, result or error, and the HTTP calls (decrypted)."""
    run = session.get(ActionRun, run_id)
    return dict(json.loads(run.detail)) if run is not None and run.detail else {}


def _record(
    session: Session,
    context: ActionContext,
    action: str,
    key: str,
    actor: str,
    status: RunStatus,
    detail: dict[str, Any],
) -> ActionRun:
    run = ActionRun(
        ticket_id=context.ticket_id,
        action=action,
        key=key,
        status=status,
        actor=actor,
        detail=json.dumps(detail, default=str),
        finished_at=utcnow(),
    )
    session.add(run)
    session.flush()
    return run


def _note(title: str, exc: Exception, key: str, *, writes: bool) -> str:
    """What the agent reads: what failed, that nothing reached the customer, and whether a retry is safe."""
    if isinstance(exc, ActionFailed):
        return str(exc)
    note = f"{title} not done: {exc}. Nothing was sent to the customer; the ticket stays with an agent."
    if isinstance(exc, StoreUnavailable) and writes:
        note += f" The store may still apply it later; running it again is safe (same request key {key})."
    return note


def _audit(session: Session, actor: str, action: str, context: ActionContext, details: dict[str, Any]) -> None:
    audit.append(session, actor=actor, action=action, subject=f"ticket:{context.ticket_id}", details=details)
