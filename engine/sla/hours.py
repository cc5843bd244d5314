"""Business hours in a timezone, and the moment a number of business minutes after a start ends.

Time is counted in real elapsed minutes inside the open hours of the business days, in the business's own
timezone: a day whose clocks change (DST) is an hour shorter or longer, as it is for the people working it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3700  # a target of ten years of business time is a typo; stop looking for its end there


@dataclass(frozen=True)
class BusinessHours:
    """Open from `opens` to `closes` (minutes after local midnight; 1440 = midnight) on `days` (0 = Monday)."""

    timezone: str = "UTC"
    days: frozenset[int] = frozenset(range(5))
    opens: int = 9 * 60
    closes: int = 17 * 60

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r} (use a name such as Europe/Berlin)") from exc
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("business hours need at least one business day")
        if not 0 <= self.opens < self.closes <= 24 * 60:
            raise ValueError("business hours must open before they close, within one day")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The open hours of a local day as UTC instants, or None on a day off."""
        if day.weekday() not in self.days:
            return None
        return self._at(day, self.opens), self._at(day, self.closes)

    def _at(self, day: date, minutes: int) -> datetime:
        if minutes == 24 * 60:
            return self._at(day + timedelta(days=1), 0)
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def describe(self) -> str:
        """E.g. 'mon-fri 09:00-17:00 Europe/Berlin'."""
        return f"{days_text(self.days)} {clock_text(self.opens)}-{clock_text(self.closes)} {self.timezone}"


def add_business_minutes(start: datetime, minutes: float, hours: BusinessHours) -> datetime:
    """The UTC moment `minutes` of business time after `start` (0: `start`, or the next opening if closed)."""
    if minutes < 0:
        raise ValueError("a target cannot be negative")
    moment = as_utc(start)
    left = timedelta(minutes=minutes)
    day = moment.astimezone(hours.zone).date()
    for _ in range(MAX_DAYS):
        window = hours.window(day)
        if window is not None:
            opens, closes = window
            moment = max(moment, opens)
            if moment < closes:
                if left <= closes - moment:
                    return moment + left
                left -= closes - moment
                moment = closes
        day += timedelta(days=1)
    raise ValueError(f"a target of {minutes:g} business minutes ends more than {MAX_DAYS} days away")


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive ones are taken as UTC, as the store keeps them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_clock(text: str) -> int:
    """'09:30' -> 570 minutes after midnight; '24:00' is the end of the day."""
    try:
        hour, minute = (int(part) for part in str(text).strip().split(":"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a time of day like 09:00") from exc
    if not (0 <= hour <= 24 and 0 <= minute < 60) or (hour == 24 and minute):
        raise ValueError(f"{text!r} is not a time of day like 09:00")
    return hour * 60 + minute


def clock_text(minutes: int) -> str:
    """570 -> '09:30'."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_days(value: str | list[str] | tuple[str, ...]) -> frozenset[int]:
    """'mon-fri', 'mon,wed,fri' or a list of day names -> weekday numbers (0 = Monday)."""
    parts = value if isinstance(value, list | tuple) else str(value).replace(" ", "").split(",")
    days: set[int] = set()
    for part in (str(p).strip().lower() for p in parts if str(p).strip()):
        first, _, last = part.partition("-")
        if first[:3] not in DAY_NAMES or (last and last[:3] not in DAY_NAMES):
            raise ValueError(f"{part!r} is not a day or range of days like mon-fri")
        start, end = DAY_NAMES.index(first[:3]), DAY_NAMES.index((last or first)[:3])
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)])
    if not days:
        raise ValueError("name at least one business day, e.g. mon-fri")
    return frozenset(days)


def days_text(days: frozenset[int]) -> str:
    """{0, 1, 2, 3, 4} -> 'mon-fri'; {0, 1, 2, 6} -> 'mon-wed,sun'."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}" for r in runs)
