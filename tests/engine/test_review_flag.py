"""The review flag is about the intent's certainty, with its reason in words; the route is a separate fact."""

from __future__ import annotations

from engine.review import DISAGREE, UNLIKE_PAST, review_reason


def test_a_sure_intent_the_classifiers_agree_on_needs_no_review() -> None:
    assert review_reason(is_unknown=False, confidence=1.0, heads_agree=True, threshold=0.8) == ""


def test_below_the_threshold_says_both_numbers() -> None:
    reason = review_reason(is_unknown=False, confidence=0.62, heads_agree=True, threshold=0.8)
    assert reason == "confidence 62% is below the 80% review threshold"


def test_just_below_the_threshold_does_not_read_as_equal_to_it() -> None:
    reason = review_reason(is_unknown=False, confidence=0.798, heads_agree=True, threshold=0.8)
    assert reason == "confidence 79.8% is below the 80% review threshold"


def test_disagreeing_classifiers_flag_even_a_confident_intent() -> None:
    assert review_reason(is_unknown=False, confidence=0.97, heads_agree=False, threshold=0.8) == DISAGREE
    both = review_reason(is_unknown=False, confidence=0.5, heads_agree=False, threshold=0.8)
    assert both == f"confidence 50% is below the 80% review threshold; {DISAGREE}"


def test_an_unknown_message_is_flagged_as_unlike_past_tickets_whatever_its_rejected_confidence() -> None:
    assert review_reason(is_unknown=True, confidence=0.99, heads_agree=True, threshold=0.8) == UNLIKE_PAST
