"""HTTP client of the store backend (the demo store or a team's CRM / payment API): timeouts, retries, idempotency.

Every write carries an `Idempotency-Key` header; a retry after a timeout or a lost answer re-sends the same key, so
the backend applies the change once. Every call is reported to `on_call` (the runner writes it to the audit log).
Failures raise `StoreError` subclasses whose message is a note an agent can act on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TIMEOUT = 5.0
RETRIES = 2
BACKOFF_SECONDS = 0.3


class StoreError(RuntimeError):
    """The store could not do what was asked; the message is the note shown to the agent."""


class StoreUnavailable(StoreError):
    """The store did not answer (down, refused, timed out); a write may or may not have happened."""


class StoreGarbage(StoreError):
    """The store answered something that is not the JSON it should be."""


class StoreRefused(StoreError):
    """The store answered with a clear refusal (not found, not allowed)."""


@dataclass(frozen=True)
class Call:
    """One HTTP exchange with the store, as written to the audit log."""

    method: str
    path: str
    attempt: int
    status: int | None
    milliseconds: float
    error: str = ""
    idempotency_key: str = ""


class StoreClient:
    """Talks JSON to the store at `base_url`; `transport` lets tests plug in a fake network."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = RETRIES,
        backoff: float = BACKOFF_SECONDS,
        on_call: Callable[[Call], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.on_call = on_call
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON document (retried: reads are safe)."""
        return self._send("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any], *, key: str) -> Any:
        """POST a change with an idempotency key (retried with the same key)."""
        return self._send("POST", path, json=body, key=key)

    def _send(self, method: str, path: str, *, key: str = "", **kwargs: Any) -> Any:
        headers = {IDEMPOTENCY_HEADER: key} if key else {}
        last: StoreError | None = None
        for attempt in range(1, self.retries + 2):
            started = time.perf_counter()
            try:
                response = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.TimeoutException:
                last = StoreUnavailable(f"the store did not answer within {self._timeout():g} s")
                self._report(method, path, attempt, None, started, str(last), key)
            except httpx.HTTPError as exc:
                last = StoreUnavailable(f"the store at {self.base_url} is not reachable ({type(exc).__name__})")
                self._report(method, path, attempt, None, started, str(last), key)
            else:
                self._report(method, path, attempt, response.status_code, started, "", key)
                if response.status_code < 300:
                    return _json(response)
                if not _retryable(response.status_code):
                    raise StoreRefused(_detail(response))
                last = StoreUnavailable(f"the store answered {response.status_code}: {_detail(response)}")
            if attempt <= self.retries:
                time.sleep(self.backoff * attempt)
        assert last is not None
        raise last

    def _timeout(self) -> float:
        return float(self._http.timeout.read or 0.0)

    def _report(
        self, method: str, path: str, attempt: int, status: int | None, started: float, error: str, key: str
    ) -> None:
        call = Call(method, path, attempt, status, round((time.perf_counter() - started) * 1000, 1), error, key)
        if error:
            log.warning("store %s %s attempt %d: %s", method, path, attempt, error)
        if self.on_call is not None:
            self.on_call(call)


def _retryable(status: int) -> bool:
    """Server trouble, rate limits and 'same key still in progress' are worth a retry; other 4xx are answers."""
    return status >= 500 or status in (408, 409, 425, 429)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        kind = response.headers.get("content-type", "no content type")
        raise StoreGarbage(f"the store answered {kind} that is not JSON: {response.text[:80]!r}") from exc


def _detail(response: httpx.Response) -> str:
    """The store's own reason ({'detail': ...}) or the start of its answer."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:120] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return str(body)[:120]


def require(document: Any, *fields: str) -> dict[str, Any]:
    """`document` as a dict that has `fields`; StoreGarbage otherwise (a backend answering nonsense)."""
    if not isinstance(document, dict):
        raise StoreGarbage(f"the store answered {type(document).__name__} where an object was expected")
    missing = [name for name in fields if name not in document]
    if missing:
        raise StoreGarbage(f"the store's answer lacks {', '.join(missing)}")
    return document
