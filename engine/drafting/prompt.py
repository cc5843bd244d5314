"""The drafting prompt: a fixed prefix (cached by llama.cpp across tickets), then only what is new for this ticket.

Chat messages, rendered by the GGUF's own chat template:
- PREFIX: the system instructions and two worked examples, identical for every ticket, so their KV stays in
  llama.cpp's cache and only the ticket's own part is processed (about 60-150 tokens);
- the ticket: the customer's earlier tickets and the conversation so far (each only when given), the customer's
  message, then the notes: the few source sentences that matter for the message, each with its source number.

Small models copy more than they compose, so the model is asked for the one task it does well: rewrite each
note as one sentence to the customer, keeping its [n]. Greeting and closing are added by code.

Every part is clipped to a budget in tokens as well as words, so no message (a URL, base64, or Japanese text
without spaces) can push the prompt past the model's context: the parts' budgets add up to well under it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.drafting.relevance import RankedSentence, SentenceRanker
from engine.drafting.sources import Source

INSTRUCTIONS = (
    "You turn support notes into a reply to the customer. Write one sentence for each note, in the note's own "
    "words, addressed to the customer, and end it with the note's number in brackets. Add nothing that is not "
    "in the notes."
)
_EXAMPLES = (
    (
        "Customer: I want to send back the jacket, it does not fit\n"
        "Notes:\n[1] Items can be returned within 30 days of delivery.\n[2] Ask the customer for the order ID.",
        "Items can be returned within 30 days of delivery [1].\nPlease send me your order ID [2].",
    ),
    (
        "Customer: my card keeps getting declined\n"
        "Notes:\n[1] Check that the billing address matches the card.\n"
        "[2] The customer can add another card in account settings.\n[1] Expired cards are declined.",
        "Please check that the billing address matches the card [1].\n"
        "You can add another card in your account settings [2].\nExpired cards are declined [1].",
    ),
)
PREFIX: tuple[dict[str, str], ...] = (
    {"role": "system", "content": INSTRUCTIONS},
    *(
        m
        for user, reply in _EXAMPLES
        for m in ({"role": "user", "content": user}, {"role": "assistant", "content": reply})
    ),
)

MAX_NOTES = 3
NOTE_WORD_BUDGET = 70  # words of source text shown in all (about 90 tokens)
NOTE_WORDS = 45  # one long sentence is clipped to this
MIN_NOTE_WORDS = 4  # shorter fragments ("Order ID.") say too little to be a note, unless nothing else is left
MIN_RELATIVE_RELEVANCE = 0.5  # a note after the first must score at least half the best one
MESSAGE_WORDS = 80
TURN_WORDS = 40
TURNS = 4
EARLIER_TICKETS = 2
EARLIER_TICKET_WORDS = 25
# Token budgets of the parts (a word is 1-3 tokens; text without spaces is clipped by these alone). All of them
# together, with the labels, stay under 800 tokens: with the prefix and the reply that fits a 2,048-token context.
MESSAGE_TOKENS = 200
TURN_TOKENS = 60
EARLIER_TICKET_TOKENS = 40
NOTE_TOKENS = 70
PROMPT_TOKEN_LIMIT = (
    MESSAGE_TOKENS + TURNS * TURN_TOKENS + EARLIER_TICKETS * EARLIER_TICKET_TOKENS + MAX_NOTES * NOTE_TOKENS + 60
)

TokenCounter = Callable[[str], int]


def utf8_bytes(text: str) -> int:
    """An upper bound of the tokens of any byte-level tokenizer: one token covers at least one byte."""
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class Prompt:
    """Chat messages for the model and the notes (source sentences) it was shown, best first."""

    messages: list[dict[str, str]]
    notes: list[RankedSentence]

    @property
    def shown(self) -> dict[int, list[str]]:
        """The sentences of each source shown to the model, by source number."""
        out: dict[int, list[str]] = {}
        for note in self.notes:
            out.setdefault(note.source, []).append(note.sentence)
        return out


def build_prompt(
    *,
    customer_message: str,
    sources: Sequence[Source],
    conversation: Sequence[tuple[str, str]] = (),
    earlier_tickets: Sequence[str] = (),
    ranker: SentenceRanker | None = None,
    count_tokens: TokenCounter = utf8_bytes,
) -> Prompt:
    """Build the chat prompt for one ticket; earlier tickets and conversation appear only when given.

    `count_tokens` is the model's tokenizer; without one, UTF-8 bytes bound the tokens from above."""
    notes = select_notes((ranker or SentenceRanker()).rank(customer_message, sources))

    def clip(text: str, words: int, tokens: int) -> str:
        return clip_text(text, max_words=words, max_tokens=tokens, count_tokens=count_tokens)

    parts: list[str] = []
    if earlier_tickets:
        parts.append("Earlier tickets from this customer:")
        parts.extend(
            f"- {clip(t, EARLIER_TICKET_WORDS, EARLIER_TICKET_TOKENS)}" for t in earlier_tickets[-EARLIER_TICKETS:]
        )
    if conversation:
        parts.append("Conversation so far:")
        parts.extend(
            f"{role.capitalize()}: {clip(text, TURN_WORDS, TURN_TOKENS)}" for role, text in conversation[-TURNS:]
        )
    parts.append(f"Customer: {clip(customer_message, MESSAGE_WORDS, MESSAGE_TOKENS)}")
    parts.append("Notes:")
    parts.extend(f"[{note.source}] {clip(note.sentence, NOTE_WORDS, NOTE_TOKENS)}" for note in notes)
    return Prompt(messages=[*PREFIX, {"role": "user", "content": "\n".join(parts)}], notes=notes)


def select_notes(ranked: Sequence[RankedSentence]) -> list[RankedSentence]:
    """The most relevant distinct sentences of at least MIN_NOTE_WORDS words within the word budget; one at least."""
    ranked = [r for r in ranked if len(r.sentence.split()) >= MIN_NOTE_WORDS] or list(ranked[:1])
    notes: list[RankedSentence] = []
    seen: set[str] = set()
    words = 0
    for r in ranked:
        key = " ".join(r.sentence.lower().split())
        size = len(r.sentence.split())
        if key in seen or (
            notes and (words + size > NOTE_WORD_BUDGET or r.score < MIN_RELATIVE_RELEVANCE * notes[0].score)
        ):
            continue
        notes.append(r)
        seen.add(key)
        words += size
        if len(notes) == MAX_NOTES:
            break
    return notes


def clip_text(text: str, *, max_words: int, max_tokens: int, count_tokens: TokenCounter = utf8_bytes) -> str:
    """The text cut to at most `max_words` words and `max_tokens` tokens (" ..." marks a cut)."""
    words = text.split()
    clipped = " ".join(words[:max_words])
    cut = len(words) > max_words
    if count_tokens(clipped) > max_tokens:
        low, high = 0, len(clipped)  # the longest prefix within the budget, the marker included
        while low < high:
            middle = (low + high + 1) // 2
            if count_tokens(clipped[:middle] + " ...") <= max_tokens:
                low = middle
            else:
                high = middle - 1
        clipped, cut = clipped[:low].rstrip(), True
    return clipped + " ..." if cut else clipped
