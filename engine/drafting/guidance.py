"""Guidance is for agents only: its steps are shown beside a draft, and no sentence of it may reach a customer."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engine.drafting.text import split_sentences, strip_citations

GRAM = 4  # a guidance sentence is recognised by the 4-word runs it shares with a guidance document
COPIED_SHARE = 0.5  # a sentence with at least this share of its 4-word runs in guidance is guidance
MAX_STEPS = 8
_WORD = re.compile(r"[a-z0-9']+")
_STEP = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+(.+)$")
_BUTTON = re.compile(r"\*\*([^*]+)\*\*")


@dataclass(frozen=True)
class GuidanceSteps:
    """The steps of one guidance document for the case at hand, and the action names its steps mention."""

    key: str
    title: str
    steps: list[str]
    actions: list[str]


def steps_of(key: str, title: str, text: str) -> GuidanceSteps:
    """The numbered or bulleted steps of a guidance text (its first lines when it has none) and their buttons."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    steps = [m.group(1) for line in lines if (m := _STEP.match(line))] or lines
    steps = [" ".join(step.replace("**", "").split()) for step in steps][:MAX_STEPS]
    actions = list(dict.fromkeys(b.strip() for b in _BUTTON.findall(text) if b.strip() != "Tell the customer"))
    return GuidanceSteps(key=key, title=title, steps=steps, actions=actions)


class GuidanceFilter:
    """Finds sentences copied from guidance documents."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._grams = {gram for text in texts for gram in _grams(text)}

    def __bool__(self) -> bool:
        return bool(self._grams)

    def is_guidance(self, sentence: str) -> bool:
        """True when the sentence repeats guidance wording."""
        grams = _grams(sentence)
        return bool(grams) and sum(g in self._grams for g in grams) / len(grams) >= COPIED_SHARE

    def guidance_sentences(self, text: str) -> list[str]:
        """The sentences of a reply that copy guidance."""
        return [s for line in text.splitlines() for s in split_sentences(line) if self.is_guidance(s)]

    def without_guidance(self, text: str) -> tuple[str, list[str]]:
        """The reply with every guidance sentence taken out, and the sentences taken out."""
        if not self._grams:
            return text, []
        removed: list[str] = []
        lines: list[str] = []
        for line in text.split("\n"):
            sentences = split_sentences(line)
            copied = [s for s in sentences if self.is_guidance(s)]
            if not copied:
                lines.append(line)  # untouched, list markers and all
                continue
            removed += copied
            kept = [s for s in sentences if s not in copied]
            if kept:
                lines.append(" ".join(kept))
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), removed


def _grams(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(strip_citations(text).lower())
    return {tuple(words[i : i + GRAM]) for i in range(len(words) - GRAM + 1)}
