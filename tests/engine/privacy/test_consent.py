"""Consent keywords: a message that asks for a human is recognised, other mentions of people are not."""

from __future__ import annotations

import pytest

from engine.privacy.consent import wants_human


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human please?",
        "I want to speak to a real person",
        "agent please",
        "AGENT!!",
        "Representative.",
        "let me speak with a representative",
        "connect me to a live agent",
        "I need a human, not a bot",
        "transfer me to someone real",
        "is there an actual person I can chat with? put me through to one",
        "I don't want to talk to a bot",
        "stop the bot, get me a human",
        "I'd like to speak to your manager",
        "human please",
        "Operator",
        "I've been trying to reach a human for days",
        "can i get a real human on the line",
    ],
)
def test_requests_for_a_human_are_detected(text: str) -> None:
    assert wants_human(text)


@pytest.mark.parametrize(
    "text",
    [
        "I am a human, not a robot",
        "As a real person I find this annoying",
        "Your agent told me the refund was processed",
        "The representative was very helpful yesterday",
        "I spoke to an agent last week about my order",
        "human error on your side caused this",
        "I don't need a human, the bot answered my question",
        "please forward this to human resources",
        "my order has not arrived",
        "Is this a real person's account?",
        "I'm not a robot, stop asking me to click pictures",
    ],
)
def test_other_mentions_of_people_are_not_requests(text: str) -> None:
    assert not wants_human(text)
