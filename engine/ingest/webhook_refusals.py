"""Refused webhook requests kept small: throttled per client address, counted instead of stored, within a cap.

Anyone can send a request without the secret. Such refusals (unknown source, bad or expired signature, replay,
oversized body) keep one dead letter per client address with a short preview of the latest request and a count,
not every body. More than `webhook_refusals_per_minute` refusals a minute from one address get 429 and nothing is
written. The dead-letter table holds at most `dead_letter_max_rows` rows: past that, refusals are only counted on
the address's existing letter, and the Inbox page says the table is full. Signed traffic is never throttled.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from engine.config import Settings
from engine.ingest.dead_letter_store import pack_raw, record_dead_letter, source_name
from engine.store.models import DeadLetter, utcnow

DEFAULT_REFUSALS_PER_MINUTE = 60
DEFAULT_MAX_DEAD_LETTERS = 10_000
UNAUTHENTICATED_PREVIEW_BYTES = 256
THROTTLE_SECONDS = 60.0


def refusals_per_minute(settings: Settings) -> int:
    """How many refusals a minute one client address gets before 429 (`webhook_refusals_per_minute`)."""
    return int(settings.extra.get("webhook_refusals_per_minute", DEFAULT_REFUSALS_PER_MINUTE))


def dead_letter_cap(settings: Settings) -> int:
    """The most rows the dead-letter table may hold (`dead_letter_max_rows`)."""
    return int(settings.extra.get("dead_letter_max_rows", DEFAULT_MAX_DEAD_LETTERS))


@dataclass(frozen=True)
class Capacity:
    """How full the dead-letter table is."""

    rows: int
    cap: int

    @property
    def full(self) -> bool:
        """True when no new dead letter fits."""
        return self.rows >= self.cap


def capacity(session: Session, settings: Settings) -> Capacity:
    """Rows in the dead-letter table against its cap."""
    return Capacity(int(session.exec(select(func.count()).select_from(DeadLetter)).one()), dead_letter_cap(settings))


class RefusalThrottle:
    """Refusals per client address in the last minute; past the limit, an address is told to wait."""

    def __init__(self, limit: int, window: float = THROTTLE_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, address: str, now: float | None = None) -> float:
        """Count one refusal from `address`; 0 if it may be recorded, else the seconds until it may again."""
        at = time.monotonic() if now is None else now
        with self._lock:
            times = self._times.setdefault(address, deque())
            while times and times[0] <= at - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return times[0] + self.window - at
            times.append(at)
            if len(self._times) > 10_000:  # forget quiet addresses so the map stays small
                self._times = {a: t for a, t in self._times.items() if t and t[-1] > at - self.window}
            return 0.0


def record_unauthenticated(
    session: Session, settings: Settings, *, kind: str, address: str, raw: bytes, error: str
) -> int | None:
    """Count a refusal on the address's open dead letter, keeping `raw` (a preview of the latest); its id or None.

    A new letter is only made when the table is below its cap.
    """
    source = source_name(kind, f"refused@{address}")
    query = select(DeadLetter).where(DeadLetter.source == source, col(DeadLetter.resolved).is_(False))
    letter = session.exec(query.order_by(col(DeadLetter.id).desc())).first()
    if letter is None:
        if capacity(session, settings).full:
            return None
        return record_dead_letter(session, source=source, raw=raw, error=error).id
    letter.received += 1
    letter.raw = pack_raw(raw)
    letter.error = error
    letter.last_received_at = utcnow()
    session.add(letter)
    session.flush()
    return letter.id


def record_authenticated(session: Session, settings: Settings, *, source: str, raw: bytes, error: str) -> int | None:
    """Keep a signed request that could not be read whole (it can be retried); None when the table is full."""
    if capacity(session, settings).full:
        return None
    return record_dead_letter(session, source=source, raw=raw, error=error, unique=True).id
