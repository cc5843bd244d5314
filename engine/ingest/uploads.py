"""Uploaded import files: owner-only while an import reads them, deleted when it ends.

The file is only needed while its import runs: the import's checkpoint (counts, keyed by the file's SHA-256) stays,
so uploading the same file again continues after the last committed row. Files left by an import that a stop
interrupted are deleted at the next start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import BinaryIO

from engine.config import Settings
from engine.ingest.attachments import safe_filename

log = logging.getLogger(__name__)


def uploads_dir(settings: Settings) -> Path:
    """Where uploads wait while their import runs."""
    return settings.data_dir / "imports" / "uploads"


def create_upload(settings: Settings, name: str) -> tuple[Path, BinaryIO]:
    """A new owner-only file for an upload named `name`, open for writing."""
    folder = uploads_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / safe_filename(name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file of the same name may have had another mode
    return path, os.fdopen(fd, "wb")


def discard_upload(path: Path) -> None:
    """Delete an upload once its import has ended."""
    path.unlink(missing_ok=True)


def remove_leftover_uploads(settings: Settings) -> int:
    """Delete uploads of imports a stop interrupted (upload the file again to continue); returns how many."""
    folder = uploads_dir(settings)
    leftovers = [p for p in folder.glob("*") if p.is_file()] if folder.is_dir() else []
    for path in leftovers:
        path.unlink(missing_ok=True)
        log.warning("deleted %s, left by an interrupted import: upload it again to continue", path.name)
    return len(leftovers)
