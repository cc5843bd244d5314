"""Risk score of a ticket: a weighted sum of seven documented factors, each shown with its contribution.

score = sum of contributions, clipped to 0..1. Each factor is scaled to 0..1 and multiplied by its weight; the
weights add up to 1, so a ticket that is maximal on every factor scores 1.

| factor              | weight | scaled value                                                                     |
|---------------------|-------:|----------------------------------------------------------------------------------|
| money at stake      |  0.25  | largest amount named in the messages / MONEY_SCALE (500), capped at 1            |
| account age         |  0.10  | 1 - age / NEW_ACCOUNT_DAYS (30) of the store account; 0 when the store has none |
| past complaints     |  0.15  | the customer's earlier negative or escalated tickets / 3, capped at 1            |
| negative sentiment  |  0.15  | max(0, -valence) of the latest customer message                                  |
| urgency             |  0.10  | urgency of the latest customer message (0..1)                                    |
| frustration rising  |  0.10  | 1 when the latest message is clearly more negative than the one before           |
| VIP customer        |  0.10  | 1 for VIP customers                                                              |
| public channel      |  0.05  | social 1, voice 0.5, e-mail / chat / SMS 0                                      |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, or_, select

from engine.store.models import Channel, Customer, Route, Ticket, TicketStatus

MONEY_SCALE = 500.0
NEW_ACCOUNT_DAYS = 30.0
COMPLAINTS_SCALE = 3.0
WEIGHTS = {
    "money": 0.25,
    "account_age": 0.10,
    "complaints": 0.15,
    "negative": 0.15,
    "urgency": 0.10,
    "frustration": 0.10,
    "vip": 0.10,
    "channel": 0.05,
}
CHANNEL_EXPOSURE: dict[str, float] = {Channel.SOCIAL: 1.0, Channel.VOICE: 0.5}

_AMOUNT = re.compile(
    r"(?:[$€£]\s?(?P<pre>\d{1,3}(?:[,.]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?))"
    r"|(?:(?P<post>\d+(?:[.,]\d{1,2})?)\s?(?:\$|€|£|usd|eur|gbp|dollars?|euros?|pounds?)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RiskInputs:
    """What the risk score reads; every field has a neutral default so a missing signal adds nothing."""

    money: float = 0.0
    account_age_days: float | None = None
    past_complaints: int = 0
    valence: float = 0.0
    urgency: float = 0.0
    frustration_rising: bool = False
    vip: bool = False
    channel: str = Channel.EMAIL


@dataclass(frozen=True)
class RiskFactor:
    """One factor: its name, the value a person reads, and how much it adds to the score."""

    key: str
    label: str
    value: str
    contribution: float


@dataclass(frozen=True)
class RiskScore:
    score: float
    factors: list[RiskFactor]

    def explain(self, *, top: int = 3) -> str:
        """The largest contributions as text, e.g. 'money at stake $450 +0.23, VIP +0.10'."""
        ranked = sorted((f for f in self.factors if f.contribution > 0), key=lambda f: -f.contribution)[:top]
        return ", ".join(f"{f.label} {f.value} +{f.contribution:.2f}" for f in ranked) or "no risk factor"


def money_at_stake(text: str) -> float:
    """The largest money amount named in a text ('$1,200', '40 EUR', '£9.99'), 0 when none."""
    amounts = []
    for match in _AMOUNT.finditer(text):
        raw = match.group("pre") or match.group("post") or ""
        amounts.append(_number(raw))
    return max(amounts, default=0.0)


def _number(raw: str) -> float:
    """'1,200.50' / '1.200,50' / '40' as a float (the last separator followed by 1-2 digits is the decimal one)."""
    decimal = re.search(r"[.,](\d{1,2})$", raw)
    whole = raw[: decimal.start()] if decimal else raw
    digits = re.sub(r"[.,]", "", whole)
    return float(digits + ("." + decimal.group(1) if decimal else ""))


def risk_score(inputs: RiskInputs) -> RiskScore:
    """The documented weighted risk score of one ticket, with each factor's contribution."""
    age = inputs.account_age_days
    scaled = {
        "money": min(max(inputs.money, 0.0) / MONEY_SCALE, 1.0),
        "account_age": 0.0 if age is None else max(0.0, 1.0 - max(age, 0.0) / NEW_ACCOUNT_DAYS),
        "complaints": min(inputs.past_complaints / COMPLAINTS_SCALE, 1.0),
        "negative": max(0.0, -inputs.valence),
        "urgency": min(max(inputs.urgency, 0.0), 1.0),
        "frustration": float(inputs.frustration_rising),
        "vip": float(inputs.vip),
        "channel": CHANNEL_EXPOSURE.get(str(inputs.channel), 0.0),
    }
    shown = {
        "money": ("money at stake", f"${inputs.money:,.2f}" if inputs.money else "none"),
        "account_age": ("account age", "unknown" if age is None else f"{age:.0f} days"),
        "complaints": ("past complaints", str(inputs.past_complaints)),
        "negative": ("negative sentiment", f"valence {inputs.valence:+.2f}"),
        "urgency": ("urgency", f"{inputs.urgency:.2f}"),
        "frustration": ("frustration rising", "yes" if inputs.frustration_rising else "no"),
        "vip": ("VIP customer", "yes" if inputs.vip else "no"),
        "channel": ("channel", str(inputs.channel)),
    }
    factors = [RiskFactor(key, shown[key][0], shown[key][1], round(WEIGHTS[key] * scaled[key], 4)) for key in WEIGHTS]
    score = min(1.0, max(0.0, sum(f.contribution for f in factors)))
    return RiskScore(round(score, 4), factors)


def is_complaint(ticket: Ticket) -> bool:
    """A ticket that counts as a complaint: negative, or escalated."""
    return (
        ticket.sentiment_label == "negative"
        or ticket.route == Route.ESCALATE
        or ticket.status == TicketStatus.ESCALATED
    )


def complaints_by_customer(session: Session, customer_ids: set[int]) -> dict[int, int]:
    """How many negative or escalated tickets each customer has (all their tickets)."""
    query = (
        select(Ticket.customer_id, func.count())
        .where(col(Ticket.customer_id).in_(customer_ids))
        .where(
            or_(
                col(Ticket.sentiment_label) == "negative",
                col(Ticket.route) == Route.ESCALATE,
                col(Ticket.status) == TicketStatus.ESCALATED,
            )
        )
        .group_by(col(Ticket.customer_id))
    )
    return {customer_id: int(count) for customer_id, count in session.exec(query)}


def inputs_for(
    ticket: Ticket,
    customer: Customer,
    text: str,
    *,
    rising: bool,
    complaints: int,
    now: datetime,
    account_opened: datetime | None = None,
) -> RiskInputs:
    """Risk inputs of a stored, triaged ticket; `complaints` counts the customer's tickets, this one included.

    `account_opened` comes from the store's account record; without one the account age is unknown (the customer's
    first contact with the desk says nothing about how old their account is)."""
    age = None if account_opened is None else max(0.0, (now - account_opened).total_seconds() / 86400)
    return RiskInputs(
        money=money_at_stake(text),
        account_age_days=age,
        past_complaints=max(0, complaints - int(is_complaint(ticket))),
        valence=ticket.valence or 0.0,
        urgency=ticket.urgency or 0.0,
        frustration_rising=rising,
        vip=customer.vip,
        channel=ticket.channel,
    )
