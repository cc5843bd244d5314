"""What the settings and admin screens ask of the engine: settings, the drafter's model, the audit log."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from engine.components import load_drafter
from engine.demo import accept_client
from engine.drafting import DrafterUnavailable
from engine.feedback.rollback import rollback_intent
from engine.privacy import audit
from engine.runtime import Engine, State
from engine.server_paths import PathNotAllowed, inside
from engine.settings_file import save_setting
from engine.sla import SlaSettings
from engine.store.audit_models import AuditEntry


def change_setting(engine: Engine, key: str, value: Any, *, actor: str) -> None:
    """Save a setting for this and later runs (audited) and use it from now on."""
    engine.settings = save_setting(engine.settings, engine.db, key, value, actor=actor)


def save_sla(engine: Engine, table: dict[str, Any], *, actor: str) -> SlaSettings:
    """Check an `[sla]` table (a ValueError says what is wrong) and save it, audited; new tickets get its dues."""
    parsed = SlaSettings.parse(table)
    change_setting(engine, "sla", parsed.table(), actor=actor)
    return parsed


def save_store_client(engine: Engine, client_id: str, client_secret: str, *, actor: str) -> list[str]:
    """Save the desk's OAuth client at the store (a blank field keeps its value; audited without the values, kept
    with the other secrets); the in-process demo store accepts the new credentials at once. The settings changed."""
    changed = []
    for key, value in (("store_client_id", client_id.strip()), ("store_client_secret", client_secret.strip())):
        if value and value != getattr(engine.settings, key):
            change_setting(engine, key, value, actor=actor)
            changed.append(key)
    if changed and not engine.settings.store_api_url.strip():
        accept_client(engine.db, engine.settings.store_client_id, engine.settings.store_client_secret)
    return changed


def switch_drafter(engine: Engine, path: str, *, actor: str) -> str:
    """Load the GGUF at `path` (empty: the bundled model; else a file in the models folder) and make it the drafter;
    a file that fails or lies elsewhere keeps the current drafter."""
    try:
        candidate = str(inside(path.strip(), [engine.settings.gguf_dir], what="the GGUF file")) if path.strip() else ""
    except PathNotAllowed as exc:
        raise DrafterUnavailable(str(exc)) from exc
    trial = engine.settings._with({"gguf_path": candidate})
    drafter, ok, detail = load_drafter(trial, engine.services.embedder if engine.services else None)
    if not ok:
        raise DrafterUnavailable(detail.split(";")[0])
    change_setting(engine, "gguf_path", candidate, actor=actor)
    if engine.services is not None:
        engine.services.drafter = drafter
    engine.set_status("drafter", State.READY, detail)
    return detail


def audit_log(engine: Engine, limit: int) -> list[AuditEntry]:
    """The newest audit rows, newest first."""
    with engine.session() as session:
        return list(session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)))


def verify_audit_chain(engine: Engine) -> audit.VerifyResult:
    """Check the whole hash chain of the audit log."""
    with engine.session() as session:
        return audit.verify(session)


def rollback_intent_model(engine: Engine, *, version: str | None, actor: str) -> str:
    """Roll the intent model back (to `version`, or the one active before), audited; the running app uses it at once."""
    target, model = rollback_intent(engine.settings.models_dir, engine.transaction, version=version, actor=actor)
    if engine.services is not None and engine.services.intent is not None:
        engine.services.intent, engine.services.intent_version = model, target
    return target
