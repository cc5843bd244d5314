"""The JSON settings file: settings changed in the UI, kept in the data dir, applied over env vars at start-up.

Secrets (webhook secrets, the SMTP password, the store's OAuth client) never go into settings.json: they are kept
encrypted with the other keys (engine.privacy.secret_store); plaintext ones an older version wrote there are moved
on load.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine as SAEngine

from engine.config import Settings
from engine.privacy import audit
from engine.privacy.secret_store import SECRET_FIELDS, SECRET_SETTINGS, load_secrets, merge, save_secrets, split
from engine.store.db import session_scope

log = logging.getLogger(__name__)

FILE_NAME = "settings.json"
EDITABLE = {
    "gguf_path",
    "review_threshold",
    "auto_resolve_threshold",
    "retrieval_k",
    "draft_max_tokens",
    "smtp",  # the outbound channels (engine.outbox.channels)
    "webhook_callbacks",
    "webhook_secrets",
    "fcr_reopen_days",  # KPIs (engine.kpi.KpiParams)
    "agent_hourly_cost",
    "ai_opt_in_default",  # consent
    "surveys",  # when and how surveys go out (engine.surveys)
    "store_client_id",  # the store API's OAuth client credentials
    "store_client_secret",
    "sla",  # SLA policies and business hours (engine.sla)
}


def load_overrides(data_dir: Path) -> dict[str, Any]:
    """The saved overrides with the stored secrets; an unreadable settings file is ignored with a warning."""
    path = data_dir / FILE_NAME
    values: Any = {}
    if path.is_file():
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("ignoring unreadable %s: %s", path, exc)
    plain = {k: v for k, v in values.items() if k in EDITABLE} if isinstance(values, dict) else {}
    plain, found = split(plain)
    secrets = load_secrets(data_dir)
    if found:  # written in plaintext by an older version: moved to the secrets file, then out of settings.json
        save_secrets(data_dir, {**found, **secrets})
        _write(data_dir, plain)
        log.warning("moved %d plaintext secrets from %s into the encrypted secrets file", len(found), path)
        secrets = {**found, **secrets}
    return merge(plain, secrets)


def _write(data_dir: Path, values: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / FILE_NAME).write_text(json.dumps(values, indent=2), encoding="utf-8")


def apply_overrides(settings: Settings) -> Settings:
    """Settings with the saved overrides applied."""
    overrides = load_overrides(settings.data_dir)
    return settings._with(overrides) if overrides else settings


def save_override(settings: Settings, key: str, value: Any) -> Settings:
    """Persist one editable setting and return the updated settings."""
    if key not in EDITABLE:
        raise KeyError(f"{key} cannot be changed from the UI")
    values = load_overrides(settings.data_dir)
    values[key] = value
    plain, secrets = split(values)
    _write(settings.data_dir, plain)
    if secrets != load_secrets(settings.data_dir):
        save_secrets(settings.data_dir, secrets)
    return settings._with({key: value})


def is_secret(key: str) -> bool:
    """True for a setting that is (or holds) a secret: the audit log and the screens never show its value."""
    return key in SECRET_SETTINGS or key in SECRET_FIELDS


def save_setting(settings: Settings, db: SAEngine, key: str, value: Any, *, actor: str) -> Settings:
    """Save a setting for this and later runs, audit who changed it from what to what; returns the new settings."""
    old = getattr(settings, key)
    changed = save_override(settings, key, value)
    details = {"changed": True} if is_secret(key) else {"from": str(old), "to": str(value)}
    with session_scope(db) as session:
        audit.append(session, actor=actor, action="setting_changed", subject=f"setting:{key}", details=details)
    return changed
