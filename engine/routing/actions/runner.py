"""Run actions for tickets: dry-run previews and executions, each recorded as an ActionRun and audited by reference.

What an action was about (its summary, the store's answer, every HTTP call) is stored encrypted in the ActionRun row
of the ticket; the audit row names only the action, the run id and the idempotency key, so the tamper-evident log,
which is never deleted, holds no address, name or message text.

No store call runs inside a database transaction (a slow store would stall every writer): a write's intent is
committed as a PLANNED run first, the store is called with no transaction open, and the answer is written in a new
short transaction; at restart `reconcile` re-sends the PLANNED runs with their keys.

An execution's idempotency key depends on the ticket, the action and the values an agent typed, never on the
store's current state, so a double click or a retry after a timeout asks the store for the same change twice and
the store applies it once. A failure raises `ActionFailed` with a note for the agent; nothing is half-done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.privacy import audit
from engine.routing.actions.base import ActionContext, ActionResult, Plan
from engine.routing.actions.client import Call, StoreClient, StoreError, StoreUnavailable
from engine.routing.actions.registry import action_named
from engine.store.action_models import ActionRun, RunStatus
from engine.store.audit_models import AuditEntry
from engine.store.db import session_scope
from engine.store.models import utcnow

log = logging.getLogger(__name__)

EXECUTED = "action_executed"
PLANNED = "action_planned"


class ActionFailed(RuntimeError):
    """The action was not done (refused by policy, or the store failed); the message is the agent's note."""


def idempotency_key(context: ActionContext, action: str) -> str:
    """The same key for the same ticket, action and typed values: the store applies that request once."""
    typed = json.dumps(context.params, sort_keys=True)
    return f"caredesk-{context.ticket_id}-{action}-{hashlib.sha256(typed.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class Planned:
    """A dry run made against the store before any database work: the plan (or the store's error) and its calls."""

    action: str
    context: ActionContext
    plan: Plan | None
    error: StoreError | None
    calls: list[dict[str, Any]]


class ActionRunner:
    """Plans and executes actions through one store client.

    No store call ever runs inside a database transaction: a write is planned, its intent (a PLANNED run with its
    request and idempotency key) committed, the store called with no transaction open, and the answer written in a
    new short transaction. `reconcile` settles the runs a restart interrupted between the call and the answer.
    """

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

    def plan(self, action_name: str, context: ActionContext) -> Planned:
        """Dry run against the store (reads only, no database): the plan, or the store's error."""
        action, calls = action_named(action_name), self._start()
        try:
            return Planned(action_name, context, action.plan(self.client, context), None, calls)
        except StoreError as exc:
            return Planned(action_name, context, None, exc, calls)

    def preview(self, db: SAEngine, action_name: str, context: ActionContext, *, actor: str) -> Plan:
        """Dry run for an agent: plan against the store, then record it (StoreError when the store failed)."""
        planned = self.plan(action_name, context)
        with session_scope(db) as session:
            return record_preview(session, planned, actor=actor)

    def execute(self, db: SAEngine, action_name: str, context: ActionContext, *, actor: str) -> ActionResult:
        """Do the action once; a repeat of a done request returns the first result without asking the store."""
        action, key = action_named(action_name), idempotency_key(context, action_name)
        if action.writes:
            with Session(db) as session:
                done = executed(session, context.ticket_id, key)
            if done is not None:
                log.info("ticket %s: %s already done (key %s)", context.ticket_id, action_name, key)
                return done
        calls, plan, run_id = self._start(), None, None
        try:
            plan = action.plan(self.client, context)
            if not plan.check.ok:
                raise ActionFailed(f"{action.title} not done: {plan.check.text(action.title)}")
            if plan.request is None:
                result = action.result(action.read(self.client, plan))
            else:
                run_id = _intend(db, context, action_name, key, actor, plan)
                result = action.result(self.client.post(*plan.request, key=key, scope=action.scope))
        except (StoreError, ActionFailed) as exc:
            note = _note(action.title, exc, key, writes=plan is not None and plan.request is not None)
            failed = {"error": note, "calls": calls}
            _settle(db, _Run(context.ticket_id, run_id, action_name, key, actor), RunStatus.FAILED, failed)
            raise ActionFailed(note) from exc
        detail = {"summary": plan.summary, "result": asdict(result), "calls": calls}
        _settle(db, _Run(context.ticket_id, run_id, action_name, key, actor), RunStatus.DONE, detail)
        return result

    def reconcile(self, db: SAEngine) -> dict[int, str]:
        """Settle the writes a restart interrupted: each PLANNED run is sent again with its idempotency key (the
        store applies it once) and marked done, or failed with the reason; {run id: new status}."""
        with Session(db) as session:
            pending = list(session.exec(select(ActionRun).where(ActionRun.status == RunStatus.PLANNED)))
        settled: dict[int, str] = {}
        for run in pending:
            assert run.id is not None
            action, detail, calls = action_named(run.action), json.loads(run.detail), self._start()
            path, body = detail["request"]
            which = _Run(run.ticket_id, run.id, run.action, run.key, run.actor)
            try:
                result = action.result(self.client.post(path, body, key=run.key, scope=action.scope))
            except StoreError as exc:
                note = f"{action.title} interrupted by a restart and not confirmed by the store: {exc}"
                _settle(db, which, RunStatus.FAILED, {"summary": detail["summary"], "error": note, "calls": calls})
                settled[run.id] = RunStatus.FAILED
                continue
            done = {"summary": detail["summary"], "result": asdict(result), "calls": calls}
            _settle(db, which, RunStatus.DONE, done)
            settled[run.id] = RunStatus.DONE
        if settled:
            log.warning("reconciled %d interrupted store actions: %s", len(settled), settled)
        return settled


