"""Versioned intent models in a directory: save with metrics, label set and data hash; list, activate, roll back.

Layout: `<root>/<version>/` holds the model files and `info.json`; `<root>/active.json` names the active version and
the versions that were active before it (the rollback history). Versions are written to a temporary folder and
renamed into place, so a crash or a failed training never leaves a half-written version or changes the active one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.nlp.intent.classifier import IntentClassifier, training_data_hash

log = logging.getLogger(__name__)

INFO_FILE = "info.json"
ACTIVE_FILE = "active.json"

__all__ = ["IntentModelRegistry", "train_and_activate", "training_data_hash"]


class IntentModelRegistry:
    """Intent model versions under `root`; versions are named v0001, v0002, ... in the order they were saved."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: tuple[str, IntentClassifier] | None = None

    def save_version(self, model: IntentClassifier, *, metrics: dict, data_hash: str) -> str:
        """Store `model` as a new version (not activated) and return its id."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=self.root))
        try:
            model.save(staging)
            while True:
                version = f"v{self._last_number() + 1:04d}"
                info = {
                    "version": version,
                    "metrics": metrics,
                    "labels": model.labels,
                    "data_hash": data_hash,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                (staging / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
                try:
                    staging.rename(self.root / version)
                except OSError:  # another process took this number first
                    if (self.root / version).exists():
                        continue
                    raise
                log.info("saved intent model %s (%d intents)", version, len(model.labels))
                return version
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def activate(self, version: str) -> None:
        """Make `version` the active model; the one active before becomes the rollback target."""
        if not (self.root / version / INFO_FILE).is_file():
            raise KeyError(f"no intent model version {version!r} in {self.root}")
        state = self._state()
        if state["active"] == version:
            return
        history = [*state["history"], state["active"]] if state["active"] else state["history"]
        self._write_state({"active": version, "history": history})
        log.info("activated intent model %s", version)

    def active(self) -> tuple[IntentClassifier, dict] | None:
        """The active model and its info (version, metrics, labels, data_hash, created_at), or None."""
        version = self._state()["active"]
        if not version:
            return None
        if self._cache is None or self._cache[0] != version:
            self._cache = (version, IntentClassifier.load(self.root / version))
        return self._cache[1], self._info(version)

    def versions(self) -> list[dict]:
        """Info of every saved version, oldest first, each with an `active` flag."""
        active = self._state()["active"]
        return [{**self._info(d.name), "active": d.name == active} for d in self._version_dirs()]

    def rollback(self) -> str | None:
        """Activate the version that was active before the current one and return it (None when there is none)."""
        state = self._state()
        history = [v for v in state["history"] if (self.root / v / INFO_FILE).is_file()]
        if not history:
            return None
        previous = history.pop()
        self._write_state({"active": previous, "history": history})
        log.info("rolled intent model back from %s to %s", state["active"], previous)
        return previous

    def _last_number(self) -> int:
        numbers = [int(d.name[1:]) for d in self._version_dirs() if d.name[1:].isdigit()]
        return max(numbers, default=0)

    def _version_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(d for d in self.root.iterdir() if d.is_dir() and (d / INFO_FILE).is_file())

    def _info(self, version: str) -> dict[str, Any]:
        return dict(json.loads((self.root / version / INFO_FILE).read_text(encoding="utf-8")))

    def _state(self) -> dict[str, Any]:
        path = self.root / ACTIVE_FILE
        if not path.is_file():
            return {"active": None, "history": []}
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def _write_state(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f".{ACTIVE_FILE}.{os.getpid()}"
        temporary.write_text(json.dumps(state), encoding="utf-8")
        os.replace(temporary, self.root / ACTIVE_FILE)


def train_and_activate(
    registry: IntentModelRegistry,
    texts: list[str],
    labels: list[str],
    embeddings: np.ndarray,
    *,
    oos_label: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[IntentClassifier, str]:
    """Train a new model, save it as a version and activate it; on any error the active model stays as it was."""
    model = IntentClassifier()
    metrics = model.fit(texts, labels, embeddings, oos_label=oos_label, progress=progress)
    version = registry.save_version(model, metrics=metrics, data_hash=training_data_hash(texts, labels))
    registry.activate(version)
    return model, version
