"""The actions the desk knows, by name, and which intents suggest which action."""

from __future__ import annotations

from collections.abc import Iterable

from engine.routing.actions.base import Action
from engine.routing.actions.order_status import OrderStatus
from engine.routing.actions.password_reset import PasswordReset
from engine.routing.actions.refund import Refund
from engine.routing.actions.shipping_address import ShippingAddress
from engine.routing.actions.subscription import Subscription

ACTIONS: dict[str, Action] = {
    a.name: a for a in (Refund(), PasswordReset(), OrderStatus(), Subscription(), ShippingAddress())
}


def action_named(name: str) -> Action:
    """The action called `name`; KeyError with the known names otherwise."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise KeyError(f"no action '{name}' (known: {', '.join(ACTIONS)})") from None


def suggest_actions(intents: Iterable[str]) -> dict[str, str]:
    """intent -> action name for the intents whose names suggest one action (ambiguous names get none)."""
    out: dict[str, str] = {}
    for intent in intents:
        matching = [a.name for a in ACTIONS.values() if a.matches(intent)]
        if len(matching) == 1:
            out[intent] = matching[0]
    return out


def step_actions() -> dict[str, str]:
    """Guidance step name (lower case) -> the action that carries it out, for the steps the desk can run."""
    return {step.lower(): a.name for a in ACTIONS.values() for step in a.guidance_steps}
