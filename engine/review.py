"""The review flag: whether a ticket's intent is uncertain enough that a person should check it, and why in words.

The flag is about the intent only (the Settings page's "Flag tickets for review below this intent confidence"):
the message is unlike past tickets (the model answered "unknown"), the confidence is below the review threshold,
or the intent classifiers disagree. Who handles the ticket (auto-resolve, assist, escalate) is the route, a
separate fact the router stores.
"""

from __future__ import annotations

UNLIKE_PAST = "the message is unlike past tickets"
DISAGREE = "the intent classifiers disagree"


def percent(value: float, limit: float) -> str:
    """A confidence as a percentage; one decimal when the whole number would equal a limit it differs from."""
    text = f"{value:.0%}"
    return f"{value:.1%}" if text == f"{limit:.0%}" and value != limit else text


def review_reason(*, is_unknown: bool, confidence: float, heads_agree: bool, threshold: float) -> str:
    """Why the intent needs a person's check, in words; "" when it does not."""
    if is_unknown:
        return UNLIKE_PAST
    reasons = []
    if confidence < threshold:
        reasons.append(f"confidence {percent(confidence, threshold)} is below the {threshold:.0%} review threshold")
    if not heads_agree:
        reasons.append(DISAGREE)
    return "; ".join(reasons)
