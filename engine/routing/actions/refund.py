"""Refund part or all of an order, within the membership's return window."""

from __future__ import annotations

from typing import Any

from engine.routing.actions.base import (
    Action,
    ActionContext,
    ActionResult,
    Plan,
    PolicyCheck,
    account_and_order,
    age_days,
    refused,
)
from engine.routing.actions.client import StoreClient, require
from engine.routing.actions.store_policy import (
    DEFAULT_REFUND,
    GUEST,
    REFUND_BEFORE_DELIVERY,
    REFUND_RULE,
    RETURN_WINDOW,
    RETURN_WINDOW_DAYS,
)
from engine.routing.risk import money_at_stake


class Refund(Action):
    name = "refund"
    scope = "refunds:write"
    title = "Refund"
    sensitive = True
    fields = (("order_id", "Order number"), ("amount", "Amount"))
    guidance_steps = ("Offer Refund",)
    intent_words = (frozenset({"get", "refund"}), frozenset({"request", "refund"}), frozenset({"refund", "request"}))

    def needs_approval(self, plan: Plan, refund_limit: float) -> bool:
        """Refunds up to the policy's limit are an agent's call; larger ones (or an unknown amount) need approval."""
        return self.over_limit(plan, refund_limit)

    def over_limit(self, plan: Plan, refund_limit: float) -> bool:
        """The refund's amount (unknown counts as too much) is above the limit."""
        return float(plan.facts.get("amount", float("inf"))) > refund_limit

    def plan(self, client: StoreClient, context: ActionContext) -> Plan:
        found = account_and_order(self, client, context, REFUND_RULE)
        if isinstance(found, Plan):
            return found
        account, order = found
        level, order_id = str(account["membership"]).lower(), str(order["order_id"])
        window = RETURN_WINDOW_DAYS.get(level, RETURN_WINDOW_DAYS[GUEST])
        age = age_days(str(order["placed_at"]))
        facts = {"order_id": order_id, "membership": level, "order_age_days": round(age, 1), "status": order["status"]}
        if window is not None and age > window:
            reason = f"order {order_id} is {age:.0f} days old, past the {window:.0f}-day window for {level} members"
            return refused(self, RETURN_WINDOW, reason, facts)
        if level == GUEST and order["status"] != "delivered":
            return refused(
                self,
                REFUND_BEFORE_DELIVERY,
                f"order {order_id} is '{order['status']}' and {level}s wait for delivery",
                facts,
            )
        left = round(float(order["total"]) - float(order["refunded"]), 2)
        asked = _amount(context)
        amount = asked if asked else min(DEFAULT_REFUND, left)
        facts.update(amount=amount, refundable=left)
        if left <= 0:
            return refused(self, REFUND_RULE, f"order {order_id} is already fully refunded", facts)
        if amount > left:
            return refused(
                self,
                REFUND_RULE,
                f"${amount:,.2f} is more than the ${left:,.2f} left to refund on order {order_id}",
                facts,
            )
        in_window = (
            "gold members have no return limit"
            if window is None
            else f"placed {age:.0f} days ago, within {window:.0f} days for {level} members"
        )
        reasons = [f"order {order_id} {in_window}", f"${amount:,.2f} <= ${left:,.2f} refundable"]
        body = {"order_id": order_id, "amount": amount, "reason": f"ticket {context.ticket_id}"}
        summary = f"refund ${amount:,.2f} of order {order_id} to the original payment method"
        return Plan(
            self.name, self.title, summary, PolicyCheck(True, reasons, RETURN_WINDOW), ("/refunds", body), facts
        )

    def result(self, answer: Any) -> ActionResult:
        done = require(answer, "refund_id", "order_id", "amount", "status")
        amount = float(done["amount"])
        text = (
            f"I have refunded ${amount:,.2f} for order {done['order_id']} (reference {done['refund_id']}); "
            "the money goes back to the payment method you used."
        )
        return ActionResult(self.name, text, str(done["refund_id"]), done)


def _amount(context: ActionContext) -> float:
    typed = context.params.get("amount", "").replace("$", "").replace(",", "").strip()
    return float(typed) if typed else money_at_stake(context.text)
