"""Look up where an order is (read-only); a late order goes to an agent."""

from __future__ import annotations

from typing import Any

from engine.routing.actions.base import (
    ORDERS_READ,
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
from engine.routing.actions.store_policy import DELIVERY_RULE, LATE_AFTER_DAYS

ON_THE_WAY = ("in transit", "out for delivery")


class OrderStatus(Action):
    name = "order_status"
    title = "Order status"
    sensitive = False
    writes = False
    scope = ORDERS_READ
    fields = (("order_id", "Order number"),)
    guidance_steps = ("Shipping Status",)
    intent_words = (
        frozenset({"track", "order"}),
        frozenset({"order", "status"}),
        frozenset({"delivery", "status"}),
        frozenset({"where", "order"}),
    )

    def plan(self, client: StoreClient, context: ActionContext) -> Plan:
        found = account_and_order(self, client, context, DELIVERY_RULE)
        if isinstance(found, Plan):
            return found
        _, order = found
        order_id, status = str(order["order_id"]), str(order["status"])
        age = age_days(str(order["placed_at"]))
        facts = {"order_id": order_id, "status": status, "order_age_days": round(age, 1)}
        if status in ON_THE_WAY and age > LATE_AFTER_DAYS:
            return refused(self, DELIVERY_RULE, f"order {order_id} has been on its way for {age:.0f} days", facts)
        reasons = [f"order {order_id} belongs to the customer", f"status '{status}', placed {age:.0f} days ago"]
        summary = f"tell the customer the status of order {order_id} ('{status}')"
        return Plan(self.name, self.title, summary, PolicyCheck(True, reasons, DELIVERY_RULE), None, facts)

    def read(self, client: StoreClient, plan: Plan) -> Any:
        return client.get(f"/orders/{plan.facts['order_id']}", scope=self.scope)

    def result(self, answer: Any) -> ActionResult:
        order = require(answer, "order_id", "status")
        eta = f", expected by {order['eta']}" if order.get("eta") else ""
        text = f"Your order {order['order_id']} is {order['status']}{eta}."
        return ActionResult(self.name, text, str(order["order_id"]), order)
