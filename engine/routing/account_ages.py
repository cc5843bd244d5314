"""When each customer's account was opened, from the store's account record (the demo store or a team's API).

Looked up once per e-mail address and kept. A customer the store has no account for, or without an e-mail, has no
known account age. When the store does not answer, lookups pause for `retry_after` seconds so routing never waits
on a store that is down; those tickets are scored with the account age unknown.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from engine.routing.actions.base import ACCOUNTS_READ
from engine.routing.actions.client import StoreClient, StoreError, StoreNotFound

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 60.0


class AccountAges:
    """The opening date of each customer's store account, looked up on first need and cached."""

    def __init__(self, client: StoreClient, *, retry_after: float = RETRY_AFTER_SECONDS) -> None:
        self.client = client
        self.retry_after = retry_after
        self._opened: dict[str, datetime | None] = {}
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def opened(self, email: str | None) -> datetime | None:
        """When the store account with this e-mail was opened; None when there is none or the store cannot say."""
        key = (email or "").strip().lower()
        if not key:
            return None
        with self._lock:
            if key in self._opened:
                return self._opened[key]
            if time.monotonic() < self._paused_until:
                return None
        try:
            record = self.client.get("/accounts", params={"email": key}, scope=ACCOUNTS_READ)
        except StoreNotFound:
            record = None  # the store has no account for this customer
        except StoreError as exc:
            log.warning("account age unknown for now, the store did not answer: %s", exc)
            with self._lock:
                self._paused_until = time.monotonic() + self.retry_after
            return None
        opened = _moment(record.get("created_at") if isinstance(record, dict) else None)
        with self._lock:
            self._opened[key] = opened
        return opened


def _moment(value: object) -> datetime | None:
    """An ISO timestamp as an aware UTC datetime; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
