"""The demo store's OAuth 2.0 side: client credentials in, short-lived bearer tokens with one scope out.

A token is self-contained and signed with the store's own key (HMAC-SHA256): `<payload>.<signature>`, the payload
naming the client, the one scope and the expiry. A call is let through only with an unexpired token of the scope
its route needs: no or a bad token is 401, a token of another scope 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

TOKEN_SECONDS = 300
SCOPES = (
    "accounts:read",
    "accounts:write",
    "orders:read",
    "orders:write",
    "refunds:write",
    "subscriptions:read",
    "subscriptions:write",
)


class Unauthorized(Exception):
    """A call or a token request the store refuses; `status` is the HTTP status, `error` the OAuth error code."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error


@dataclass(frozen=True)
class Grant:
    """A token the store issued."""

    access_token: str
    scope: str
    expires_in: int


def secret_hash(secret: str) -> str:
    """How the store keeps a client secret (never the secret itself)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue(key: bytes, client_id: str, scope: str, *, seconds: int = TOKEN_SECONDS, now: float | None = None) -> Grant:
    """A signed token for one scope, valid for `seconds`."""
    payload = {"sub": client_id, "scope": scope, "exp": int((now or time.time()) + seconds)}
    body = _b64(json.dumps(payload, sort_keys=True).encode("utf-8"))
    return Grant(f"{body}.{_sign(key, body)}", scope, seconds)


def authorize(key: bytes, authorization: str | None, scope: str, *, now: float | None = None) -> str:
    """The client id of a valid bearer token for `scope`; Unauthorized (401 or 403) otherwise."""
    kind, _, token = (authorization or "").partition(" ")
    if kind.lower() != "bearer" or not token:
        raise Unauthorized(401, "invalid_request", f"a bearer token with the scope {scope} is required")
    body, _, signature = token.strip().partition(".")
    if not hmac.compare_digest(signature, _sign(key, body)):
        raise Unauthorized(401, "invalid_token", "the token is not one this store issued")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if payload["exp"] <= (now or time.time()):
        raise Unauthorized(401, "invalid_token", "the token has expired")
    if payload["scope"] != scope:
        raise Unauthorized(403, "insufficient_scope", f"this call needs the scope {scope}, not {payload['scope']}")
    return str(payload["sub"])


def _sign(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
