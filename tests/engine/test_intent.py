"""Intent classifier: labels, calibrated confidence, "unknown" for out-of-scope texts, versions with rollback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.nlp.embedder import HashingEmbedder, MiniLMEmbedder
from engine.nlp.intent.classifier import UNKNOWN, IntentClassifier, IntentPrediction
from engine.nlp.intent.metrics import evaluate, expected_calibration_error
from engine.nlp.intent.registry import IntentModelRegistry, train_and_activate, training_data_hash
from engine.nlp.labeled_csv import LabeledDataError

SUBJECTS = ["i", "we", "my wife", "my son", "my company", "my husband", "my friend", "our team", "my mum", "he"]
TEMPLATES = {
    "card_arrival": "{s} still waiting for the new card, when will the card be delivered in the post",
    "refund": "{s} want a refund for the order, please return the money for the purchase",
    "password_reset": "{s} forgot the password and cannot log in to the app, reset the password",
    "cancel_subscription": "{s} wish to cancel the monthly subscription and stop the plan renewal",
}
OUT_OF_SCOPE = [
    "what will the weather be like in lisbon on saturday",
    "recommend a good recipe for vegetable lasagna",
    "who won the football match yesterday evening",
    "how tall is the eiffel tower in metres",
    "play some relaxing jazz music for the evening",
]


def dataset(with_oos: bool = False) -> tuple[list[str], list[str]]:
    texts = [t.format(s=s) for t in TEMPLATES.values() for s in SUBJECTS]
    labels = [label for label in TEMPLATES for _ in SUBJECTS]
    if with_oos:
        texts += OUT_OF_SCOPE
        labels += ["oos"] * len(OUT_OF_SCOPE)
    return texts, labels


QUERIES = {label: template.format(s="my uncle") for label, template in TEMPLATES.items()}
UNRELATED = "what is the capital of australia and how big is sydney harbour"


def fit(texts: list[str], labels: list[str], oos_label: str | None = None) -> IntentClassifier:
    model = IntentClassifier()
    model.fit(texts, labels, HashingEmbedder().encode(texts), oos_label=oos_label)
    return model


def predict(model: IntentClassifier, texts: list[str]) -> list[IntentPrediction]:
    return model.predict(texts, HashingEmbedder().encode(texts))


def test_predicts_the_trained_intents_with_probabilities() -> None:
    model = fit(*dataset())
    assert model.labels == sorted(TEMPLATES)
    predictions = predict(model, list(QUERIES.values()))
    assert [p.label for p in predictions] == list(QUERIES)
    for p in predictions:
        assert not p.is_unknown and 0.0 < p.confidence <= 1.0
        assert len(p.alternatives) == 3 and p.alternatives[0] == (p.label, p.confidence)
        assert [prob for _, prob in p.alternatives] == sorted((prob for _, prob in p.alternatives), reverse=True)


def test_predictions_say_whether_every_classifier_of_the_ensemble_agrees() -> None:
    model = fit(*dataset())
    assert all(p.heads_agree for p in predict(model, list(QUERIES.values())))
    mixed = predict(model, ["forgot the password, want a refund"])[0]  # two intents' words: the heads split
    assert not mixed.heads_agree


def test_fit_reports_cross_validated_metrics_and_progress() -> None:
    texts, labels = dataset()
    seen: list[float] = []
    metrics = IntentClassifier().fit(
        texts, labels, HashingEmbedder().encode(texts), progress=lambda fraction, message: seen.append(fraction)
    )
    assert 0.9 <= metrics["cv_accuracy"] <= 1.0
    assert metrics["n_labels"] == 4 and "reject_threshold" not in metrics
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_closed_set_model_never_answers_unknown() -> None:
    model = fit(*dataset())
    assert model.threshold is None
    assert not any(p.is_unknown for p in predict(model, [UNRELATED, "zzz qqq"]))


def test_oos_label_without_examples_learns_a_reject_threshold() -> None:
    model = fit(*dataset(), oos_label="NO_NODES_DETECTED")
    assert model.threshold is not None and model.threshold > 0.0
    unrelated, known = predict(model, [UNRELATED, QUERIES["refund"]])
    assert unrelated.is_unknown and unrelated.label == UNKNOWN
    assert unrelated.alternatives[0][0] in TEMPLATES  # the best in-scope guess is still there for the agent
    assert known.label == "refund"


def test_out_of_scope_rows_train_the_reject_decision_and_are_not_a_label() -> None:
    model = fit(*dataset(with_oos=True), oos_label="oos")
    assert "oos" not in model.labels
    unrelated, known = predict(model, ["what will the weather be in paris on sunday", QUERIES["password_reset"]])
    assert unrelated.is_unknown and unrelated.label == UNKNOWN
    assert known.label == "password_reset"


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        ([], [], "no training examples"),
        (["a", "b"], ["x", "x"], "at least 2 different intents"),
        (["a", "b", "c"], ["x", "oos", "oos"], "at least 2 different intents"),
        (["a", "  "], ["x", "y"], "example 2 has an empty text"),
        (["a", "b"], ["x"], "differ"),
    ],
)
def test_unusable_training_data_is_refused_with_a_clear_message(
    texts: list[str], labels: list[str], message: str
) -> None:
    with pytest.raises(LabeledDataError, match=message):
        IntentClassifier().fit(texts, labels, HashingEmbedder().encode(texts), oos_label="oos")


def test_saved_model_predicts_the_same(tmp_path: Path) -> None:
    model = fit(*dataset(), oos_label="oos")
    model.save(tmp_path / "m")
    loaded = IntentClassifier.load(tmp_path / "m")
    queries = [*QUERIES.values(), UNRELATED]
    assert predict(loaded, queries) == predict(model, queries)
    assert loaded.labels == model.labels and loaded.threshold == model.threshold


def test_training_data_hash_ignores_order_and_sees_label_changes() -> None:
    texts, labels = dataset()
    assert training_data_hash(texts, labels) == training_data_hash(texts[::-1], labels[::-1])
    assert training_data_hash(texts, labels) != training_data_hash(texts, ["refund", *labels[1:]])


def test_registry_versions_activation_and_rollback(tmp_path: Path) -> None:
    registry = IntentModelRegistry(tmp_path / "intent")
    assert registry.active() is None and registry.rollback() is None
    texts, labels = dataset()
    first = registry.save_version(fit(texts, labels), metrics={"cv_accuracy": 0.9}, data_hash="h1")
    assert registry.active() is None  # saving does not activate
    registry.activate(first)
    fewer = [i for i, label in enumerate(labels) if label != "refund"]
    second_model = fit([texts[i] for i in fewer], [labels[i] for i in fewer])
    second = registry.save_version(second_model, metrics={"cv_accuracy": 0.95}, data_hash="h2")
    registry.activate(second)
    active = registry.active()
    assert active is not None
    model, info = active
    assert info["version"] == second and info["data_hash"] == "h2" and info["metrics"] == {"cv_accuracy": 0.95}
    assert "refund" not in model.labels and info["labels"] == model.labels and info["created_at"]
    assert [(v["version"], v["active"]) for v in registry.versions()] == [(first, False), (second, True)]
    assert registry.rollback() == first
    active = registry.active()
    assert active is not None and "refund" in active[0].labels
    assert registry.rollback() is None
    with pytest.raises(KeyError):
        registry.activate("v9999")


def test_failed_training_leaves_the_active_model_in_place(tmp_path: Path) -> None:
    registry = IntentModelRegistry(tmp_path / "intent")
    texts, labels = dataset()
    _, version = train_and_activate(registry, texts, labels, HashingEmbedder().encode(texts))
    with pytest.raises(LabeledDataError):
        train_and_activate(registry, texts[:3], labels[:3], HashingEmbedder().encode(texts[:3]))
    active = registry.active()
    assert active is not None and active[1]["version"] == version
    assert len(registry.versions()) == 1
    assert json.loads((tmp_path / "intent" / "active.json").read_text())["active"] == version


def _prediction(label: str, confidence: float, unknown: bool = False) -> IntentPrediction:
    return IntentPrediction(UNKNOWN if unknown else label, confidence, unknown, [(label, confidence)])


def test_evaluate_counts_rejected_out_of_scope_rows_as_right() -> None:
    predictions = [
        _prediction("refund", 0.95),  # right, covered
        _prediction("refund", 0.92),  # wrong, covered
        _prediction("card_arrival", 0.5),  # right, not covered
        _prediction("refund", 0.3, unknown=True),  # oos, rejected: right
        _prediction("refund", 0.6),  # oos, accepted: wrong
    ]
    result = evaluate(predictions, ["refund", "card_arrival", "card_arrival", "oos", "oos"], "oos")
    assert result["accuracy"] == pytest.approx(3 / 5)
    assert result["in_scope_accuracy"] == pytest.approx(2 / 3)
    assert result["oos_recall"] == pytest.approx(1 / 2)
    assert result["coverage_at_90"] == pytest.approx(2 / 5)
    assert result["error_at_90"] == pytest.approx(1 / 2)
    assert evaluate(predictions[:3], ["refund", "card_arrival", "card_arrival"], "oos")["oos_recall"] is None


def test_expected_calibration_error_is_zero_when_confidence_matches_accuracy() -> None:
    confidence = np.array([0.75] * 4 + [1.0] * 2)
    assert expected_calibration_error(confidence, np.array([1, 1, 1, 0, 1, 1])) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([0.9, 0.9]), np.array([0, 0])) == pytest.approx(0.9)


REAL_TRAIN = {
    "card_arrival": [
        "my card has not arrived yet",
        "when will i receive my new card",
        "still waiting for the card you sent",
        "how long does card delivery take",
        "the card never came in the mail",
        "is my card on its way",
    ],
    "refund": [
        "i want my money back",
        "how do i get a refund for my purchase",
        "please reimburse me for the faulty item",
        "can i return this and be refunded",
        "refund the charge for the order",
        "i need to request a refund",
    ],
    "password_reset": [
        "i forgot my password",
        "how do i reset my login password",
        "cannot sign in, need a new password",
        "my password does not work anymore",
        "help me change my password",
        "locked out of my account, reset password",
    ],
}


@pytest.mark.real_models
def test_real_embeddings_understand_paraphrases_and_reject_off_topic() -> None:
    embedder = MiniLMEmbedder()
    texts = [t for examples in REAL_TRAIN.values() for t in examples]
    labels = [label for label, examples in REAL_TRAIN.items() for _ in examples]
    model = IntentClassifier()
    model.fit(texts, labels, embedder.encode(texts), oos_label="NO_NODES_DETECTED")
    queries = ["the plastic card you mailed me still isn't here", "give me back what i paid", "weather for tomorrow"]
    card, refund, weather = model.predict(queries, embedder.encode(queries))
    assert card.label == "card_arrival" and refund.label == "refund"
    assert weather.is_unknown and weather.label == UNKNOWN


@pytest.mark.real_models
def test_bench_reports_every_key(tmp_path: Path) -> None:
    from engine.bench.intent import run

    rows = [(t, label) for label, examples in REAL_TRAIN.items() for t in examples]
    (tmp_path / "train.csv").write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows))
    (tmp_path / "test.csv").write_text(
        "text,label\nwhere is my new card,card_arrival\nrefund me please,refund\nwho won the match,oos\n"
    )
    result = run(train=tmp_path / "train.csv", test=tmp_path / "test.csv", oos_label="oos")
    for key in [
        "accuracy",
        "macro_f1",
        "ece",
        "coverage_at_90",
        "error_at_90",
        "in_scope_accuracy",
        "oos_recall",
        "train_seconds",
        "predict_per_second",
    ]:
        assert key in result
    assert result["in_scope_accuracy"] == 1.0 and result["oos_recall"] is not None
    assert json.loads(json.dumps(result)) == result
