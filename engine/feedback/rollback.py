"""Roll the intent model back to an earlier saved version (Settings or `train rollback`), audited."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from engine.nlp.intent import IntentClassifier, IntentModelRegistry
from engine.privacy import audit

log = logging.getLogger(__name__)


class RollbackError(ValueError):
    """No such version, or no earlier version to go back to; the message says which."""


@dataclass(frozen=True)
class ModelVersion:
    """One saved intent model for the Settings list: its id, when it was saved, its numbers, whether active."""

    version: str
    created_at: str
    intents: int
    accuracy: float | None
    oos_recall: float | None
    active: bool


def intent_versions(models_dir: Path) -> list[ModelVersion]:
    """Every saved intent model version, newest first."""
    out = []
    for info in reversed(IntentModelRegistry(models_dir / "intent").versions()):
        metrics = info.get("metrics", {})
        out.append(
            ModelVersion(
                version=str(info["version"]),
                created_at=str(info.get("created_at", "")),
                intents=len(info.get("labels", [])),
                accuracy=metrics.get("holdout_accuracy", metrics.get("cv_in_scope_accuracy")),
                oos_recall=metrics.get("holdout_oos_recall", metrics.get("cv_oos_recall")),
                active=bool(info["active"]),
            )
        )
    return out


def rollback_intent(
    models_dir: Path,
    transaction: Callable[[], AbstractContextManager[Session]],
    *,
    version: str | None,
    actor: str,
) -> tuple[str, IntentClassifier]:
    """Activate `version` (None: the one active before the current one), audit it, return it and its model.

    `transaction` opens a committing session (the engine's `transaction`) for the audit row."""
    registry = IntentModelRegistry(models_dir / "intent")
    current = registry.active()
    previous = str(current[1]["version"]) if current else None
    if version is None:
        target = registry.rollback()
        if target is None:
            raise RollbackError("no earlier intent model version was active")
    else:
        try:
            registry.activate(version)
        except KeyError as exc:
            known = ", ".join(v["version"] for v in registry.versions()) or "none"
            raise RollbackError(f"no intent model version {version!r} (saved: {known})") from exc
        target = version
    active = registry.active()
    assert active is not None
    with transaction() as session:
        audit.append(
            session,
            actor=actor,
            action="intent_model_rolled_back",
            subject=f"model:{target}",
            details={"from": previous, "to": target},
        )
    log.info("intent model rolled back from %s to %s by %s", previous, target, actor)
    return target, active[0]
