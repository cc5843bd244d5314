"""Encryption at rest: key files and env keys, round trips, rotation and the encrypted column."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select, text

from engine.privacy import crypto
from engine.privacy.crypto import Cipher, DecryptionError, EncryptedText, load_keys, load_or_create_key, rotate_key


def test_key_file_is_created_once_with_owner_only_permissions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREDESK_ENCRYPTION_KEY", raising=False)
    key = load_or_create_key(tmp_path)
    path = tmp_path / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path) == key


def test_key_from_env_var_wins_and_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Cipher.generate_key()
    monkeypatch.setenv("CAREDESK_ENCRYPTION_KEY", key.decode())
    assert load_or_create_key(tmp_path) == key
    assert not (tmp_path / "secret.key").exists()


def test_bad_key_in_env_var_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREDESK_ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(ValueError, match="CAREDESK_ENCRYPTION_KEY"):
        load_or_create_key(tmp_path)


def test_encrypt_round_trip_hides_the_text() -> None:
    cipher = Cipher([Cipher.generate_key()])
    token = cipher.encrypt("my card is 4111 1111 1111 1111 — ünïcode")
    assert "4111" not in token
    assert cipher.decrypt(token) == "my card is 4111 1111 1111 1111 — ünïcode"


def test_wrong_key_cannot_decrypt() -> None:
    token = Cipher([Cipher.generate_key()]).encrypt("secret")
    with pytest.raises(DecryptionError):
        Cipher([Cipher.generate_key()]).decrypt(token)


def test_rotation_keeps_old_data_readable_and_re_encrypts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREDESK_ENCRYPTION_KEY", raising=False)
    old_key = load_or_create_key(tmp_path)
    old_token = Cipher(load_keys(tmp_path)).encrypt("body")
    new_key = rotate_key(tmp_path)
    assert load_keys(tmp_path) == [new_key, old_key]
    assert load_or_create_key(tmp_path) == new_key
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    cipher = Cipher(load_keys(tmp_path))
    assert cipher.decrypt(old_token) == "body"
    fresh = cipher.rotate(old_token)
    assert Cipher([new_key]).decrypt(fresh) == "body"
    with pytest.raises(DecryptionError):
        Cipher([new_key]).decrypt(old_token)


def test_rotate_refuses_when_keys_come_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREDESK_ENCRYPTION_KEY", Cipher.generate_key().decode())
    with pytest.raises(RuntimeError, match="CAREDESK_ENCRYPTION_KEY"):
        rotate_key(tmp_path)


def test_encrypted_column_stores_ciphertext_and_reads_plaintext() -> None:
    metadata = MetaData()
    notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", EncryptedText))
    db = create_engine("sqlite://")
    metadata.create_all(db)
    crypto.set_cipher(Cipher([Cipher.generate_key()]))
    try:
        with db.begin() as conn:
            conn.execute(notes.insert().values(id=1, body="call me on +44 7911 123456"))
            conn.execute(notes.insert().values(id=2, body=None))
        with db.connect() as conn:
            raw = conn.execute(text("SELECT body FROM notes WHERE id = 1")).scalar_one()
            assert "7911" not in raw
            stored = conn.execute(select(notes.c.body).where(notes.c.id == 1)).scalar_one()
            assert stored == "call me on +44 7911 123456"
            assert conn.execute(select(notes.c.body).where(notes.c.id == 2)).scalar_one() is None
    finally:
        crypto.set_cipher(None)


def test_encrypted_column_without_a_cipher_is_a_clear_error() -> None:
    crypto.set_cipher(None)
    with pytest.raises(RuntimeError, match="set_cipher"):
        EncryptedText().process_bind_param("x", None)


def test_key_file_is_owner_only_even_with_a_loose_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREDESK_ENCRYPTION_KEY", raising=False)
    old = os.umask(0)
    try:
        load_or_create_key(tmp_path / "fresh")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "fresh" / "secret.key").stat().st_mode) == 0o600
