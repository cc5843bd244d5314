"""What the worker and the screens call for routing: one RoutingService per engine (policy, store client, actions).

The store client is made on first use by the `connect` callable the composition root passes in (a team's CRM /
payment API, or the demo store started in-process on loopback).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.config import Settings
from engine.demo import reply_values
from engine.routing.account_ages import AccountAges
from engine.routing.actions.base import ActionContext, ActionResult, Plan
from engine.routing.actions.client import StoreClient, StoreError
from engine.routing.actions.registry import ACTIONS, action_named, step_actions
from engine.routing.actions.runner import ActionFailed, ActionRunner
from engine.routing.auto_resolve import AutoResult, auto_resolve_ticket, one_at_a_time, open_auto_resolved
from engine.routing.policy import POLICY_AUDIT, RoutingPolicy, load_policy, save_policy
from engine.routing.router import ROUTE_AUDIT, Decision, StoreFacts, gather_store_facts, route_tickets, ticket_text
from engine.store.audit_models import AuditEntry
from engine.store.models import Customer, Draft, Ticket
from engine.store.models import Route as Route  # the routes the ticket screen shows

log = logging.getLogger(__name__)

ACCOUNT_TIMEOUT = 2.0  # seconds an account-age lookup may take while routing


@dataclass(frozen=True)
class ActionOption:
    name: str
    title: str
    sensitive: bool
    suggested: bool
    fields: tuple[tuple[str, str], ...]


@dataclass
class RoutingView:
    """What the ticket page shows about routing: the decision, its checks, the risk factors and the actions."""

    route: str | None
    reason: str
    outcome: str | None
    risk: float | None
    factors: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    actions: list[ActionOption] = field(default_factory=list)
    decided_by: str = ""


class ApprovalRequired(ActionFailed):
    """The action was not run: it needs a supervisor's step-up approval first."""


