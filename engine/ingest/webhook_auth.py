"""Webhook signatures: HMAC-SHA256 of `<timestamp>.<body>`, valid for five minutes, and each one accepted once.

A sender sends `X-CareDesk-Timestamp: <Unix time in seconds>` and
`X-CareDesk-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the source's secret>`. A request older
(or newer) than the window is refused as expired, and a signature already accepted is refused as a replay, so a
captured request cannot be sent again. A sender that retries signs the retry again with the current time.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import OrderedDict

from engine.config import Settings
from engine.ingest.dead_letter_store import IngestError

SOURCE_HEADER = "X-CareDesk-Source"
SIGNATURE_HEADER = "X-CareDesk-Signature"
TIMESTAMP_HEADER = "X-CareDesk-Timestamp"
WINDOW_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """The signature header value for `body` sent at `timestamp`: `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(source: str, secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The source, timestamp and signature headers a sender puts on `body` (timestamp: now, in seconds)."""
    timestamp = f"{time.time() if now is None else now:.3f}".rstrip("0").rstrip(".")
    return {SOURCE_HEADER: source, TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, body, timestamp)}


def source_secret(settings: Settings, source: str) -> str | None:
    """The shared secret of a webhook source (`webhook_secrets` in the settings), or None."""
    secret = settings.extra.get("webhook_secrets", {}).get(source) if source else None
    return str(secret) if secret else None


def verify_signature(
    settings: Settings, source: str, signature: str, timestamp: str, body: bytes, *, now: float | None
) -> None:
    """Raise IngestError unless `signature` is the source's HMAC of `<timestamp>.<body>`.

    With `now`, the timestamp must also lie within WINDOW_SECONDS of it; None skips that (a dead letter retried
    by a person, whose signature was checked when it arrived).
    """
    if ":" in source or "@" in source:
        raise IngestError(f"source names cannot contain ':' or '@' (got {source!r})")
    secret = source_secret(settings, source)
    if not secret:
        raise IngestError(f"unknown source {source!r}: set a secret for it under webhook_secrets")
    if not timestamp.strip():
        raise IngestError(
            f"missing {TIMESTAMP_HEADER}: sign '<Unix time>.<body>' and send the time in that header "
            "(a signature of the body alone is the old scheme and is no longer accepted)"
        )
    try:
        sent_at = float(timestamp)
    except ValueError:
        sent_at = math.nan
    if not math.isfinite(sent_at):
        raise IngestError(f"{TIMESTAMP_HEADER} must be Unix time in seconds (got {timestamp[:40]!r})")
    if now is not None and abs(now - sent_at) > WINDOW_SECONDS:
        raise IngestError(
            f"expired request: signed {now - sent_at:+.0f} s from now, outside the {WINDOW_SECONDS // 60}-minute window"
        )
    if not hmac.compare_digest(sign(secret, body, timestamp.strip()), signature.strip()):
        raise IngestError(f"bad signature for source {source!r}")


class ReplayGuard:
    """Signatures accepted within the window; one seen again is a replay."""

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self._seen: OrderedDict[str, float] = OrderedDict()  # signature -> when it stops mattering, oldest first
        self._lock = threading.Lock()

    def check(self, signature: str, now: float) -> None:
        """Raise IngestError if `signature` was already accepted."""
        with self._lock:
            self._forget_expired(now)
            if signature.strip() in self._seen:
                raise IngestError("replayed request: this signature was already accepted; sign each request anew")

    def remember(self, signature: str, now: float) -> None:
        """Note an accepted signature until its timestamp can no longer pass the window."""
        with self._lock:
            self._seen[signature.strip()] = now + 2 * self.window
            self._forget_expired(now)

    def _forget_expired(self, now: float) -> None:
        while self._seen:
            signature, until = next(iter(self._seen.items()))
            if until > now:
                break
            del self._seen[signature]
