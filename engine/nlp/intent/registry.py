"""Versioned intent models in a directory: save with metrics, label set and data hash; list, activate, roll back.

Layout: `<root>/<version>/` holds the model files, `info.json` and `training_keys.npy` (a SHA-256 key per training
text, so an erasure finds the versions a customer's text trained); `<root>/active.json` names the active version and
the versions that were active before it (the rollback history). Versions are written to a temporary folder and
renamed into place, so a crash or a failed training never leaves a half-written version or changes the active one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.nlp.intent.classifier import IntentClassifier, training_data_hash

log = logging.getLogger(__name__)

INFO_FILE = "info.json"
ACTIVE_FILE = "active.json"
KEYS_FILE = "training_keys.npy"

__all__ = ["IntentModelRegistry", "text_key", "train_and_activate", "training_data_hash"]


def text_key(text: str) -> str:
    """A stable key of a training text (SHA-256, 16 bytes as hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class IntentModelRegistry:
    """Intent model versions under `root`; versions are named v0001, v0002, ... in the order they were saved."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._cache: tuple[str, IntentClassifier] | None = None

    def save_version(self, model: IntentClassifier, *, metrics: dict, data_hash: str, texts: Sequence[str] = ()) -> str:
        """Store `model` as a new version (not activated), with the keys of the texts it was trained on; its id."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=self.root))
        try:
            model.save(staging)
            keys = np.array(sorted({bytes.fromhex(text_key(t)) for t in texts}), dtype="S16")
            np.save(staging / KEYS_FILE, keys, allow_pickle=False)
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

    def trained_on(self, version: str, keys: set[str]) -> bool | None:
        """Whether any text with one of `keys` trained `version` (None: saved before keys were kept)."""
        path = self.root / version / KEYS_FILE
        if not path.is_file():
            return None
        stored = np.load(path, allow_pickle=False)
        wanted = np.array(sorted(bytes.fromhex(k) for k in keys), dtype="S16")
        return bool(np.isin(wanted, stored).any()) if len(wanted) else False

    def deactivate(self) -> None:
        """Leave no version active (the app trains a new model at its next start)."""
        state = self._state()
        self._write_state({"active": None, "history": state["history"]})

    def drop(self, version: str) -> None:
        """Delete a saved version that is not active (erasure); it leaves the rollback history too."""
        state = self._state()
        if state["active"] == version:
            raise ValueError(f"{version} is active: activate another version first")
        self._write_state({"active": state["active"], "history": [v for v in state["history"] if v != version]})
        if self._cache is not None and self._cache[0] == version:
            self._cache = None
        shutil.rmtree(self.root / version)
        log.info("dropped intent model %s", version)

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
    version = registry.save_version(model, metrics=metrics, data_hash=training_data_hash(texts, labels), texts=texts)
    registry.activate(version)
    return model, version
