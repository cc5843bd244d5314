"""The JSON settings file: settings changed in the UI, kept in the data dir, applied over env vars at start-up."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine as SAEngine

from engine.config import Settings
from engine.privacy import audit
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
    "surveys",  # when and how surveys go out (engine.survey_links)
    "sla",  # SLA policies and business hours (engine.sla)
}


def load_overrides(data_dir: Path) -> dict[str, Any]:
    """The saved overrides; an unreadable file is ignored with a warning, never fatal."""
    path = data_dir / FILE_NAME
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    return {k: v for k, v in values.items() if k in EDITABLE} if isinstance(values, dict) else {}


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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / FILE_NAME).write_text(json.dumps(values, indent=2), encoding="utf-8")
    return settings._with({key: value})


def save_setting(settings: Settings, db: SAEngine, key: str, value: Any, *, actor: str) -> Settings:
    """Save a setting for this and later runs, audit who changed it from what to what; returns the new settings."""
    old = getattr(settings, key)
    changed = save_override(settings, key, value)
    with session_scope(db) as session:
        audit.append(
            session,
            actor=actor,
            action="setting_changed",
            subject=f"setting:{key}",
            details={"from": str(old), "to": str(value)},
        )
    return changed