class RoutingService:
    """Routes tickets, finishes auto-resolved ones and runs actions for agents, with one policy and store client."""

    def __init__(
        self,
        policy: RoutingPolicy,
        *,
        db: SAEngine,
        data_dir: Path,
        connect: Callable[[], StoreClient],
        settings: Callable[[], Settings],
        knows_intents: bool = False,
    ) -> None:
        self.policy = policy
        self._settings = settings  # the settings in force (the UI can change them while the app runs)
        self._db = db
        self._data_dir = data_dir
        self._connect = connect
        self._runner: ActionRunner | None = None
        self._accounts: AccountAges | None = None
        self._lock = threading.Lock()
        self.knows_intents = knows_intents  # whether the default policy saw the model's intents

    @property
    def runner(self) -> ActionRunner:
        """The action runner, connecting to the store on first use."""
        with self._lock:
            if self._runner is None:
                self._runner = ActionRunner(self._connect())
            return self._runner

    @property
    def accounts(self) -> AccountAges:
        """The customers' store account ages, looked up through the runner's store client."""
        client = self.runner.client
        with self._lock:
            if self._accounts is None:  # its own client: lookups stay out of the actions' audited call lists
                ages = StoreClient(client.base_url, timeout=ACCOUNT_TIMEOUT, retries=0, credentials=client.credentials)
                self._accounts = AccountAges(ages)
            return self._accounts

    def learn_intents(self, settings: Settings, intents: Sequence[str]) -> None:
        """Suggest actions for the model's intents once it has loaded (the policy was made before it knew them)."""
        if intents and not self.knows_intents:
            self.policy = load_policy(settings, intents)
            self.knows_intents = True

    def gather(self, ticket_ids: list[int], intents: Mapping[int, str] | None = None) -> StoreFacts:
        """Ask the store what routing these tickets needs (call with no transaction open)."""
        return gather_store_facts(
            self._db,
            ticket_ids,
            policy=self.policy,
            runner=self.runner,
            account_opened=self.accounts.opened,
            intents=intents,
        )

    def route(self, session: Session, ticket_ids: list[int], facts: StoreFacts) -> dict[int, Decision]:
        """Route freshly triaged tickets with what the store said (call after triage, in the same transaction)."""
        return route_tickets(session, ticket_ids, policy=self.policy, facts=facts)

    def auto_resolve(
        self,
        ticket_id: int,
        *,
        draft: Draft | None = None,
        vector: np.ndarray | None = None,
        similar: Any = None,
    ) -> AutoResult:
        """Finish one auto-resolved ticket (no-op for any other ticket); call with no transaction open."""
        return auto_resolve_ticket(
            self._db,
            ticket_id,
            policy=self.policy,
            runner=self.runner,
            draft=draft,
            vector=vector,
            similar=similar,
            store_values=reply_values(self._settings()),
        )

    def reconcile(self, similar: Any = None) -> dict[int, str]:
        """After a restart: settle the store writes it interrupted, then answer the auto-resolved tickets it left
        between their draft and their reply; {action run id: new status}."""
        settled = self.runner.reconcile(self._db)
        for ticket_id in open_auto_resolved(self._db):
            with Session(self._db, expire_on_commit=False) as session:
                draft = session.exec(
                    select(Draft).where(Draft.ticket_id == ticket_id).order_by(col(Draft.id).desc())
                ).first()
            self.auto_resolve(ticket_id, draft=draft, similar=similar)
        return settled

    def update_policy(self, new: RoutingPolicy, *, actor: str) -> RoutingPolicy:
        """Save a supervisor's policy change (audited) and use it from now on."""
        self.policy = save_policy(self._db, self._data_dir, self.policy, new, actor=actor)
        return self.policy

    def policy_changes(self, limit: int = 20) -> list[AuditEntry]:
        """The latest routing-policy changes from the audit log, newest first."""
        query = select(AuditEntry).where(AuditEntry.action == POLICY_AUDIT).order_by(col(AuditEntry.id).desc())
        with Session(self._db, expire_on_commit=False) as session:
            return list(session.exec(query.limit(limit)))

    def action_for_step(self, step: str) -> str | None:
        """The action that carries out a step of internal guidance ("Offer Refund" -> refund), None if none does."""
        return step_actions().get(step.strip().lower())

    def preview(self, ticket_id: int, action: str, params: dict[str, str], *, actor: str) -> Plan:
        """Dry run of an action on a ticket for an agent (audited)."""
        with Session(self._db, expire_on_commit=False) as session:
            context = _context(session, ticket_id, params)
        return self.runner.preview(self._db, action, context, actor=actor)

    def needs_approval(self, ticket_id: int, action: str, params: dict[str, str]) -> bool:
        """True when running this action by hand needs a supervisor's step-up code (StoreError if the store fails)."""
        chosen = action_named(action)
        if not chosen.sensitive:
            return False
        with Session(self._db, expire_on_commit=False) as session:
            context = _context(session, ticket_id, params)
        return chosen.needs_approval(chosen.plan(self.runner.client, context), self.policy.refund_approval_limit)

    def execute(
        self, ticket_id: int, action: str, params: dict[str, str], *, actor: str, approved: bool = False
    ) -> ActionResult:
        """Run an action for an agent, once per ticket, action and typed values (ActionFailed with a note).

        `approved` says a supervisor passed a step-up for it; without that an action that needs approval is refused.
        """
        title = action_named(action).title
        if not approved:
            try:
                needed = self.needs_approval(ticket_id, action, params)
            except StoreError as exc:
                raise ActionFailed(f"{title} not done: {exc}. Nothing was changed; try again later.") from exc
            if needed:
                raise ApprovalRequired(f"{title} needs a supervisor's approval with an authenticator code.")
        with one_at_a_time(ticket_id):
            with Session(self._db, expire_on_commit=False) as session:
                context = _context(session, ticket_id, params)
            return self.runner.execute(self._db, action, context, actor=actor)

    def view(self, ticket_id: int) -> RoutingView | None:
        """The routing decision of a ticket as the ticket page shows it."""
        with Session(self._db, expire_on_commit=False) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                return None
            entry = session.exec(
                select(AuditEntry)
                .where(AuditEntry.action == ROUTE_AUDIT, AuditEntry.subject == f"ticket:{ticket_id}")
                .order_by(col(AuditEntry.id).desc())
            ).first()
        details = entry.details if entry is not None else {}
        suggested = self.policy.action_for(ticket.intent or "")
        options = [ActionOption(a.name, a.title, a.sensitive, a.name == suggested, a.fields) for a in ACTIONS.values()]
        return RoutingView(
            route=ticket.route,
            reason=ticket.route_reason,
            outcome=ticket.outcome,
            risk=ticket.risk,
            factors=list(details.get("factors", [])),
            checks=list(details.get("checks", [])),
            actions=sorted(options, key=lambda o: not o.suggested),
            decided_by=entry.actor if entry is not None else "",
        )


def _context(session: Session, ticket_id: int, params: dict[str, str]) -> ActionContext:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise LookupError(f"ticket {ticket_id} does not exist")
    customer = session.get(Customer, ticket.customer_id)
    assert customer is not None
    text = ticket_text(session, ticket_id)
    clean = {k: v.strip() for k, v in params.items() if v and v.strip()}
    return ActionContext(ticket_id, customer.email, customer.name, text, clean)
