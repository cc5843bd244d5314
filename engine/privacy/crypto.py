"""Encryption at rest: Fernet keys in the data dir (or an env var), key rotation, and an encrypted SQL text column.

Keys live in `<data_dir>/secret.key`, one per line, newest first, file mode 0600; or in the env var
`CAREDESK_ENCRYPTION_KEY` (comma-separated, newest first), which then wins and no file is written.
`Cipher` encrypts with the newest key and decrypts with any of them (MultiFernet), so after `rotate_key` old rows
stay readable; `Cipher.rotate(token)` re-encrypts one value under the newest key.

Wiring (once at startup, before any session touches an encrypted column)::

    set_cipher(Cipher(load_keys(settings.data_dir)))

and in a table::

    body: str = Field(sa_column=Column(EncryptedText, nullable=False))

An encrypted column holds an opaque token that differs on every write (random IV): SQL can no longer compare,
filter, sort or search on its content, except `column == ""` (the empty string is stored as is).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

ENV_VAR = "CAREDESK_ENCRYPTION_KEY"
KEY_FILE = "secret.key"
TOKEN_PREFIX = "gAAAAA"  # version byte 0x80 and a timestamp below 2**36 s, base64: every token until the year 4147
MIN_TOKEN_CHARS = 100  # url-safe base64 of 73 bytes: version, timestamp, IV, one AES block, HMAC


class DecryptionError(Exception):
    """A value could not be decrypted: it was encrypted under a key that is not configured, or it was altered."""


class Cipher:
    """Encrypt with the first key, decrypt with any key."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("Cipher needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @staticmethod
    def generate_key() -> bytes:
        """A new random Fernet key (url-safe base64, 32 bytes of key material)."""
        return Fernet.generate_key()

    def encrypt(self, plaintext: str) -> str:
        """The Fernet token of `plaintext` under the newest key."""
        return self.encrypt_bytes(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext of `token`; DecryptionError when no configured key opens it."""
        try:
            return self.decrypt_bytes(token.encode("ascii")).decode("utf-8")
        except UnicodeError as exc:
            raise DecryptionError("cannot decrypt: not a token, or altered") from exc

    def rotate(self, token: str) -> str:
        """`token` re-encrypted under the newest key (run over stored rows after `rotate_key`)."""
        return self.rotate_bytes(token.encode("ascii")).decode("ascii")

    def encrypt_bytes(self, data: bytes) -> bytes:
        """The Fernet token of `data` (e.g. a file's content) under the newest key."""
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """The bytes sealed in `token`; DecryptionError when no configured key opens it."""
        try:
            return self._fernet.decrypt(token)
        except InvalidToken as exc:
            raise DecryptionError("cannot decrypt: encrypted under a key that is not configured, or altered") from exc

    def rotate_bytes(self, token: bytes) -> bytes:
        """`token` re-encrypted under the newest key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise DecryptionError("cannot re-encrypt: no configured key opens this value") from exc


def _valid(key: bytes, source: str) -> bytes:
    try:
        Fernet(key)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source} does not hold a valid Fernet key (32 url-safe base64-encoded bytes)") from exc
    return key


def _write_keys(path: Path, keys: list[bytes]) -> None:
    """Write `keys` to `path` atomically with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(b"\n".join(keys) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)  # the umask cannot widen it, but be explicit
    os.replace(tmp, path)


def load_keys(data_dir: Path, env_var: str = ENV_VAR) -> list[bytes]:
    """All keys, newest first: from `env_var` if set, else `data_dir/secret.key` (created with one new key)."""
    from_env = os.environ.get(env_var, "").strip()
    if from_env:
        return [_valid(part.strip().encode("ascii"), env_var) for part in from_env.split(",") if part.strip()]
    path = data_dir / KEY_FILE
    if not path.exists():
        _write_keys(path, [Fernet.generate_key()])
        log.info("created encryption key %s", path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("encryption key %s had mode %o; setting 0600", path, mode)
        os.chmod(path, 0o600)
    keys = [line.strip() for line in path.read_bytes().splitlines() if line.strip()]
    if not keys:
        raise ValueError(f"{path} holds no key; delete it only if no data was encrypted with it")
    return [_valid(key, str(path)) for key in keys]


def load_or_create_key(data_dir: Path, env_var: str = ENV_VAR) -> bytes:
    """The current (newest) key: from `env_var` if set, else `data_dir/secret.key`, created 0600 on first start."""
    return load_keys(data_dir, env_var)[0]


def rotate_key(data_dir: Path, env_var: str = ENV_VAR) -> bytes:
    """Put a new key first in `data_dir/secret.key`, keep the old ones for decryption, and return the new key."""
    if os.environ.get(env_var, "").strip():
        raise RuntimeError(f"keys come from {env_var}: rotate by putting a new key first there (comma-separated)")
    keys = load_keys(data_dir, env_var)
    new = Fernet.generate_key()
    _write_keys(data_dir / KEY_FILE, [new, *keys])
    log.info("rotated encryption key in %s (%d older keys kept)", data_dir / KEY_FILE, len(keys))
    return new


_cipher: Cipher | None = None


def set_cipher(cipher: Cipher | None) -> None:
    """Set the process-wide cipher that EncryptedText columns use (None switches encryption off again)."""
    global _cipher
    _cipher = cipher


def get_cipher() -> Cipher:
    """The cipher set with set_cipher; RuntimeError if none was set."""
    if _cipher is None:
        raise RuntimeError("no cipher configured: call engine.privacy.crypto.set_cipher(...) at startup")
    return _cipher


class EncryptedText(TypeDecorator[str]):
    """A text column stored as a Fernet token; reads give back the plaintext.

    None stays NULL and the empty string stays empty (so `column != ""` still filters in SQL; that a value is empty
    is visible, nothing else is).
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return value if not value else get_cipher().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return value if not value else get_cipher().decrypt(value)
