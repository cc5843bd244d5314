"""The demo store's policy as numbers, each taken from an article of the demo knowledge base (ABCD guidelines).

The article keys are the knowledge-base document keys built by `engine.knowledge.demo_kb`, so an agent can open
the rule an action checked. Rules marked "demo assumption" are not in the manual; they keep the demo store sane.
"""

from __future__ import annotations

from dataclasses import dataclass

GUEST = "guest"


@dataclass(frozen=True)
class Rule:
    """One policy rule: its text for people and the article it comes from."""

    text: str
    article: str


# "Gold members get unlimited returns; Silver ... within the last 6 months; Bronze ... within the last 90 days;
#  Guest ... within the last 30 days" (Product Defect > Return Due to Size, Membership Privileges).
RETURN_WINDOW_DAYS: dict[str, float | None] = {"gold": None, "silver": 182, "bronze": 90, GUEST: 30}
RETURN_WINDOW = Rule(
    "returns: gold unlimited, silver 6 months, bronze 90 days, guest 30 days", "abcd/Product Defect/Return Due to Size"
)
# "If the customer does not know, the default amount is $50" (Product Defect > Initiate Refund, Offer Refund);
# a refund never exceeds what was paid for the order and not yet refunded (demo assumption).
DEFAULT_REFUND = 50.0
REFUND_RULE = Rule(
    "a refund is at most the order's unrefunded total; $50 when the customer names no amount",
    "abcd/Product Defect/Initiate Refund",
)
# "they must wait until the item arrives ... to start the return process" (Order Issue > Manage Cancel): guests
# get a refund only once the item is delivered; members may be refunded while it is on its way.
REFUND_BEFORE_DELIVERY = Rule(
    "guests are refunded only after the item arrives; members at once", "abcd/Order Issue/Manage Cancel"
)
# "If they have been waiting for less than a week (7 days or less) ... it can still take a couple days to arrive"
# (Shipping Issue > Missing Item): an order on its way for longer is late and goes to an agent.
LATE_AFTER_DAYS = 7
DELIVERY_RULE = Rule(
    "an order on its way for more than 7 days is late: an agent looks into it", "abcd/Shipping Issue/Missing Item"
)
# "Enter the type of change they want to make: > Options: 'Change address' ..." after the shipping status
# (Shipping Issue > Manage Shipping): the address of an order can change until it ships.
ADDRESS_CHANGE_STATUSES = ("order received",)
ADDRESS_RULE = Rule(
    "the shipping address can change while the order is 'order received' (not shipped yet)",
    "abcd/Shipping Issue/Manage Shipping",
)
# "Tell the customer you cannot get their password, but you can generate a new one for them"
# (Account Access > Recover Password): the reset goes to the e-mail on file, never into the chat.
PASSWORD_RULE = Rule(
    "passwords are never shown; a reset link goes to the e-mail address on file", "abcd/Account Access/Recover Password"
)
# "Gold members can always get an extension; Silver ... if they are only 1 day late; Bronze and Guest members
# cannot" (Subscription Inquiry > Manage Extension): pausing is an extension of the renewal date, so the same
# levels may pause; anyone may cancel. A pause lasts 1 to 3 months (demo assumption).
PAUSE_LEVELS = ("gold", "silver")
PAUSE_MONTHS = (1, 3)
SUBSCRIPTION_RULE = Rule(
    "anyone may cancel; gold and silver members may pause for 1 to 3 months",
    "abcd/Subscription Inquiry/Manage Extension",
)
