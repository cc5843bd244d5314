"""Send a password reset link to the e-mail address on file."""

from __future__ import annotations

from typing import Any

from engine.routing.actions.base import (
    Action,
    ActionContext,
    ActionResult,
    Plan,
    PolicyCheck,
    account_of,
    no_account,
)
from engine.routing.actions.client import StoreClient, require
from engine.routing.actions.store_policy import PASSWORD_RULE


class PasswordReset(Action):
    name = "password_reset"
    scope = "accounts:write"
    title = "Password reset"
    sensitive = True
    guidance_steps = ("Make Password",)
    intent_words = (frozenset({"password"}),)

    def plan(self, client: StoreClient, context: ActionContext) -> Plan:
        account = account_of(client, context)
        if account is None:
            return no_account(self, PASSWORD_RULE, context)
        account_id = str(account["account_id"])
        reasons = [f"account {account_id} has the customer's e-mail on file", "the link goes to that address only"]
        summary = f"send a password reset link for account {account_id} to {account['email']}"
        request = (f"/accounts/{account_id}/password-reset", {"ticket": context.ticket_id})
        return Plan(
            self.name,
            self.title,
            summary,
            PolicyCheck(True, reasons, PASSWORD_RULE),
            request,
            {"account_id": account_id},
        )

    def result(self, answer: Any) -> ActionResult:
        done = require(answer, "reset_id", "sent_to", "expires_minutes")
        text = (
            f"I have sent a password reset link to {done['sent_to']}; it works for {done['expires_minutes']} minutes. "
            "For your security we never send passwords in messages."
        )
        return ActionResult(self.name, text, str(done["reset_id"]), done)
