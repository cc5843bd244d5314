"""Cancel a subscription, or pause it for a few months (gold and silver members)."""

from __future__ import annotations

import re
from typing import Any

from engine.routing.actions.base import (
    Action,
    ActionContext,
    ActionResult,
    Plan,
    PolicyCheck,
    account_of,
    no_account,
    refused,
)
from engine.routing.actions.client import StoreClient, require
from engine.routing.actions.store_policy import PAUSE_LEVELS, PAUSE_MONTHS, SUBSCRIPTION_RULE

_PAUSE = re.compile(r"\b(?:pause|on hold|a break|suspend|freeze)\b", re.IGNORECASE)
_MONTHS = re.compile(r"\b(\d{1,2})\s*months?\b", re.IGNORECASE)


class Subscription(Action):
    name = "subscription"
    scope = "subscriptions:write"
    title = "Cancel or pause subscription"
    sensitive = True
    fields = (("mode", "cancel or pause"), ("months", "Pause months"))
    intent_words = (
        frozenset({"cancel", "subscription"}),
        frozenset({"pause", "subscription"}),
        frozenset({"subscription"}),
        frozenset({"unsubscribe"}),
    )

    def plan(self, client: StoreClient, context: ActionContext) -> Plan:
        account = account_of(client, context)
        if account is None:
            return no_account(self, SUBSCRIPTION_RULE, context)
        account_id, level = str(account["account_id"]), str(account["membership"]).lower()
        current = require(
            client.get(f"/accounts/{account_id}/subscription", scope="subscriptions:read"), "plan", "status"
        )
        mode = context.params.get("mode", "").strip().lower() or ("pause" if _PAUSE.search(context.text) else "cancel")
        facts: dict[str, Any] = {
            "account_id": account_id,
            "membership": level,
            "status": current["status"],
            "mode": mode,
        }
        if mode not in ("cancel", "pause"):
            return refused(self, SUBSCRIPTION_RULE, f"'{mode}' is neither cancel nor pause", facts)
        if current["status"] == "cancelled":
            return refused(self, SUBSCRIPTION_RULE, f"the {current['plan']} subscription is already cancelled", facts)
        body: dict[str, Any] = {"ticket": context.ticket_id}
        if mode == "pause":
            months = int(context.params.get("months") or _months(context.text))
            facts["months"] = months
            if level not in PAUSE_LEVELS:
                return refused(self, SUBSCRIPTION_RULE, f"{level} members cannot pause (gold and silver can)", facts)
            if not PAUSE_MONTHS[0] <= months <= PAUSE_MONTHS[1]:
                return refused(
                    self,
                    SUBSCRIPTION_RULE,
                    f"a pause lasts {PAUSE_MONTHS[0]} to {PAUSE_MONTHS[1]} months, not {months}",
                    facts,
                )
            if current["status"] != "active":
                return refused(
                    self, SUBSCRIPTION_RULE, f"only an active subscription can pause (it is {current['status']})", facts
                )
            body["months"] = months
            summary = f"pause the {current['plan']} subscription of account {account_id} for {months} month(s)"
            reasons = [f"{level} members may pause", f"{months} month(s) is within {PAUSE_MONTHS[0]}-{PAUSE_MONTHS[1]}"]
        else:
            summary = f"cancel the {current['plan']} subscription of account {account_id}"
            reasons = [f"the subscription is {current['status']}", "anyone may cancel"]
        request = (f"/subscriptions/{account_id}/{mode}", body)
        return Plan(self.name, self.title, summary, PolicyCheck(True, reasons, SUBSCRIPTION_RULE), request, facts)

    def result(self, answer: Any) -> ActionResult:
        done = require(answer, "account_id", "plan", "status", "change_id")
        if done["status"] == "paused":
            until = done.get("paused_until", "the date we agreed")
            text = f"I have paused your {done['plan']} subscription until {until}."
        else:
            text = f"I have cancelled your {done['plan']} subscription; you will not be charged again."
        return ActionResult(self.name, text + f" (reference {done['change_id']})", str(done["change_id"]), done)


def _months(text: str) -> int:
    match = _MONTHS.search(text)
    return int(match.group(1)) if match else PAUSE_MONTHS[0]
