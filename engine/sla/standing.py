"""Where an open ticket stands against its SLA right now: the due that matters, the time left, a colour, and the
queue priority that rises as the ticket waits (recomputed whenever the queue is read, never fixed at triage)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.sla.hours import as_utc
from engine.store.models import Ticket, TicketStatus

AMBER_SHARE = 0.25  # amber once less than this share of the target's time is left
WAIT_WEIGHT, WAIT_HOURS = 0.1, 48.0  # a ticket waiting WAIT_HOURS gains WAIT_WEIGHT
SLA_WEIGHT = 0.3  # a ticket at its due gains SLA_WEIGHT (linearly on the way), one past it a little more


@dataclass(frozen=True)
class Standing:
    """One ticket against its SLA at a moment."""

    what: str  # "first response" or "resolution"
    due: datetime
    seconds_left: float  # negative once overdue
    colour: str  # green, amber, red (overdue or already breached), grey (closed and met)
    text: str  # e.g. "1 h 20 m to first response", "breached 2 h ago", "met"


def standing(ticket: Ticket, now: datetime) -> Standing | None:
    """The ticket's SLA standing now, or None when it has no SLA (older tickets)."""
    moment = as_utc(now)
    if ticket.status == TicketStatus.RESOLVED:
        due = ticket.resolution_due or ticket.first_response_due
        if due is None:
            return None
        missed = bool(ticket.first_response_breached or ticket.resolution_breached)
        return Standing("resolution", as_utc(due), 0.0, "red" if missed else "grey", "missed" if missed else "met")
    pending = _pending(ticket)
    if pending is None:
        return None
    what, due = pending
    left = (due - moment).total_seconds()
    window = max((due - as_utc(ticket.created_at)).total_seconds(), 1.0)
    if left < 0:
        return Standing(what, due, left, "red", f"breached {duration_text(-left)} ago")
    colour = "red" if ticket.first_response_breached else "amber" if left < AMBER_SHARE * window else "green"
    return Standing(what, due, left, colour, f"{duration_text(left)} to {what}")


def _pending(ticket: Ticket) -> tuple[str, datetime] | None:
    """The due an open ticket works towards: its first response until one went out (even when late), then resolution."""
    unanswered = ticket.first_response_breached is None or ticket.first_response_at is None
    if unanswered and ticket.first_response_due is not None:
        return "first response", as_utc(ticket.first_response_due)
    if ticket.resolution_due is not None:
        return "resolution", as_utc(ticket.resolution_due)
    return None


def live_priority(ticket: Ticket, now: datetime) -> float:
    """The ticket's triage priority plus what waiting adds: time since it arrived, and how close its due is."""
    moment = as_utc(now)
    created = as_utc(ticket.created_at)
    waited_hours = max(0.0, (moment - created).total_seconds() / 3600)
    score = ticket.priority + WAIT_WEIGHT * min(waited_hours / WAIT_HOURS, 1.0)
    pending = _pending(ticket)
    if ticket.status != TicketStatus.RESOLVED and pending is not None:
        window = max((pending[1] - created).total_seconds(), 1.0)
        used = (moment - created).total_seconds() / window
        score += SLA_WEIGHT * min(max(used, 0.0), 1.0) + (0.05 if used > 1 else 0.0)
    return round(score, 4)


def duration_text(seconds: float) -> str:
    """3900 -> '1 h 5 m'; 40 -> '40 s'; 200000 -> '2 d 7 h'."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} m" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
