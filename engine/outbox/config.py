"""The outbox's settings, typed: SMTP server, callback URLs and secrets per source, retries and limits.

In caredesk.toml (or set on the Settings page, kept in the data dir):
- `[smtp]`: host, port, user, password, from, ssl, starttls, timeout, domain (see engine.ingest.email_channel).
- `[webhook_callbacks]`: source name -> URL replies are POSTed to; `[webhook_secrets]`: source name -> secret.
- `[outbox]`: max_attempts (10), backoff_seconds (30), backoff_max_seconds (1800), callback_timeout (10),
  senders (4 deliveries at once), poll_seconds (0.5).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from engine.config import Settings

# characters one reply may have per channel; longer replies are refused before sending (SMS: 10 segments)
MAX_CHARS = {"sms": 1600}


@dataclass(frozen=True)
class OutboxSettings:
    """Retries and limits of the outbox."""

    max_attempts: int = 10
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 1800.0
    callback_timeout: float = 10.0
    senders: int = 4
    poll_seconds: float = 0.5

    @classmethod
    def of(cls, settings: Settings) -> OutboxSettings:
        """The `[outbox]` table of the settings, with defaults for what it leaves out."""
        given = dict(settings.extra.get("outbox") or {})
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown [outbox] settings: {', '.join(sorted(unknown))}")
        defaults = cls()
        typed: dict[str, Any] = {name: type(getattr(defaults, name))(value) for name, value in given.items()}
        return cls(**typed)

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        return float(min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(0, attempts - 1)))


def callback_url(settings: Settings, source: str) -> str:
    """The URL a source's replies are POSTed to ('' when none is set)."""
    return str((settings.extra.get("webhook_callbacks") or {}).get(source) or "")


def too_long(channel: str, text: str) -> str | None:
    """Why `text` cannot go out on `channel` (over its size limit), or None."""
    limit = MAX_CHARS.get(channel)
    if limit is not None and len(text) > limit:
        return f"too long for {channel.upper()}: {len(text):,} characters, the limit is {limit:,}; shorten the reply"
    return None
