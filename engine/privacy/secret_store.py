"""Secrets kept with the encryption keys: one encrypted file next to `secret.key`, never in settings.json.

The secret settings are the webhook sources' shared secrets (`webhook_secrets`, which also sign the replies POSTed
to their callback URLs), the SMTP password and the store API's OAuth client id and secret. `<data_dir>/secrets.enc`
holds them as one Fernet token (under the encryption keys of engine.privacy.crypto), owner-only, written atomically.
Settings saved from the UI go through `split`: the secret parts land here, the rest in settings.json; `merge` puts
them back together at start-up. A settings.json an older version wrote with plaintext secrets is migrated on load
(see engine.settings_file). Screens show a secret only `masked`.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from engine.privacy.crypto import Cipher, DecryptionError, load_keys

log = logging.getLogger(__name__)

SECRETS_FILE = "secrets.enc"
SECRET_SETTINGS = ("webhook_secrets", "store_client_id", "store_client_secret")  # whole settings
SECRET_FIELDS = {"smtp": ("password",)}  # secret fields of table settings


def load_secrets(data_dir: Path) -> dict[str, Any]:
    """The stored secrets, by setting name ({} when none are stored; unreadable: an error, never a silent loss)."""
    path = data_dir / SECRETS_FILE
    if not path.is_file():
        return {}
    try:
        plain = Cipher(load_keys(data_dir)).decrypt_bytes(path.read_bytes())
    except DecryptionError as exc:
        raise DecryptionError(f"{path} cannot be opened with the configured encryption keys") from exc
    values = json.loads(plain.decode("utf-8"))
    return dict(values) if isinstance(values, dict) else {}


def save_secrets(data_dir: Path, values: dict[str, Any]) -> None:
    """Store these secrets (replacing what was stored), encrypted, owner-only and atomically."""
    data_dir.mkdir(parents=True, exist_ok=True)
    token = Cipher(load_keys(data_dir)).encrypt_bytes(json.dumps(values, sort_keys=True).encode("utf-8"))
    partial = data_dir / f"{SECRETS_FILE}.{uuid.uuid4().hex}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(token)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(data_dir / SECRETS_FILE)


def split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the values without secrets, the secrets) of a settings mapping; a table's secret field is 'smtp.password'."""
    plain, secret = dict(values), {}
    for name in SECRET_SETTINGS:
        if name in plain:
            secret[name] = plain.pop(name)
    for table, names in SECRET_FIELDS.items():
        if isinstance(plain.get(table), dict):
            rest = dict(plain[table])
            for name in names:
                if name in rest:
                    secret[f"{table}.{name}"] = rest.pop(name)
            plain[table] = rest
    return plain, secret


def merge(values: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """A settings mapping with the stored secrets put back in their places."""
    merged = dict(values)
    for key, value in secrets.items():
        table, _, name = key.partition(".")
        if name:
            merged[table] = {**dict(merged.get(table) or {}), name: value}
        else:
            merged[key] = value
    return merged


def masked(value: str) -> str:
    """How a screen shows a secret: that it is set, and at most its last 4 characters when it is long."""
    if not value:
        return "not set"
    return f"set (…{value[-4:]})" if len(value) >= 16 else "set"
