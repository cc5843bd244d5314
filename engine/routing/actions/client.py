"""HTTP client of the store backend (the demo store or a team's CRM / payment API): timeouts, retries, idempotency.

Every write carries an `Idempotency-Key` header; a retry after a timeout or a lost answer re-sends the same key, so
the backend applies the change once. Every call is reported to `on_call` (the runner writes it to the audit log).
Failures raise `StoreError` subclasses whose message is a note an agent can act on.

The desk authenticates with OAuth 2.0 client credentials: every call names the one scope it needs (e.g.
`orders:read`, `refunds:write`); the client fetches a short-lived bearer token for that scope from `/oauth/token`,
keeps it until shortly before it expires, and fetches a new one when the store answers 401.
"""

from __future__ import annotations

import logging
import threading
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
TOKEN_PATH = "/oauth/token"
TOKEN_MARGIN = 0.1  # a token is renewed when less than this share of its life is left


class StoreError(RuntimeError):
    """The store could not do what was asked; the message is the note shown to the agent."""


class StoreUnavailable(StoreError):
    """The store did not answer (down, refused, timed out); a write may or may not have happened."""


class StoreGarbage(StoreError):
    """The store answered something that is not the JSON it should be."""


class StoreRefused(StoreError):
    """The store answered with a clear refusal (not found, not allowed, not authorized)."""


class StoreNotFound(StoreRefused):
    """The store has no such thing (HTTP 404)."""


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


@dataclass(frozen=True)
class Credentials:
    """The desk's OAuth 2.0 client at the store."""

    client_id: str
    client_secret: str


class StoreClient:
    """Talks JSON to the store at `base_url`; `transport` lets tests plug in a fake network.

    `credentials` is asked before each token fetch (the Settings page can change them while the app runs); None,
    or empty ones, send no token."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = RETRIES,
        backoff: float = BACKOFF_SECONDS,
        on_call: Callable[[Call], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        credentials: Callable[[], Credentials | None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.on_call = on_call
        self.credentials = credentials
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)
        self._tokens: dict[tuple[Credentials, str], tuple[str, float]] = {}  # (client, scope) -> (token, renew at)
        self._token_lock = threading.Lock()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None, *, scope: str) -> Any:
        """GET a JSON document with a token for `scope` (retried: reads are safe)."""
        return self._send("GET", path, scope, params=params)

    def post(self, path: str, body: dict[str, Any], *, key: str, scope: str) -> Any:
        """POST a change with an idempotency key and a token for `scope` (retried with the same key)."""
        return self._send("POST", path, scope, json=body, key=key)

    def _authorized(self, method: str, path: str, scope: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
        """One request with a bearer token for `scope`; on 401 a fresh token is fetched and the request sent again."""
        token = self._token(scope)
        response = self._http.request(method, path, headers={**headers, **_bearer(token)}, **kwargs)
        if response.status_code == 401 and token:
            token = self._token(scope, renew=True)
            response = self._http.request(method, path, headers={**headers, **_bearer(token)}, **kwargs)
        return response

    def _token(self, scope: str, *, renew: bool = False) -> str:
        """A bearer token for `scope` ('' without credentials), fetched when none is kept or it is about to expire."""
        credentials = self.credentials() if self.credentials is not None else None
        if credentials is None or not credentials.client_id:
            return ""
        key = (credentials, scope)  # new credentials fetch new tokens
        with self._token_lock:
            kept = self._tokens.get(key)
            if kept is not None and not renew and time.monotonic() < kept[1]:
                return kept[0]
            form = {"grant_type": "client_credentials", "scope": scope}
            auth = (credentials.client_id, credentials.client_secret)
            started = time.perf_counter()
            try:
                response = self._http.post(TOKEN_PATH, data=form, auth=auth)
            except httpx.HTTPError as exc:
                error = f"the store's token endpoint is not reachable ({type(exc).__name__})"
                self._report("POST", TOKEN_PATH, 1, None, started, error, "")
                raise StoreUnavailable(error) from exc
            self._report("POST", TOKEN_PATH, 1, response.status_code, started, "", "")
            if response.status_code >= 300:
                raise StoreRefused(f"the store refused the desk's client credentials for {scope}: {_detail(response)}")
            granted = require(_json(response), "access_token", "expires_in")
            life = float(granted["expires_in"])
            self._tokens[key] = (str(granted["access_token"]), time.monotonic() + life * (1 - TOKEN_MARGIN))
            return str(granted["access_token"])

    def _send(self, method: str, path: str, scope: str, *, key: str = "", **kwargs: Any) -> Any:
        headers = {IDEMPOTENCY_HEADER: key} if key else {}
        last: StoreError | None = None
        for attempt in range(1, self.retries + 2):
            started = time.perf_counter()
            try:
                response = self._authorized(method, path, scope, headers, **kwargs)
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
                if response.status_code == 404:
                    raise StoreNotFound(_detail(response))
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


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


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
