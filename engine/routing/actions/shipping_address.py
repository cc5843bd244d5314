"""Change the delivery address of an order that has not shipped yet."""

from __future__ import annotations

import re
from typing import Any

from engine.routing.actions.base import (
    Action,
    ActionContext,
    ActionResult,
    Plan,
    PolicyCheck,
    account_and_order,
    refused,
)
from engine.routing.actions.client import StoreClient, require
from engine.routing.actions.store_policy import ADDRESS_CHANGE_STATUSES, ADDRESS_RULE

_ADDRESS = re.compile(
    r"(?:new (?:shipping |delivery )?address(?: is)?|address (?:is|to|should be)|(?:ship|deliver|send)"
    r"(?: it| them| my order| the order)? to)\s*[:\-]?\s*(\d+[^.\n;!?]{4,100})",
    re.IGNORECASE,
)


def address_in(text: str) -> str | None:
    """A street address the customer gives as the new one ('ship it to 12 Oak Street, Leeds'), else None."""
    match = _ADDRESS.search(text)
    return match.group(1).strip(" ,") if match else None


class ShippingAddress(Action):
    name = "shipping_address"
    scope = "orders:write"
    title = "Change shipping address"
    sensitive = True
    fields = (("order_id", "Order number"), ("address", "New address"))
    intent_words = (
        frozenset({"shipping", "address"}),
        frozenset({"delivery", "address"}),
        frozenset({"change", "address"}),
    )

    def plan(self, client: StoreClient, context: ActionContext) -> Plan:
        found = account_and_order(self, client, context, ADDRESS_RULE)
        if isinstance(found, Plan):
            return found
        _, order = found
        order_id, status = str(order["order_id"]), str(order["status"])
        new = context.params.get("address") or address_in(context.text)
        facts = {"order_id": order_id, "status": status, "address": new}
        if not new:
            return refused(self, ADDRESS_RULE, "the new address is missing: ask the customer for it", facts)
        if status not in ADDRESS_CHANGE_STATUSES:
            return refused(self, ADDRESS_RULE, f"order {order_id} is already '{status}'", facts)
        reasons = [f"order {order_id} is '{status}' (not shipped yet)", "the customer gave the new address"]
        summary = f"send order {order_id} to {new} instead of {order.get('shipping_address', 'the old address')}"
        request = (f"/orders/{order_id}/shipping-address", {"address": new, "ticket": context.ticket_id})
        return Plan(self.name, self.title, summary, PolicyCheck(True, reasons, ADDRESS_RULE), request, facts)

    def result(self, answer: Any) -> ActionResult:
        done = require(answer, "order_id", "shipping_address")
        text = f"I have changed the delivery address of order {done['order_id']} to {done['shipping_address']}."
        return ActionResult(self.name, text, str(done["order_id"]), done)
