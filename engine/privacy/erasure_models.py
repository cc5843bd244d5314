"""Erasure in the models folder: the training-embedding cache rows of the erased texts, and every intent model
version trained on them (older versions are dropped; the active one is replaced by one retrained without them)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.feedback.embedding_cache import forget_texts
from engine.nlp.intent import IntentModelRegistry, text_key

log = logging.getLogger(__name__)

CACHE_FILE = "training_embeddings.npz"


@dataclass
class ModelPurge:
    """What the models folder lost: cached vectors, dropped versions, and the active version retrained."""

    cache_rows: int = 0
    dropped: list[str] = field(default_factory=list)
    retrained: tuple[str, str] | None = None  # (old active version, its replacement)

    def notes(self) -> list[str]:
        """The purge in sentences for the erasure report."""
        out = [f"Removed {self.cache_rows} cached training embeddings."]
        if self.retrained is not None:
            out.append(
                f"Intent model {self.retrained[0]} was trained on this customer's text: retrained as "
                f"{self.retrained[1]} without it, which is active now."
            )
        if self.dropped:
            out.append("Dropped intent model versions trained on this customer's text: " + ", ".join(self.dropped))
        else:
            out.append("No saved intent model version was trained on this customer's text.")
        return out


def purge_models(
    models_dir: Path,
    texts: Sequence[str],
    holds_needles: Callable[[Path], bool],
    retrain_active: Callable[[], str | None],
) -> ModelPurge:
    """Drop the erased training texts' cached vectors and every intent version trained on them.

    A version saved before training keys were kept counts as trained on them when `holds_needles` finds the
    customer's text in its folder. `retrain_active` trains and activates a replacement for an affected active
    version (None when it cannot: the version is dropped and the app trains a new model at its next start)."""
    keys = {text_key(t) for t in texts}
    purge = ModelPurge(cache_rows=forget_texts(models_dir / CACHE_FILE, keys))
    registry = IntentModelRegistry(models_dir / "intent")
    affected = []
    for info in registry.versions():
        version = str(info["version"])
        trained = registry.trained_on(version, keys)
        if trained or (trained is None and holds_needles(registry.root / version)):
            affected.append((version, bool(info["active"])))
    for version, active in affected:
        if active:
            replacement = retrain_active()
            if replacement is None:
                registry.deactivate()
            else:
                purge.retrained = (version, replacement)
        registry.drop(version)
        purge.dropped.append(version)
    log.info("erasure in %s: %s", models_dir, purge)
    return purge
