"""The demo webhook source: on first start in demo mode, a source named "demo" with a generated secret.

The secret is kept owner-only in the data dir (next to the encryption keys), so it stays the same across restarts;
admins see it, with a ready-to-run curl command, in Settings. A `demo` entry under `[webhook_secrets]` wins.
"""

from __future__ import annotations

import logging
import os
import secrets
import shlex
from pathlib import Path

from engine.config import Settings

log = logging.getLogger(__name__)

DEMO_SOURCE = "demo"
SECRET_FILE = "webhook_demo_secret"
EXAMPLE_BODY = (
    '{"channel": "chat", "external_id": "curl-1", "customer_handle": "@amelia", '
    '"text": "My order has not arrived yet."}'
)


def with_demo_source(settings: Settings) -> Settings:
    """Settings whose webhook secrets include the demo source (demo mode only; created on first start)."""
    if not settings.demo:
        return settings
    configured = dict(settings.extra.get("webhook_secrets") or {})
    if DEMO_SOURCE in configured:
        return settings
    configured[DEMO_SOURCE] = _load_or_create_secret(settings.data_dir)
    return settings._with({"webhook_secrets": configured})


def demo_source_secret(settings: Settings) -> str | None:
    """The demo source's secret, if this desk has one."""
    secret = (settings.extra.get("webhook_secrets") or {}).get(DEMO_SOURCE)
    return str(secret) if settings.demo and secret else None


def curl_example(url: str, source: str, secret: str) -> str:
    """A shell recipe that signs one message and posts it to the webhook (the README shows the same one)."""
    return f"""CAREDESK_URL={shlex.quote(url)}
SOURCE={shlex.quote(source)}
SECRET={shlex.quote(secret)}
BODY={shlex.quote(EXAMPLE_BODY)}
TS=$(date +%s)
SIG=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
curl -sS "$CAREDESK_URL/api/v1/messages" -H 'Content-Type: application/json' \\
  -H "X-CareDesk-Source: $SOURCE" -H "X-CareDesk-Timestamp: $TS" -H "X-CareDesk-Signature: sha256=$SIG" \\
  --data-raw "$BODY\""""


def _load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / SECRET_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret)
    log.info("created the demo webhook source %r; admins see its secret in Settings", DEMO_SOURCE)
    return secret
