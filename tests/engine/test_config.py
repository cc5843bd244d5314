"""Settings: typed fields from caredesk.toml and the environment, and a clear warning for a key that names none."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine.config import Settings


def test_tables_and_numbers_in_the_toml_file_become_typed_fields(tmp_path: Path) -> None:
    toml = tmp_path / "caredesk.toml"
    toml.write_text(
        'store_api_url = "http://crm.local"\nretrain_every = "20"\n'
        '[webhook_secrets]\nchatwidget = "s3cret"\n[imap]\nhost = "mail.local"\nport = 993\n',
        encoding="utf-8",
    )
    settings = Settings.load(toml)
    assert settings.store_api_url == "http://crm.local" and settings.retrain_every == 20
    assert settings.webhook_secrets == {"chatwidget": "s3cret"}
    assert settings.imap == {"host": "mail.local", "port": 993}
    assert settings.extra == {}


def test_a_table_can_come_from_an_environment_variable_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREDESK_WEBHOOK_CALLBACKS", '{"chatwidget": "http://127.0.0.1:9/replies"}')
    assert Settings.load(tmp_path / "none.toml").webhook_callbacks == {"chatwidget": "http://127.0.0.1:9/replies"}


def test_an_unknown_key_is_warned_about_and_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    toml = tmp_path / "caredesk.toml"
    toml.write_text("retrain_evry = 10\nreview_threshold = 0.7\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="engine.config"):
        settings = Settings.load(toml)
    assert "unknown setting 'retrain_evry' ignored" in caplog.text
    assert settings.retrain_every == 50 and settings.review_threshold == 0.7
