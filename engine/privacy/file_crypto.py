"""Files encrypted at rest: a file holds one Fernet token of its content, under the process-wide cipher.

Callers know each file's SHA-256 (attachments are content-addressed by it), which tells a plaintext file an older
version wrote (its bytes hash to the digest) from an encrypted one without guessing from its first bytes, and
checks that what was decrypted is what was stored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path

from engine.privacy.crypto import DecryptionError, get_cipher

log = logging.getLogger(__name__)


def write_encrypted(path: Path, data: bytes) -> None:
    """Write `data` encrypted to `path` (owner-only, atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(get_cipher().encrypt_bytes(data))
    partial.replace(path)


def read_decrypted(path: Path, sha256: str) -> bytes:
    """The content of `path` whose SHA-256 is `sha256`: decrypted, or as is for a plaintext file of an older version.

    DecryptionError when no configured key opens it or the content does not match the digest.
    """
    stored = path.read_bytes()
    if _digest(stored) == sha256:
        return stored
    data = get_cipher().decrypt_bytes(stored)
    if _digest(data) != sha256:
        raise DecryptionError(f"{path.name}: the decrypted content does not match its SHA-256")
    return data


def reencrypt(path: Path, sha256: str) -> bool:
    """Re-encrypt `path` under the newest key (a plaintext file gets encrypted); False if the file is missing."""
    if not path.is_file():
        log.warning("cannot re-encrypt %s: the file is missing", path)
        return False
    write_encrypted(path, read_decrypted(path, sha256))
    return True


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