def record_preview(session: Session, planned: Planned, *, actor: str) -> Plan:
    """Record a dry run as a PREVIEW run (FAILED when the store failed, then re-raise its error), audited."""
    context, name = planned.context, planned.action
    if planned.plan is None:
        assert planned.error is not None
        failed = {"error": str(planned.error), "calls": planned.calls}
        run = _record(session, context.ticket_id, name, "", actor, RunStatus.FAILED, failed)
        _audit(session, actor, "action_preview_failed", context.ticket_id, {"action": name, "action_id": run.id})
        raise planned.error
    plan = planned.plan
    detail: dict[str, Any] = {
        "ok": plan.check.ok,
        "summary": plan.summary,
        "reasons": plan.check.reasons,
        "calls": planned.calls,
    }
    run = _record(session, context.ticket_id, name, "", actor, RunStatus.PREVIEW, detail)
    details = {"action": name, "action_id": run.id, "ok": plan.check.ok}
    _audit(session, actor, "action_preview", context.ticket_id, details)
    return plan


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


@dataclass(frozen=True)
class _Run:
    """Which execution a result belongs to: its ticket, its PLANNED run (None before one was written), and key."""

    ticket_id: int
    run_id: int | None
    action: str
    key: str
    actor: str


def _record(
    session: Session, ticket_id: int, action: str, key: str, actor: str, status: RunStatus, detail: dict[str, Any]
) -> ActionRun:
    run = ActionRun(
        ticket_id=ticket_id,
        action=action,
        key=key,
        status=status,
        actor=actor,
        detail=json.dumps(detail, default=str),
        finished_at=None if status == RunStatus.PLANNED else utcnow(),
    )
    session.add(run)
    session.flush()
    return run


def _intend(db: SAEngine, context: ActionContext, action: str, key: str, actor: str, plan: Plan) -> int:
    """Commit the intent of a write (a PLANNED run with its request) before the store is called; the run's id."""
    assert plan.request is not None
    detail = {"summary": plan.summary, "request": list(plan.request)}
    with session_scope(db) as session:
        run = _record(session, context.ticket_id, action, key, actor, RunStatus.PLANNED, detail)
        _audit(session, actor, PLANNED, context.ticket_id, {"action": action, "action_id": run.id, "key": key})
        assert run.id is not None
        return run.id


def _settle(db: SAEngine, which: _Run, status: RunStatus, detail: dict[str, Any]) -> None:
    """Write how an execution ended, in its own short transaction: on its PLANNED run, or a new run; audited."""
    with session_scope(db) as session:
        run = session.get(ActionRun, which.run_id) if which.run_id is not None else None
        if run is None:
            run = _record(session, which.ticket_id, which.action, which.key, which.actor, status, detail)
        else:
            run.status, run.detail, run.finished_at = status, json.dumps(detail, default=str), utcnow()
            session.add(run)
        name = EXECUTED if status == RunStatus.DONE else "action_failed"
        details = {"action": which.action, "action_id": run.id, "key": which.key}
        _audit(session, which.actor, name, which.ticket_id, details)


def _note(title: str, exc: Exception, key: str, *, writes: bool) -> str:
    """What the agent reads: what failed, that nothing reached the customer, and whether a retry is safe."""
    if isinstance(exc, ActionFailed):
        return str(exc)
    note = f"{title} not done: {exc}. Nothing was sent to the customer; the ticket stays with an agent."
    if isinstance(exc, StoreUnavailable) and writes:
        note += f" The store may still apply it later; running it again is safe (same request key {key})."
    return note


def _audit(session: Session, actor: str, action: str, ticket_id: int, details: dict[str, Any]) -> None:
    audit.append(session, actor=actor, action=action, subject=f"ticket:{ticket_id}", details=details)
