"""Signed webhook requests: HMAC-SHA256 of `<timestamp>.<body>` with the source's secret, in CareDesk's headers.

The same scheme signs what CareDesk sends to a source's callback URL and what a source sends to the intake.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SOURCE_HEADER = "X-CareDesk-Source"
SIGNATURE_HEADER = "X-CareDesk-Signature"
TIMESTAMP_HEADER = "X-CareDesk-Timestamp"


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """The signature header value for `body` sent at `timestamp`: `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(source: str, secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The source, timestamp and signature headers a sender puts on `body` (timestamp: now, in seconds)."""
    timestamp = f"{time.time() if now is None else now:.3f}".rstrip("0").rstrip(".")
    return {SOURCE_HEADER: source, TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, body, timestamp)}
