"""Sentiment scorer: labels, valence, arousal and urgency on concrete messages, bad input, trend, persistence."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from engine.nlp.embedder import HashingEmbedder, MiniLMEmbedder
from engine.nlp.sentiment.scorer import SentimentScore, SentimentScorer, frustration_rising

CALM = "Hi, could you tell me how to change the billing address on my account?"
ANGRY = "THIS IS RIDICULOUS!!! I HAVE BEEN WAITING THREE WEEKS AND NOBODY HELPS ME. WORST SERVICE EVER"
RENT = "my account was charged twice and rent is due tomorrow"
FOLLOW_UP = "Any news on my request?"
HAPPY = "Thank you so much, your agent fixed it in minutes!"


@pytest.fixture(scope="module")
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="module")
def scorer(fake_embedder: HashingEmbedder) -> SentimentScorer:
    return SentimentScorer.default(fake_embedder)


def _score(scorer: SentimentScorer, embedder: HashingEmbedder | MiniLMEmbedder, texts: list[str], **kw) -> list:
    return scorer.score(texts, embedder.encode(texts), **kw)


def _in_range(score: SentimentScore) -> bool:
    values = (score.probability, score.valence, score.arousal, score.urgency)
    return (
        all(math.isfinite(v) for v in values)
        and -1 <= score.valence <= 1
        and 0 <= score.arousal <= 1
        and (0 <= score.urgency <= 1 and 0 <= score.probability <= 1)
    )


def test_calm_question_is_calm_and_not_urgent(scorer: SentimentScorer, fake_embedder: HashingEmbedder) -> None:
    (calm,) = _score(scorer, fake_embedder, [CALM])
    assert calm.arousal < 0.3
    assert calm.urgency < 0.25  # "billing address" is not money at stake
    assert not {"all caps", "time pressure", "money at stake"} & set(calm.cues)


def test_angry_all_caps_complaint_is_agitated_and_negative(
    scorer: SentimentScorer, fake_embedder: HashingEmbedder
) -> None:
    calm, angry = _score(scorer, fake_embedder, [CALM, ANGRY])
    assert angry.label == "negative"
    assert angry.valence < 0
    assert angry.arousal > 0.8 > calm.arousal
    assert {"all caps", "exclamation", "repeated punctuation", "intense words"} <= set(angry.cues)


def test_double_charge_with_rent_due_tomorrow_is_urgent(
    scorer: SentimentScorer, fake_embedder: HashingEmbedder
) -> None:
    calm, rent = _score(scorer, fake_embedder, [CALM, RENT])
    assert rent.urgency >= 0.6
    assert rent.urgency > calm.urgency + 0.3
    assert {"money at stake", "time pressure"} <= set(rent.cues)


def test_third_follow_up_raises_urgency(scorer: SentimentScorer, fake_embedder: HashingEmbedder) -> None:
    first, third = _score(scorer, fake_embedder, [FOLLOW_UP, FOLLOW_UP], prior_inbound_count=[0, 2])
    assert "repeated contact" in third.cues and "repeated contact" not in first.cues
    assert third.urgency >= first.urgency + 0.3
    (worded,) = _score(scorer, fake_embedder, ["This is the third time I'm writing about my refund."])
    assert "repeated contact" in worded.cues


def test_other_urgency_cues(scorer: SentimentScorer, fake_embedder: HashingEmbedder) -> None:
    texts = [
        "The app is down and I can't log in",
        "Fix this or I'm cancelling my account and switching to another bank",
        "There is smoke coming out of the charger you sold me",
    ]
    down, leave, safety = _score(scorer, fake_embedder, texts)
    assert "service down" in down.cues
    assert "threat to leave" in leave.cues
    assert "safety" in safety.cues and safety.urgency >= 0.7


def test_bad_input_gets_a_score_or_unknown(scorer: SentimentScorer, fake_embedder: HashingEmbedder) -> None:
    texts = [
        "",
        "   \n\t ",
        "😡😡😡",
        "🤷",
        "My order never came. " * 5000,  # about 100 kB
        "Mi pedido no llegó y nadie responde, please help asap!!",
        "<html><body><p>I was <b>charged twice</b>&nbsp;!!</p><script>var rent = 'x';</script></body></html>",
        "<br><br>&nbsp;",
        "你好，我的账户被锁定了",
    ]
    assert len(texts[4]) >= 100_000
    scores = _score(scorer, fake_embedder, texts)
    assert len(scores) == len(texts) and all(_in_range(s) for s in scores)
    empty, blank, angry_emoji, shrug, long, mixed, html_laden, only_tags, chinese = scores
    assert empty.label == blank.label == shrug.label == only_tags.label == "unknown"
    assert empty.probability == 0.0 and "no readable text" in empty.cues
    assert angry_emoji.label != "unknown" and angry_emoji.valence < 0 and "intense emoji" in angry_emoji.cues
    assert long.label in {"negative", "neutral", "positive"}
    assert mixed.label != "unknown" and "time pressure" in mixed.cues
    assert "money at stake" in html_laden.cues and "time pressure" not in html_laden.cues  # script text ignored
    assert chinese.label != "unknown"


def test_nan_embeddings_and_wrong_shapes(scorer: SentimentScorer, fake_embedder: HashingEmbedder) -> None:
    vectors = fake_embedder.encode([CALM])
    vectors[0, 0] = np.nan
    assert _in_range(scorer.score([CALM], vectors)[0])
    with pytest.raises(ValueError, match="embeddings"):
        scorer.score([CALM, ANGRY], vectors)
    with pytest.raises(ValueError, match="prior_inbound_count"):
        scorer.score([CALM], fake_embedder.encode([CALM]), prior_inbound_count=[1, 2])
    assert scorer.score([], np.zeros((0, 384), dtype=np.float32)) == []


@pytest.mark.parametrize(
    ("valences", "rising"),
    [
        ([0.2, -0.5], True),
        ([0.4, 0.1, -0.3], True),
        ([-0.2, -0.6], True),
        ([-0.5, -0.3], False),  # getting better
        ([-0.80, -0.85], False),  # already negative, no clear drop
        ([0.6, 0.2], False),  # less positive, still not negative
        ([-0.6], False),
        ([], False),
        ([0.1, float("nan"), -0.5], True),
    ],
)
def test_frustration_rising(valences: list[float], rising: bool) -> None:
    assert frustration_rising(valences) is rising


def _small_training_set() -> tuple[list[str], list[str]]:
    texts = [
        "terrible service, still waiting",
        "awful, my parcel is lost",
        "worst support ever",
        "never again, so disappointed",
        "where is my invoice?",
        "how do I change my address?",
        "what are your opening hours?",
        "can I pay by card?",
        "thanks, great help!",
        "love it, thank you",
        "excellent and quick service",
        "perfect, problem solved",
    ]
    return texts, ["negative"] * 4 + ["neutral"] * 4 + ["positive"] * 4


def test_fit_learns_from_user_data_and_survives_save_load(tmp_path: Path, fake_embedder: HashingEmbedder) -> None:
    texts, labels = _small_training_set()
    steps: list[float] = []
    scorer = SentimentScorer()
    stats = scorer.fit(texts, labels, fake_embedder.encode(texts), progress=lambda f, _m: steps.append(f))
    assert stats["examples"] == 12 and stats["train_accuracy"] == 1.0
    assert steps == sorted(steps) and steps[-1] == 1.0
    probes = ["awful, still waiting for my parcel", "thank you, great service"]
    before = scorer.score(probes, fake_embedder.encode(probes))
    assert [s.label for s in before] == ["negative", "positive"]
    scorer.save(tmp_path / "sentiment")
    after = SentimentScorer.load(tmp_path / "sentiment").score(probes, fake_embedder.encode(probes))
    assert after == before


def test_fit_rejects_bad_labels(fake_embedder: HashingEmbedder) -> None:
    texts, labels = _small_training_set()
    with pytest.raises(ValueError, match="angry"):
        SentimentScorer().fit(texts, [*labels[:-1], "angry"], fake_embedder.encode(texts))
    with pytest.raises(ValueError, match="two different labels"):
        SentimentScorer().fit(texts, ["neutral"] * len(texts), fake_embedder.encode(texts))
    with pytest.raises(RuntimeError, match="not trained"):
        SentimentScorer().score(texts, fake_embedder.encode(texts))


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder()
    embedder.load()
    return embedder


@pytest.mark.real_models
def test_default_scorer_reads_real_messages(minilm: MiniLMEmbedder) -> None:
    scorer = SentimentScorer.default(minilm)
    texts = [CALM, ANGRY, HAPPY, RENT]
    calm, angry, happy, rent = scorer.score(texts, minilm.encode(texts), prior_inbound_count=[0, 0, 0, 2])
    assert (calm.label, angry.label, happy.label) == ("neutral", "negative", "positive")
    assert angry.valence < calm.valence < happy.valence
    assert angry.arousal > calm.arousal
    assert rent.urgency > 0.7 and "repeated contact" in rent.cues


@pytest.mark.real_models
def test_bench_trains_from_scratch_and_reports_the_contract(tmp_path: Path) -> None:
    from engine.bench.sentiment import run

    texts, labels = _small_training_set()
    for name in ("train", "test"):
        with (tmp_path / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(zip(texts, labels, strict=True))
    result = run(train=tmp_path / "train.csv", test=tmp_path / "test.csv")
    for key in ("accuracy", "macro_f1", "recall_negative", "recall_neutral", "recall_positive"):
        assert 0.0 <= result[key] <= 1.0
    assert result["accuracy"] >= 0.9  # the training set itself
    assert result["train_seconds"] > 0 and result["predict_per_second"] > 0
