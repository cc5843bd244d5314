"""What the privacy and account commands of main.py do: erase, export, audit verify, key rotation, account recovery.

Each opens the data dir's database with its encryption keys and loads no model. Run `erase` while the app is
stopped (or use the admin page): a running app keeps its own copy of the similar-ticket index in memory and would
write the erased vectors back at its next save.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select as core_select
from sqlmodel import col, select

from engine.app import build_engine
from engine.config import Settings
from engine.privacy import audit, crypto
from engine.privacy.erasure import erase_customer, export_customer
from engine.privacy.file_crypto import reencrypt
from engine.runtime import Engine
from engine.store.attachment_models import Attachment
from engine.store.db import session_scope
from engine.store.migrate import encrypted_columns, write_values

log = logging.getLogger(__name__)


def cli_actor() -> str:
    """Who runs this command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def open_engine(settings: Settings) -> Engine:
    """The engine of the data dir for one command: encryption keys loaded, no demo seeding, no models."""
    crypto.set_cipher(crypto.Cipher(crypto.load_keys(settings.data_dir)))
    return build_engine(replace(settings, demo=False))


def erase(settings: Settings, customer_id: int) -> str:
    """Erase one customer and describe what was removed (CustomerNotFound for an unknown id)."""
    return erase_customer(open_engine(settings), customer_id, actor=cli_actor()).summary()


def export(settings: Settings, customer_id: int, out: Path) -> str:
    """Write everything held about a customer to `out` as JSON (mode 0600: it is personal data)."""
    data = export_customer(open_engine(settings), customer_id, actor=cli_actor())
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
    counts = ", ".join(f"{len(rows)} {table}" for table, rows in data["records"].items() if rows) or "no records"
    return f"Wrote customer {customer_id} ({counts}) to {out}"


def audit_verify(settings: Settings) -> tuple[bool, str]:
    """Check the audit chain: (True, summary) or (False, the first broken row and why)."""
    engine = open_engine(settings)
    with engine.session() as session:
        result = audit.verify(session)
    if result.ok:
        return True, f"Audit log OK: {result.reason}."
    return (
        False,
        f"Audit log BROKEN at row {result.first_broken_id}: {result.reason} ({result.checked} rows before it OK).",
    )


def rotate_key(settings: Settings) -> str:
    """Put a new encryption key first and re-encrypt every encrypted column and attachment file; describe it."""
    engine = open_engine(settings)
    from_env = bool(os.environ.get(crypto.ENV_VAR, "").strip())
    if not from_env:  # with keys in the env var, the operator has put the new key first there already
        crypto.rotate_key(settings.data_dir)
    keys = crypto.load_keys(settings.data_dir)
    crypto.set_cipher(crypto.Cipher(keys))
    done: list[str] = []
    with session_scope(engine.db) as session:
        connection = session.connection()
        for column in encrypted_columns():
            table = column.table
            (pk,) = table.primary_key.columns
            rows = connection.execute(core_select(pk, column).where(column.is_not(None), column != "")).all()
            write_values(connection, column, rows)  # read with any key, written back under the newest
            done.append(f"{len(rows)} {table.name}.{column.name}")
        done.append(f"{_reencrypt_files(engine)} attachment files")
        audit.append(session, actor=cli_actor(), action="key_rotated", details={"reencrypted": done})
    where = crypto.ENV_VAR if from_env else settings.data_dir / crypto.KEY_FILE
    return (
        f"The first key in {where} now encrypts every value; {len(keys) - 1} older key(s) kept so backups stay "
        f"readable (remove a compromised key now: no row uses it any more).\n"
        f"Re-encrypted: {', '.join(done) or 'nothing (no encrypted columns)'}."
    )


def _reencrypt_files(engine: Engine) -> int:
    """Re-encrypt every stored attachment original under the newest key (older plaintext files get encrypted)."""
    with engine.session() as session:
        files = dict(session.exec(select(Attachment.path, Attachment.sha256).order_by(col(Attachment.id))).all())
    return sum(reencrypt(engine.settings.data_dir / path, sha256) for path, sha256 in files.items())
