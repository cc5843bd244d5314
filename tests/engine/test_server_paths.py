"""Staff can point the server only at files inside the folders configured for it: GGUF models and KB folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.admin import switch_drafter
from engine.drafting.drafter import DrafterUnavailable
from engine.server_paths import PathNotAllowed, inside
from tests.engine.test_ingest_import import make_engine


def test_the_model_path_must_lie_in_the_models_folder(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    outside = tmp_path / "elsewhere.gguf"
    outside.write_bytes(b"GGUF")
    engine.settings.gguf_dir.mkdir(parents=True)
    sneaky = engine.settings.gguf_dir / "link.gguf"
    sneaky.symlink_to(outside)
    for path in ("/etc/passwd", str(outside), str(sneaky), str(engine.settings.gguf_dir / ".." / ".." / "x.gguf")):
        with pytest.raises(DrafterUnavailable, match="must be inside"):
            switch_drafter(engine, path, actor="ada")
    assert engine.settings.gguf_path == ""


def test_server_folders_only_inside_configured_roots(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    (root / "policies").mkdir(parents=True)
    assert inside(root / "policies", [root], what="a folder") == (root / "policies").resolve()
    with pytest.raises(PathNotAllowed, match="must be inside"):
        inside(tmp_path, [root], what="a folder")
    with pytest.raises(PathNotAllowed, match="no folder is configured"):
        inside(root, [], what="a folder")
