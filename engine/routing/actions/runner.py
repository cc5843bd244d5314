"""Run actions for tickets: dry-run previews and executions, every store call and result in the audit log.

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
from engine.store.audit_models import AuditEntry

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
            _audit(
                session,
                actor,
                "action_preview_failed",
                context,
                {"action": action_name, "error": str(exc), "calls": calls},
            )
            raise
        details = {"action": action_name, "ok": plan.check.ok, "summary": plan.summary, "reasons": plan.check.reasons}
        _audit(session, actor, "action_preview", context, {**details, "calls": calls})
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
            _audit(
                session,
                actor,
                "action_failed",
                context,
                {"action": action_name, "key": key, "error": note, "calls": calls},
            )
            raise ActionFailed(note) from exc
        details = {"action": action_name, "key": key, "summary": plan.summary, "result": asdict(result), "calls": calls}
        _audit(session, actor, EXECUTED, context, details)
        return result


def executed(session: Session, ticket_id: int, key: str) -> ActionResult | None:
    """The result of an earlier execution with this key on this ticket, from the audit log."""
    query = select(AuditEntry).where(AuditEntry.action == EXECUTED, AuditEntry.subject == f"ticket:{ticket_id}")
    for entry in session.exec(query.order_by(col(AuditEntry.id))):
        if entry.details.get("key") == key:
            return ActionResult(**entry.details["result"])
    return None


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
