"""Retrain the intent model on agent-confirmed labels and promote the new version only when it is not worse.

Confirmed labels are the intents agents corrected, or confirmed by sending a reply (`training_data.confirmed_rows`).
A fixed slice of them (HOLDOUT_PERCENT of texts, chosen by a hash of the text, so a text stays in or out for good)
never trains a model: it is the exam the candidate and the active model both take. Tickets agents confirmed as
"unknown" (outside the taxonomy) are labels too: they train the out-of-scope class when there are enough of them, and
their held-back slice measures out-of-scope recall. Every model is trained with out-of-scope detection on.
The exam has two marks, compared separately: in-scope accuracy on the held-back intents ("unknown" counts as wrong)
and out-of-scope recall on the held-back "unknown" tickets. The candidate becomes active when it is not worse on
either; otherwise it is saved as a candidate version with its numbers. With fewer than MIN_HOLDOUT held-back intent
labels nothing can be compared and the candidate is only kept, unless no model is active yet; recall is compared
once MIN_OOS_HOLDOUT "unknown" tickets are held back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, func, select

from engine.config import DEMO_DATA_DIR, Settings
from engine.feedback.embedding_cache import DiskEmbeddingCache
from engine.feedback.training_data import confirmed_rows, demo_training_rows
from engine.nlp.intent import UNKNOWN, IntentClassifier, IntentModelRegistry, training_data_hash
from engine.nlp.labeled_csv import LabeledDataError
from engine.privacy import audit
from engine.store.db import session_scope
from engine.store.models import Feedback, FeedbackKind

if TYPE_CHECKING:
    from engine.runtime import Services

log = logging.getLogger(__name__)

HOLDOUT_PERCENT = 10
MIN_HOLDOUT = 20
MIN_OOS_HOLDOUT = 5  # held-back "unknown" tickets before out-of-scope recall is compared
MIN_OOS_TRAIN = 20  # "unknown" rows before they train an out-of-scope class (fewer: left-out intents stand in)
STATE_FILE = "retrain_state.json"
Rows = tuple[list[str], list[str]]
Embed = Callable[[Sequence[str]], np.ndarray]
Progress = Callable[[float, str], None]


class RetrainError(RuntimeError):
    """Retraining cannot start (models still loading, no data); the message says why."""


@dataclass(frozen=True)
class RetrainResult:
    """One retrain: the version it saved, whether it became active and why, and the numbers behind that."""

    version: str
    promoted: bool
    reason: str
    candidate_accuracy: float | None  # in-scope accuracy on the held-back intent labels
    active_accuracy: float | None
    active_version: str | None
    trained_on: int
    held_back: int
    seconds: float  # wall clock
    cpu_seconds: float  # CPU time of this process: what the retrain costs without other programs competing
    candidate_oos_recall: float | None = None  # share of held-back "unknown" tickets answered "unknown"
    active_oos_recall: float | None = None
    held_back_unknown: int = 0


def held_back(text: str) -> bool:
    """True for the texts in the fixed evaluation slice (never used for training)."""
    digest = hashlib.sha256(" ".join(text.lower().split()).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HOLDOUT_PERCENT


def split_confirmed(texts: Sequence[str], labels: Sequence[str]) -> tuple[Rows, Rows]:
    """(training rows, held-back rows) of the confirmed labels."""
    train: Rows = ([], [])
    hold: Rows = ([], [])
    for text, label in zip(texts, labels, strict=True):
        target = hold if held_back(text) else train
        target[0].append(text)
        target[1].append(label)
    return train, hold


def accuracy(model: IntentClassifier, texts: Sequence[str], labels: Sequence[str], vectors: np.ndarray) -> float:
    """Share of texts whose predicted intent is the confirmed one ("unknown" counts as wrong)."""
    if not texts:
        return 0.0
    predictions = model.predict(list(texts), vectors)
    return float(np.mean([p.label == gold and not p.is_unknown for p, gold in zip(predictions, labels, strict=True)]))


@dataclass(frozen=True)
class Exam:
    """A model's two marks on the held-back slice: in-scope accuracy and out-of-scope recall (None: no rows)."""

    accuracy: float | None
    oos_recall: float | None


