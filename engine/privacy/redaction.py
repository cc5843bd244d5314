"""PII redaction: typed placeholders such as [EMAIL_1] for emails, phones, cards, IBANs, addresses, order/account ids.

Pure regular expressions plus checksums (Luhn for cards, mod-97 for IBANs). Detectors run in priority order; each
sees the text with what earlier detectors claimed blanked out, so a Luhn-valid card is never also a phone and an
IBAN is never read as an account number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from engine.privacy.pii import (
    Found,
    PiiKind,
    find_addresses,
    find_cards,
    find_emails,
    find_ibans,
    find_ids,
    find_phones,
)

__all__ = ["PiiKind", "PiiSpan", "Redaction", "redact", "restore"]


@dataclass(frozen=True)
class PiiSpan:
    """One detected value: `text[start:end] == value` in the original text, shown as `placeholder`."""

    kind: PiiKind
    start: int
    end: int
    value: str
    placeholder: str


@dataclass(frozen=True)
class Redaction:
    """The redacted text and the spans (offsets into the original text) it replaced."""

    text: str
    spans: list[PiiSpan] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """True when at least one value was redacted."""
        return bool(self.spans)


Detector = Callable[[str], Iterator[tuple[int, int, PiiKind]]]


def _as(kind: PiiKind, find: Callable[[str], Found]) -> Detector:
    return lambda text: ((start, end, kind) for start, end in find(text))


_DETECTORS: list[Detector] = [
    _as(PiiKind.EMAIL, find_emails),
    _as(PiiKind.IBAN, find_ibans),
    _as(PiiKind.CARD, find_cards),
    _as(PiiKind.ADDRESS, find_addresses),
    find_ids,  # ORDER and ACCOUNT
    _as(PiiKind.PHONE, find_phones),
]
_PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(k.name for k in PiiKind) + r")_\d+\]")
_BLANK = "\u2588"  # what a claimed span looks like to later detectors


def _detect(text: str) -> list[tuple[int, int, PiiKind]]:
    taken: list[tuple[int, int, PiiKind]] = []
    visible = text
    for detect in _DETECTORS:
        new: list[tuple[int, int, PiiKind]] = []
        for start, end, kind in sorted(detect(visible), key=lambda span: (span[0], -span[1])):
            if start < end and (not new or start >= new[-1][1]) and _BLANK not in visible[start:end]:
                new.append((start, end, kind))
        if new:
            pieces, cursor = [], 0
            for start, end, _ in new:
                pieces += [visible[cursor:start], _BLANK * (end - start)]
                cursor = end
            visible = "".join([*pieces, visible[cursor:]])
            taken += new
    return sorted(taken)


def redact(text: str) -> Redaction:
    """Replace PII in `text` by typed placeholders; the same value gets the same placeholder within one text."""
    counters: dict[PiiKind, int] = {}
    placeholders: dict[tuple[PiiKind, str], str] = {}  # keyed by exact spelling, so restore() is verbatim
    spans: list[PiiSpan] = []
    pieces: list[str] = []
    cursor = 0
    for start, end, kind in _detect(text):
        value = text[start:end]
        if (kind, value) not in placeholders:
            counters[kind] = counters.get(kind, 0) + 1
            placeholders[kind, value] = f"[{kind.name}_{counters[kind]}]"
        spans.append(PiiSpan(kind, start, end, value, placeholders[kind, value]))
        pieces += [text[cursor:start], placeholders[kind, value]]
        cursor = end
    pieces.append(text[cursor:])
    return Redaction("".join(pieces), spans)


def restore(redacted_text: str, spans: list[PiiSpan]) -> str:
    """Put the original values back for every placeholder of `spans` (e.g. in an LLM reply); others stay as they are."""
    values = {span.placeholder: span.value for span in spans}
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(), m.group()), redacted_text)
