"""Per-ticket SLA: policies per channel and priority in business hours, each ticket's dues and verdicts."""

from engine.sla.clocks import (
    breached,
    first_reply_sent,
    record_resolution,
    reopen_clock,
    start_clock,
    start_clocks,
    sweep,
)
from engine.sla.hours import BusinessHours, add_business_minutes
from engine.sla.policy import DEFAULT_TARGETS, PRIORITIES, SlaSettings, Target, priority_of
from engine.sla.standing import Standing, duration_text, live_priority, standing

__all__ = [
    "DEFAULT_TARGETS",
    "PRIORITIES",
    "BusinessHours",
    "SlaSettings",
    "Standing",
    "Target",
    "add_business_minutes",
    "breached",
    "duration_text",
    "first_reply_sent",
    "live_priority",
    "priority_of",
    "record_resolution",
    "reopen_clock",
    "standing",
    "start_clock",
    "start_clocks",
    "sweep",
]
