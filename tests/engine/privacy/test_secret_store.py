"""Secrets (webhook secrets, SMTP password, the store's OAuth client) live encrypted next to the keys, never in
settings.json; plaintext ones an older version wrote there are moved on load; the audit log never holds them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from sqlmodel import select

from engine.app import build_engine
from engine.config import Settings
from engine.outbox import Channels, current_channels, save_channels
from engine.privacy.secret_store import SECRETS_FILE, masked
from engine.settings_file import FILE_NAME, apply_overrides, save_setting
from engine.store.audit_models import AuditEntry

HOOK = "hook-secret-7741-zq"
PASSWORD = "smtp-pass-5512-zq"
CLIENT = "client-secret-9932-zq"


def _bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and p.suffix != ".db")


def test_secrets_saved_from_the_ui_are_encrypted_next_to_the_keys(settings: Settings) -> None:
    engine = build_engine(replace(settings, demo=False))
    changed = save_channels(
        engine,
        Channels(
            smtp={"host": "mail.local", "password": PASSWORD}, callbacks={"chat": "http://x"}, secrets={"chat": HOOK}
        ),
        actor="admin",
    )
    assert "webhook_secrets.chat" in changed
    engine.settings = save_setting(engine.settings, engine.db, "store_client_secret", CLIENT, actor="admin")
    data_dir = settings.data_dir
    raw = _bytes(data_dir)
    assert (data_dir / SECRETS_FILE).is_file() and all(s.encode() not in raw for s in (HOOK, PASSWORD, CLIENT))
    saved = json.loads((data_dir / FILE_NAME).read_text())
    assert saved["smtp"] == {"host": "mail.local", "port": 25} and "webhook_secrets" not in saved
    again = apply_overrides(Settings.load(data_dir=data_dir, model_backend="fake", demo=False))  # a restart
    assert again.webhook_secrets == {"chat": HOOK} and again.smtp["password"] == PASSWORD
    assert again.store_client_secret == CLIENT
    with engine.session() as session:
        written = json.dumps([r.details for r in session.exec(select(AuditEntry))])
    assert all(s not in written for s in (HOOK, PASSWORD, CLIENT))


def test_a_blank_secret_on_the_settings_page_keeps_the_saved_one(settings: Settings) -> None:
    engine = build_engine(replace(settings, demo=False))
    save_channels(engine, Channels(smtp={"host": "m", "password": PASSWORD}, secrets={"chat": HOOK}), actor="a")
    save_channels(engine, Channels(smtp={"host": "m2", "password": ""}, secrets={"chat": ""}), actor="a")
    now = current_channels(engine)
    assert now.secrets == {"chat": HOOK} and now.smtp["password"] == PASSWORD and now.smtp["host"] == "m2"
    assert masked(HOOK) == "set (…1-zq)" and masked("short") == "set" and masked("") == "not set"


def test_plaintext_secrets_of_an_older_settings_file_are_moved_on_load(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    old = {"webhook_secrets": {"chat": HOOK}, "smtp": {"host": "mail.local", "password": PASSWORD}, "retrieval_k": 4}
    (data_dir / FILE_NAME).write_text(json.dumps(old))
    settings = apply_overrides(Settings.load(data_dir=data_dir, demo=False))
    assert settings.webhook_secrets == {"chat": HOOK} and settings.smtp["password"] == PASSWORD
    assert settings.retrieval_k == 4
    assert json.loads((data_dir / FILE_NAME).read_text()) == {"smtp": {"host": "mail.local"}, "retrieval_k": 4}
    raw = _bytes(data_dir)
    assert HOOK.encode() not in raw and PASSWORD.encode() not in raw
