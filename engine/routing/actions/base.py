"""What every action is: read the store, check the policy, describe the change (dry run), then make it once.

An action never half-does anything: `plan` only reads (GET); `execute` makes one write (POST) with an idempotency
key, and the store applies it all or not at all. Everything the customer is told comes from the store's answer.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.routing.actions.client import StoreClient, StoreNotFound, require
from engine.routing.actions.store_policy import Rule

ACCOUNTS_READ = "accounts:read"
ORDERS_READ = "orders:read"
_ORDER_ID = re.compile(r"\b(?:order|ord)\s*(?:number|no\.?|id)?\s*[:#]?\s*(ORD-?\d{3,}|\d{4,})\b", re.IGNORECASE)
_HASH_ID = re.compile(r"#\s?(ORD-?\d{3,}|\d{4,})\b", re.IGNORECASE)


@dataclass(frozen=True)
class ActionContext:
    """The ticket an action is for: who asked, what they wrote, and any values an agent typed in."""

    ticket_id: int
    customer_email: str | None
    customer_name: str
    text: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyCheck:
    """Whether the store policy allows the action, why, and the article the rule comes from."""

    ok: bool
    reasons: list[str]
    rule: Rule

    def text(self, title: str) -> str:
        """'policy 'refund' applies: ...' or 'policy 'refund' does not apply: ...'."""
        verdict = "applies" if self.ok else "does not apply"
        return f"policy '{title}' {verdict}: " + "; ".join(self.reasons)


@dataclass(frozen=True)
class Plan:
    """A dry run: what would be done, the request that would do it (None for a read-only action), the check."""

    action: str
    title: str
    summary: str
    check: PolicyCheck
    request: tuple[str, dict[str, Any]] | None
    facts: dict[str, Any]


@dataclass(frozen=True)
class ActionResult:
    """What the store did, in the words the customer reads, and its raw answer for the audit log."""

    action: str
    customer_text: str
    reference: str
    answer: dict[str, Any]


class Action(ABC):
    """One thing the desk can do in the store for a customer."""

    name: str = ""
    title: str = ""
    sensitive: bool = True  # needs a supervisor's step-up code when an agent runs it by hand
    writes: bool = True  # False for read-only actions: nothing to apply once, every run reads afresh
    scope: str = ""  # the OAuth scope of its request (its write, or a read-only action's read)
    intent_words: tuple[frozenset[str], ...] = ()  # an intent named with all words of one set suggests this action
    fields: tuple[tuple[str, str], ...] = ()  # (param, label) an agent may fill in; empty ones are read from the text
    guidance_steps: tuple[str, ...] = ()  # steps of internal guidance this action carries out ("Offer Refund")

    @abstractmethod
    def plan(self, client: StoreClient, context: ActionContext) -> Plan:
        """Read what the action needs from the store and check the policy (no change is made)."""

    @abstractmethod
    def result(self, answer: Any) -> ActionResult:
        """Check the store's answer to the plan's request and say what was done."""

    def needs_approval(self, plan: Plan, refund_limit: float) -> bool:
        """True when an agent needs a supervisor's step-up code to run this plan by hand."""
        return self.sensitive

    def over_limit(self, plan: Plan, refund_limit: float) -> bool:
        """True when the plan moves more money than anyone may move without a supervisor (the AI included)."""
        return False

    def read(self, client: StoreClient, plan: Plan) -> Any:
        """The answer of a read-only action (writes answer their POST instead)."""
        raise NotImplementedError(f"{self.name} has no read-only answer")

    def matches(self, intent: str) -> bool:
        """True when the intent's name suggests this action (e.g. 'track_order' for order status)."""
        words = set(re.split(r"[\W_]+", intent.lower()))
        return any(needed <= words for needed in self.intent_words)


def account_of(client: StoreClient, context: ActionContext) -> dict[str, Any] | None:
    """The customer's store account found by e-mail, None when the store has none."""
    if not context.customer_email:
        return None
    try:
        account = client.get("/accounts", params={"email": context.customer_email}, scope=ACCOUNTS_READ)
    except StoreNotFound:
        return None
    return require(account, "account_id", "email", "membership", "created_at")


def orders_of(client: StoreClient, account_id: str) -> list[dict[str, Any]]:
    """The account's orders, newest first."""
    orders = client.get(f"/accounts/{account_id}/orders", scope=ORDERS_READ)
    if not isinstance(orders, list):
        require(orders)  # raises: the store answered something that is not a list
    checked = [require(o, "order_id", "status", "total", "placed_at", "refunded") for o in orders]
    return sorted(checked, key=lambda o: str(o["placed_at"]), reverse=True)


def order_for(client: StoreClient, context: ActionContext, account: dict[str, Any]) -> dict[str, Any] | None:
    """The order the customer names (agent's value, then the text), else their newest order."""
    orders = orders_of(client, str(account["account_id"]))
    wanted = context.params.get("order_id") or order_id_in(context.text)
    if wanted:
        key = _order_key(wanted)
        return next((o for o in orders if _order_key(str(o["order_id"])) == key), None)
    return orders[0] if orders else None


def order_id_in(text: str) -> str | None:
    """An order number written in a message ('order #1234', 'order ORD-1234'), None when there is none."""
    match = _ORDER_ID.search(text) or _HASH_ID.search(text)
    return match.group(1) if match else None


def _order_key(order_id: str) -> str:
    return re.sub(r"\D", "", order_id)


def age_days(iso: str, now: datetime | None = None) -> float:
    """Days since an ISO timestamp."""
    at = datetime.fromisoformat(iso)
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return max(0.0, ((now or datetime.now(UTC)) - at).total_seconds() / 86400)


def refused(action: Action, rule: Rule, reason: str, facts: dict[str, Any] | None = None) -> Plan:
    """A plan whose policy check failed: nothing will be requested."""
    check = PolicyCheck(False, [reason], rule)
    return Plan(action.name, action.title, f"not possible: {reason}", check, None, facts or {})


def no_account(action: Action, rule: Rule, context: ActionContext) -> Plan:
    """The refusal when the store knows no account for the customer."""
    return refused(action, rule, f"the store has no account for {context.customer_email or 'this customer'}")


def account_and_order(
    action: Action, client: StoreClient, context: ActionContext, rule: Rule
) -> tuple[dict[str, Any], dict[str, Any]] | Plan:
    """The customer's store account and the order the ticket is about, or the refusal when either is missing."""
    account = account_of(client, context)
    if account is None:
        return no_account(action, rule, context)
    order = order_for(client, context, account)
    if order is None:
        return refused(action, rule, "no matching order in the customer's account")
    return account, order
