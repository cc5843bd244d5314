"""SLA policies: per channel and priority, the business minutes to the first response and to resolution.

In caredesk.toml (or on the Settings page, kept in the data dir), the `[sla]` table:
- `timezone` ("UTC"), `days` ("mon-fri"), `open` ("09:00"), `close` ("17:00"; "24:00" is midnight): business hours;
- `alert_email`: where breach alerts go (through the outbox's SMTP server); empty: the header badge only;
- `[sla.targets.<channel>.<priority>]` with `first_response` and `resolution` in business minutes, e.g.
  `[sla.targets.chat.urgent]` `first_response = 5`. Channels: email, chat, sms, social, voice; priorities: urgent,
  high, normal. What the table leaves out keeps its default (DEFAULT_TARGETS).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.config import Settings
from engine.sla.hours import BusinessHours, add_business_minutes, clock_text, days_text, parse_clock, parse_days
from engine.store.models import Channel

log = logging.getLogger(__name__)

PRIORITIES = ("urgent", "high", "normal")
URGENT_AT = 0.6  # triage urgency from which a ticket is urgent (the queue marks it so)
HIGH_VALENCE = -0.3  # negative feeling from which a ticket is high priority
# (first response, resolution) in business minutes, per channel and priority
DEFAULT_TARGETS: dict[str, dict[str, tuple[float, float]]] = {
    "email": {"urgent": (60, 480), "high": (240, 960), "normal": (480, 1440)},
    "chat": {"urgent": (5, 120), "high": (15, 240), "normal": (30, 480)},
    "sms": {"urgent": (15, 240), "high": (30, 480), "normal": (60, 960)},
    "social": {"urgent": (15, 240), "high": (30, 480), "normal": (60, 960)},
    "voice": {"urgent": (30, 240), "high": (60, 480), "normal": (120, 960)},
}


@dataclass(frozen=True)
class Target:
    """Business minutes from a ticket's creation to its first response and to its resolution."""

    first_response: float
    resolution: float


@dataclass(frozen=True)
class Dues:
    """When one ticket's first response and resolution are due, and the policy that set them."""

    policy: str  # "<channel>/<priority>"
    first_response: datetime
    resolution: datetime


@dataclass(frozen=True)
class SlaSettings:
    """Business hours, the targets per channel and priority, and where breach alerts go."""

    hours: BusinessHours = field(default_factory=BusinessHours)
    targets: Mapping[tuple[str, str], Target] = field(default_factory=lambda: _targets({}))
    alert_email: str = ""

    @classmethod
    def of(cls, settings: Settings) -> SlaSettings:
        """The `[sla]` table of the settings with defaults; a ValueError says what is wrong with it."""
        return cls.parse(settings.sla)

    @classmethod
    def parse(cls, table: Mapping[str, Any]) -> SlaSettings:
        """An `[sla]` table (as in caredesk.toml) with defaults; a ValueError says what is wrong with it."""
        unknown = set(table) - {"timezone", "days", "open", "close", "alert_email", "targets"}
        if unknown:
            raise ValueError(f"unknown [sla] settings: {', '.join(sorted(unknown))}")
        hours = BusinessHours(
            timezone=str(table.get("timezone", "UTC")),
            days=parse_days(table.get("days", "mon-fri")),
            opens=parse_clock(table.get("open", "09:00")),
            closes=parse_clock(table.get("close", "17:00")),
        )
        alert = str(table.get("alert_email", "")).strip()
        if alert and "@" not in alert:
            raise ValueError(f"the alert address {alert!r} is not an e-mail address")
        return cls(hours, _targets(table.get("targets", {})), alert)

    @classmethod
    def lenient(cls, settings: Settings) -> SlaSettings:
        """As `of`, but a broken table gives the defaults (logged): a ticket never fails to arrive over it."""
        try:
            return cls.of(settings)
        except ValueError as exc:
            log.error("the [sla] settings are not valid (%s); using the default SLA policy", exc)
            return cls()

    def dues(self, channel: str, priority: str, created_at: datetime) -> Dues:
        """When a ticket of this channel and priority created then is due."""
        target = self.targets.get((channel, priority)) or self.targets[("email", priority)]
        return Dues(
            f"{channel}/{priority}",
            add_business_minutes(created_at, target.first_response, self.hours),
            add_business_minutes(created_at, target.resolution, self.hours),
        )

    def table(self) -> dict[str, Any]:
        """These settings as an `[sla]` table (what the Settings page saves)."""
        return {
            "timezone": self.hours.timezone,
            "days": days_text(self.hours.days),
            "open": clock_text(self.hours.opens),
            "close": clock_text(self.hours.closes),
            "alert_email": self.alert_email,
            "targets": {
                channel: {
                    priority: {"first_response": t.first_response, "resolution": t.resolution}
                    for (c, priority), t in self.targets.items()
                    if c == channel
                }
                for channel in DEFAULT_TARGETS
            },
        }


def priority_of(urgency: float | None, valence: float | None) -> str:
    """The SLA priority of a ticket from its triage: urgent, high (clearly unhappy) or normal."""
    if urgency is not None and urgency >= URGENT_AT:
        return "urgent"
    if valence is not None and valence <= HIGH_VALENCE:
        return "high"
    return "normal"


def _targets(given: Mapping[str, Any]) -> dict[tuple[str, str], Target]:
    if not isinstance(given, Mapping):
        raise ValueError("[sla.targets] must be a table of channels")
    channels = {c.value for c in Channel}
    targets = {(c, p): Target(*pair) for c, by_priority in DEFAULT_TARGETS.items() for p, pair in by_priority.items()}
    for channel, by_priority in given.items():
        if channel not in channels or not isinstance(by_priority, Mapping):
            raise ValueError(f"[sla.targets] names no channel {channel!r} (channels: {', '.join(sorted(channels))})")
        for priority, values in by_priority.items():
            if priority not in PRIORITIES or not isinstance(values, Mapping):
                raise ValueError(f"[sla.targets.{channel}] names no priority {priority!r} ({', '.join(PRIORITIES)})")
            old = targets[(channel, priority)]
            first = _minutes(values.get("first_response", old.first_response), f"{channel}/{priority} first response")
            resolution = _minutes(values.get("resolution", old.resolution), f"{channel}/{priority} resolution")
            if resolution < first:
                raise ValueError(f"{channel}/{priority}: resolution is due before the first response")
            targets[(channel, priority)] = Target(first, resolution)
    return targets


def _minutes(value: Any, what: str) -> float:
    try:
        minutes = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: {value!r} is not a number of minutes") from exc
    if not 0 <= minutes <= 525_600:
        raise ValueError(f"{what}: {minutes:g} minutes is outside 0 to 525,600 (a year)")
    return minutes
