"""Uploaded import files are owner-only while they exist, and an interrupted import's upload is deleted at start."""

from __future__ import annotations

import stat
from pathlib import Path

from engine.config import Settings
from engine.ingest.uploads import create_upload, remove_leftover_uploads, uploads_dir


def test_an_upload_is_owner_only_and_a_leftover_is_deleted_at_the_next_start(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo=False)
    path, handle = create_upload(settings, "../history.csv")
    with handle:
        handle.write(b"text\nhello\n")
    assert path.parent == uploads_dir(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert remove_leftover_uploads(settings) == 1 and not path.exists()