def take_exam(model: IntentClassifier, texts: Sequence[str], labels: Sequence[str], vectors: np.ndarray) -> Exam:
    """In-scope accuracy on the rows with an intent, out-of-scope recall on the rows confirmed "unknown"."""
    if not texts:
        return Exam(None, None)
    predictions = model.predict(list(texts), vectors)
    right = [
        p.label == gold and not p.is_unknown for p, gold in zip(predictions, labels, strict=True) if gold != UNKNOWN
    ]
    caught = [p.is_unknown for p, gold in zip(predictions, labels, strict=True) if gold == UNKNOWN]
    return Exam(float(np.mean(right)) if right else None, float(np.mean(caught)) if caught else None)


def training_rows(base: Rows, confirmed_train: Rows) -> Rows:
    """Base plus confirmed training rows, minus the "unknown" ones when too few to learn an out-of-scope class."""
    texts, labels = base[0] + confirmed_train[0], base[1] + confirmed_train[1]
    if 0 < labels.count(UNKNOWN) < MIN_OOS_TRAIN:
        kept = [(t, label) for t, label in zip(texts, labels, strict=True) if label != UNKNOWN]
        return [t for t, _ in kept], [label for _, label in kept]
    return texts, labels


def retrain(
    registry: IntentModelRegistry,
    *,
    base: Rows,
    confirmed: Rows,
    embed: Embed,
    trigger: str,
    progress: Progress | None = None,
) -> tuple[IntentClassifier, RetrainResult]:
    """Train a candidate on base + confirmed rows (minus the held-back slice), save it, promote it if not worse."""
    started, cpu_started = time.perf_counter(), time.process_time()
    report = progress or (lambda fraction, message: None)
    train_rows, (hold_texts, hold_labels) = split_confirmed(*confirmed)
    texts, labels = training_rows(base, train_rows)
    report(0.02, f"embedding {len(texts)} training texts")
    vectors = embed(texts)
    model = IntentClassifier()
    metrics = model.fit(texts, labels, vectors, oos_label=UNKNOWN, progress=lambda f, m: report(0.05 + 0.8 * f, m))
    report(0.88, f"comparing with the active model on {len(hold_texts)} held-back labels")
    hold_vectors = embed(hold_texts)
    current = registry.active()
    candidate = take_exam(model, hold_texts, hold_labels, hold_vectors)
    active = take_exam(current[0], hold_texts, hold_labels, hold_vectors) if current else Exam(None, None)
    held_unknown = hold_labels.count(UNKNOWN)
    promoted, reason = verdict(current is not None, len(hold_texts) - held_unknown, held_unknown, candidate, active)
    info = {
        **metrics,
        "holdout_size": len(hold_texts),
        "holdout_accuracy": candidate.accuracy,
        "active_holdout_accuracy": active.accuracy,
        "holdout_unknown": held_unknown,
        "holdout_oos_recall": candidate.oos_recall,
        "active_holdout_oos_recall": active.oos_recall,
        "promoted": promoted,
        "trigger": trigger,
        "verdict": reason,
    }
    version = registry.save_version(model, metrics=info, data_hash=training_data_hash(texts, labels), texts=texts)
    if promoted:
        registry.activate(version)
    seconds = round(time.perf_counter() - started, 2)
    result = RetrainResult(
        version=version,
        promoted=promoted,
        reason=reason,
        candidate_accuracy=candidate.accuracy,
        active_accuracy=active.accuracy,
        active_version=str(current[1]["version"]) if current else None,
        trained_on=len(texts),
        held_back=len(hold_texts),
        seconds=seconds,
        cpu_seconds=round(time.process_time() - cpu_started, 2),
        candidate_oos_recall=candidate.oos_recall,
        active_oos_recall=active.oos_recall,
        held_back_unknown=held_unknown,
    )
    report(1.0, f"{version} {'promoted' if promoted else 'kept as a candidate'}: {reason}")
    log.info("retrain (%s): %s", trigger, result)
    return model, result


