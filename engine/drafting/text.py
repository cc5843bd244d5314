"""Sentence splitting, citation markers and content words: the text units that grounding works on."""

from __future__ import annotations

import re

# A citation marker as the model may write it: [1], [1, 2], [Source 1], [source 2; 3].
CITATION = re.compile(r"\[\s*(?:sources?\s*)?(\d{1,2}(?:\s*[,;]\s*(?:sources?\s*)?\d{1,2})*)\s*\]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])((?:\s*\[\d{1,2}\])*)\s+(?=\S)")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_LINE_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|[-*+>•]\s+|\d{1,2}[.)]\s+)+")
_EMPHASIS = re.compile(r"\*\*|__|`")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here hers
    herself him himself his how i if in into is it its itself just let me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves also may might must shall us get got via
    s t don't i'm it's we're you're we'll you'll i'll can't won't isn't aren't doesn't didn't that's there's etc e g
    ie please kindly""".split()  # noqa: SIM905 - a word list reads better as prose
)

# Words of courtesy: a sentence made only of these and stopwords states nothing that a source must support.
COURTESY = frozenset(
    """hi hello hey dear thank thanks reaching reach contacting contact out touch happy glad help assist assistance
    sorry apologize apologise apologies inconvenience understand understanding patience regards best sincerely
    wishes welcome great day nice hope hoping support team customer service care know further questions question
    anything else feel free let reply look forward soon today certainly sure absolutely well hope doing""".split()  # noqa: SIM905
)


def split_sentences(text: str) -> list[str]:
    """Split text (plain or Markdown) into sentences; citation markers after a full stop stay with their sentence."""
    out: list[str] = []
    for line in re.split(r"\n\s*", text):
        block = _EMPHASIS.sub("", _LINE_MARKUP.sub("", line)).strip()
        if not block:
            continue
        parts = _SENTENCE_END.split(block)
        # split() with one group alternates sentence, trailing markers, sentence, ...
        for i in range(0, len(parts), 2):
            sentence = parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
            if sentence.strip():
                out.append(sentence.strip())
    return out


def citations_in(text: str) -> list[int]:
    """The source numbers cited in text, in order, without repeats."""
    numbers: list[int] = []
    for match in CITATION.finditer(text):
        for part in re.findall(r"\d+", match.group(1)):
            if int(part) not in numbers:
                numbers.append(int(part))
    return numbers


def strip_citations(text: str) -> str:
    """The text without citation markers, whitespace tidied."""
    return re.sub(r"\s+([.,!?;:])", r"\1", re.sub(r"\s{2,}", " ", CITATION.sub("", text))).strip()


def _stem(word: str) -> str:
    for suffix in ("'s", "ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Stemmed words that carry meaning: stopwords and courtesy words removed."""
    words = _WORD.findall(strip_citations(text).lower())
    return {_stem(w) for w in words if w not in STOPWORDS and w not in COURTESY and len(w) > 1}


def numbers_in(text: str) -> set[str]:
    """The numbers and amounts a text states (citation markers excluded)."""
    return set(_NUMBER.findall(strip_citations(text)))


def cite_at_end(sentence: str, markers: str) -> str:
    """Put citation markers before the sentence's final punctuation: "Text [1]."."""
    match = re.match(r"^(.*?)([.!?]*)$", sentence.strip(), re.DOTALL)
    text, end = (match.group(1), match.group(2)) if match else (sentence, "")
    return f"{text.rstrip()} {markers}{end or '.'}"
