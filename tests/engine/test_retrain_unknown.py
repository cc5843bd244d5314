"""Retraining keeps out-of-scope detection, the gate marks "unknown" recall apart, and rollback is audited."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from engine.admin import rollback_intent_model
from engine.feedback.capture import override_intent
from engine.feedback.retrain import Exam, retrain, verdict
from engine.feedback.rollback import RollbackError, intent_versions
from engine.feedback.training_data import confirmed_rows
from engine.ingest.intake import InboundMessage, intake
from engine.nlp.intent import UNKNOWN
from engine.nlp.intent.registry import IntentModelRegistry
from engine.store.audit_models import AuditEntry
from tests.engine.test_ingest_import import make_engine
from tests.engine.test_learning import _embed, _rows

OUT_OF_SCOPE = [
    "what is the weather on mars {n}",
    "recommend a pizza topping {n}",
    "who won the chess final {n}",
    "translate hello into latin {n}",
]


def _unknown_rows(count: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts = [rng.choice(OUT_OF_SCOPE).format(n=rng.randint(1, 10**6)) for _ in range(count)]
    return texts, [UNKNOWN] * count


def test_a_retrained_model_still_answers_unknown(tmp_path: Path) -> None:
    registry = IntentModelRegistry(tmp_path / "intent")
    model, _ = retrain(registry, base=_rows(90, 2), confirmed=([], []), embed=_embed, trigger="initial")
    assert model.threshold is not None  # open-set: a reject threshold was set
    texts, _ = _unknown_rows(40, 3)
    predictions = model.predict(texts, _embed(texts))
    assert sum(p.is_unknown for p in predictions) >= 20


def test_held_back_unknown_tickets_are_marked_for_recall_apart_from_accuracy(tmp_path: Path) -> None:
    registry = IntentModelRegistry(tmp_path / "intent")
    retrain(registry, base=_rows(90, 2), confirmed=([], []), embed=_embed, trigger="initial")
    texts, labels = _rows(400, 4)
    more_texts, more_labels = _unknown_rows(400, 5)
    _, result = retrain(
        registry, base=_rows(90, 2), confirmed=(texts + more_texts, labels + more_labels), embed=_embed, trigger="t"
    )
    assert result.held_back_unknown >= 20
    assert result.candidate_oos_recall is not None and result.active_oos_recall is not None
    assert result.candidate_oos_recall > 0.8  # it learnt "unknown" from the confirmed rows
    assert result.candidate_accuracy is not None and result.candidate_accuracy > 0.8
    saved = {v.version: v for v in intent_versions(tmp_path)}[result.version]
    assert saved.oos_recall == result.candidate_oos_recall


def test_gate_refuses_a_candidate_that_loses_out_of_scope_recall() -> None:
    better_accuracy_no_recall = Exam(accuracy=0.95, oos_recall=0.10)
    active = Exam(accuracy=0.90, oos_recall=0.80)
    promoted, reason = verdict(True, 50, 10, better_accuracy_no_recall, active)
    assert not promoted and "out-of-scope recall 0.100 < active 0.800" in reason
    promoted, reason = verdict(True, 50, 10, Exam(0.91, 0.85), active)
    assert promoted and "accuracy 0.910 >= active 0.900" in reason
    # "unknown" answers are not held against in-scope accuracy when there are no held-back unknowns
    assert verdict(True, 50, 0, Exam(0.90, None), Exam(0.90, None))[0]


def test_agent_confirmed_unknown_tickets_are_training_labels(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    with engine.transaction() as session:
        ticket = intake(session, InboundMessage(channel="chat", customer_name="Ann", text="Is it raining on Mars?"))
        override_intent(session, ticket_id=ticket.ticket_id, new_intent=UNKNOWN, agent="ann")
    with engine.session() as session:
        assert confirmed_rows(session) == (["Is it raining on Mars?"], [UNKNOWN])


def _two_versions(data_dir: Path) -> None:
    registry = IntentModelRegistry(data_dir / "models" / "intent")
    retrain(registry, base=_rows(60, 2), confirmed=([], []), embed=_embed, trigger="first")
    model, _ = retrain(registry, base=_rows(60, 3), confirmed=([], []), embed=_embed, trigger="second")
    registry.save_version(model, metrics={}, data_hash="x")
    registry.activate("v0002")
    registry.activate("v0003")


def test_rollback_to_a_chosen_version_is_audited_and_used_at_once(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    _two_versions(tmp_path / "data")
    assert rollback_intent_model(engine, version="v0001", actor="ada") == "v0001"
    assert [v.version for v in intent_versions(engine.settings.models_dir) if v.active] == ["v0001"]
    with pytest.raises(RollbackError, match="v0009"):
        rollback_intent_model(engine, version="v0009", actor="ada")
    with engine.session() as session:
        row = session.exec(select(AuditEntry).where(AuditEntry.action == "intent_model_rolled_back")).one()
    assert row.actor == "ada" and row.subject == "model:v0001" and row.details == {"from": "v0003", "to": "v0001"}


def test_train_rollback_command_goes_back_one_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    make_engine(data_dir)
    _two_versions(data_dir)
    monkeypatch.setenv("CAREDESK_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CAREDESK_DEMO", "false")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import main

    result = CliRunner().invoke(main.cli, ["train", "rollback"])
    assert result.exit_code == 0, result.output
    assert "v0002 is active" in result.output
    engine = make_engine(data_dir)
    with engine.session() as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "intent_model_rolled_back")).one()