def verdict(has_active: bool, held: int, held_unknown: int, candidate: Exam, active: Exam) -> tuple[bool, str]:
    """Promote or keep: the candidate must not be worse in in-scope accuracy, nor in out-of-scope recall."""
    if not has_active:
        return True, "no model was active"
    if held < MIN_HOLDOUT or candidate.accuracy is None or active.accuracy is None:
        return False, f"only {held} held-back confirmed labels (need {MIN_HOLDOUT}) to compare with the active model"
    marks = f"accuracy {candidate.accuracy:.3f} {{}} active {active.accuracy:.3f} on {held} held-back confirmed labels"
    if candidate.accuracy < active.accuracy:
        return False, marks.format("<")
    reason = marks.format(">=")
    if held_unknown >= MIN_OOS_HOLDOUT and candidate.oos_recall is not None and active.oos_recall is not None:
        recall = f"out-of-scope recall {candidate.oos_recall:.3f} {{}} active {active.oos_recall:.3f} on {held_unknown}"
        recall += ' held-back "unknown" tickets'
        if candidate.oos_recall < active.oos_recall:
            return False, f"{reason}, but {recall.format('<')}"
        return True, f"{reason}; {recall.format('>=')}"
    return True, reason


def retrain_in_use(
    services: Services | None, settings: Settings, db: SAEngine, *, trigger: str, progress: Progress | None = None
) -> RetrainResult:
    """Retrain the intent model in use; a promoted version replaces `services.intent` at once."""
    if services is None or not services.booted:
        raise RetrainError("the models are still loading")
    with Session(db) as session:
        confirmed = confirmed_rows(session)
        last_id = latest_feedback_id(session)
    base = demo_training_rows(DEMO_DATA_DIR, settings.demo_ticket_count)
    cache = DiskEmbeddingCache(settings.models_dir / "training_embeddings.npz", services.embedder)
    registry = IntentModelRegistry(settings.models_dir / "intent")
    model, result = retrain(
        registry, base=base, confirmed=confirmed, embed=cache.encode, trigger=trigger, progress=progress
    )
    if result.promoted:
        services.intent, services.intent_version = model, result.version
    save_state(settings.models_dir, last_id)
    with session_scope(db) as session:
        action = "intent_model_promoted" if result.promoted else "intent_model_candidate"
        audit.append(
            session,
            actor="retrain",
            action=action,
            subject=f"model:{result.version}",
            details={"trigger": trigger, **asdict(result)},
        )
    return result


def retrain_after_erasure(services: Services | None, settings: Settings, db: SAEngine) -> str | None:
    """Train an intent model on what is left after an erasure and make it active whatever the gate says (the old
    one holds the erased text); None when no model can be trained now."""
    from engine.components import load_embedder

    embedder = services.embedder if services is not None else load_embedder(settings)
    with Session(db) as session:
        confirmed = confirmed_rows(session)
    base = demo_training_rows(DEMO_DATA_DIR, settings.demo_ticket_count)
    cache = DiskEmbeddingCache(settings.models_dir / "training_embeddings.npz", embedder)
    registry = IntentModelRegistry(settings.models_dir / "intent")
    try:
        model, result = retrain(registry, base=base, confirmed=confirmed, embed=cache.encode, trigger="erasure")
    except LabeledDataError as exc:
        log.warning("no intent model could be trained after the erasure: %s", exc)
        return None
    finally:
        if services is None:
            embedder.close()
    registry.activate(result.version)
    if services is not None:
        services.intent, services.intent_version = model, result.version
    return result.version


def latest_feedback_id(session: Session) -> int:
    """The newest feedback row id (0 without feedback)."""
    return int(session.exec(select(func.max(Feedback.id))).one() or 0)


def corrections_since_last_retrain(db: SAEngine, models_dir: Path) -> int:
    """Intent corrections agents made since the last retrain started."""
    last = load_state(models_dir)
    with Session(db) as session:
        query = select(func.count()).where(Feedback.kind == FeedbackKind.OVERRIDE_INTENT, col(Feedback.id) > last)
        return int(session.exec(query).one())


def load_state(models_dir: Path) -> int:
    """The last feedback id the previous retrain saw."""
    path = models_dir / STATE_FILE
    try:
        return int(json.loads(path.read_text(encoding="utf-8")).get("last_feedback_id", 0))
    except (OSError, ValueError):
        return 0


def save_state(models_dir: Path, last_feedback_id: int) -> None:
    """Remember which feedback the latest retrain saw."""
    models_dir.mkdir(parents=True, exist_ok=True)
    (models_dir / STATE_FILE).write_text(json.dumps({"last_feedback_id": last_feedback_id}), encoding="utf-8")
