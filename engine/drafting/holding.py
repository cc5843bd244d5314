"""The holding reply: what a draft says when neither a past reply nor an article covers the message."""

from __future__ import annotations

from collections.abc import Callable

from engine.drafting.grounding import CLOSING, greeting

HOLDING_BODY = (
    "Thank you for your message. I am looking into your request and will get back to you with an answer shortly."
)
HOLDING_NOTE = (
    "Nothing in the team's past replies or the help centre covers this message: this is a holding reply. "
    "Write the answer yourself, or add an article so the next draft can use it."
)
PAST_REPLY = "past_reply"
ARTICLE = "article"
MODEL = "model"
HOLDING = "holding"


def holding_reply(customer_name: str | None) -> str:
    """A short reply that promises an answer and claims nothing."""
    return f"{greeting(customer_name)}\n\n{HOLDING_BODY}\n\n{CLOSING}"


def stream_words(text: str, on_token: Callable[[str], None] | None) -> None:
    """Hand a finished text to a streaming listener word by word, as a model would."""
    if on_token is None:
        return
    for i, word in enumerate(text.split(" ")):
        on_token(word if i == 0 else f" {word}")
