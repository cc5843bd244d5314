"""PII redaction: typed placeholders such as [EMAIL_1] for emails, phones, cards, IBANs, addresses, names and ids.

Checksums come from python-stdnum (Luhn for cards, mod-97 for IBANs), phone numbers from libphonenumber (read in the
desk's and the customer's regions), person names from spaCy's NER plus the names the caller knows, addresses from
patterns per country. Detectors run in priority order; each sees the text with what earlier detectors claimed
blanked out, so a Luhn-valid card is never also a phone and an IBAN is never read as an account number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from engine.privacy.pii import (
    ID_KEYWORD_BEFORE_RE,
    Entities,
    Found,
    PiiKind,
    cued_names,
    find_addresses,
    find_cards,
    find_emails,
    find_ibans,
    find_ids,
    find_phone_numbers,
    find_phones,
    find_postal_addresses,
    kept,
    known_names,
    lexicon_names,
    ner_names,
    plausible_phone,
)
from engine.privacy.redaction_context import RedactionContext, desk_context

__all__ = ["PiiKind", "PiiSpan", "Redaction", "RedactionContext", "redact", "redact_many", "restore"]


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


@dataclass(frozen=True)
class _Hints:
    context: RedactionContext
    ner: Entities  # people and places the NER model found in the original text


Span = tuple[int, int, PiiKind]
Detector = Callable[[str, _Hints], Iterator[Span]]


def _as(kind: PiiKind, find: Callable[[str], Found]) -> Detector:
    return lambda text, _: ((start, end, kind) for start, end in find(text))


def _ids_and_phones(text: str, hints: _Hints) -> Iterator[Span]:
    """Order and account ids and phone numbers compete for the same digits: a number that is surely a phone number
    ("+", an extension, valid in the region, phone words) beats an id keyword near it ("the number on the account is
    ..."), an id beats any other phone number ("order 5551234567")."""
    phones = list(find_phone_numbers(text, hints.context.regions))
    sure = _first_fit([(start, end, PiiKind.PHONE) for start, end, outranks in phones if outranks], [])
    ids = _first_fit(list(find_ids(text)), sure)
    rest = _first_fit([(start, end, PiiKind.PHONE) for start, end, outranks in phones if not outranks], sure + ids)
    return iter(sure + ids + rest)


def _legacy_phones(text: str, _: _Hints) -> Iterator[Span]:
    for start, end in find_phones(text):
        if plausible_phone(text, start, end):
            yield start, end, PiiKind.PHONE


def _names(text: str, hints: _Hints) -> Iterator[Span]:
    for start, end in [*known_names(text, hints.context.names)]:
        yield start, end, PiiKind.NAME
    for start, end in [*hints.ner.persons, *cued_names(text), *lexicon_names(text, hints.ner.places)]:
        if not kept(text[start:end], hints.context.keep):
            yield start, end, PiiKind.NAME


_DETECTORS: list[Detector] = [
    _as(PiiKind.EMAIL, find_emails),
    _as(PiiKind.IBAN, find_ibans),
    _as(PiiKind.CARD, lambda text: find_cards(text, after_id_keyword=ID_KEYWORD_BEFORE_RE)),
    _as(PiiKind.ADDRESS, find_postal_addresses),  # before phones: a postcode block is not a phone number
    _as(PiiKind.ADDRESS, find_addresses),
    _ids_and_phones,  # ORDER and ACCOUNT ("order #", "acct no.") and phone numbers by libphonenumber
    _legacy_phones,  # shapes libphonenumber does not read as valid, with phone words around them
    _names,
]
_PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(k.name for k in PiiKind) + r")_\d+\]")
_BLANK = "\u2588"  # what a claimed span looks like to later detectors


def _first_fit(spans: list[Span], taken: list[Span]) -> list[Span]:
    """The spans (by start, the longer first) that overlap neither `taken` nor one kept before them."""
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda span: (span[0], -span[1])):
        if span[0] < span[1] and not any(span[0] < end and start < span[1] for start, end, _ in [*taken, *chosen]):
            chosen.append(span)
    return chosen


def _detect(text: str, hints: _Hints) -> list[Span]:
    taken: list[Span] = []
    visible = text
    for detect in _DETECTORS:
        new = _first_fit([span for span in detect(visible, hints) if _BLANK not in visible[span[0] : span[1]]], [])
        if new:
            pieces, cursor = [], 0
            for start, end, _ in new:
                pieces += [visible[cursor:start], _BLANK * (end - start)]
                cursor = end
            visible = "".join([*pieces, visible[cursor:]])
            taken += new
    return sorted(taken)


def _replace(text: str, found: Iterable[Span]) -> Redaction:
    counters: dict[PiiKind, int] = {}
    placeholders: dict[tuple[PiiKind, str], str] = {}  # keyed by exact spelling, so restore() is verbatim
    spans: list[PiiSpan] = []
    pieces: list[str] = []
    cursor = 0
    for start, end, kind in found:
        value = text[start:end]
        if (kind, value) not in placeholders:
            counters[kind] = counters.get(kind, 0) + 1
            placeholders[kind, value] = f"[{kind.name}_{counters[kind]}]"
        spans.append(PiiSpan(kind, start, end, value, placeholders[kind, value]))
        pieces += [text[cursor:start], placeholders[kind, value]]
        cursor = end
    pieces.append(text[cursor:])
    return Redaction("".join(pieces), spans)


def redact(text: str, context: RedactionContext | None = None) -> Redaction:
    """Replace PII in `text` by typed placeholders; the same value gets the same placeholder within one text."""
    return redact_many([text], [context])[0]


def redact_many(
    texts: Sequence[str], contexts: Sequence[RedactionContext | None] | RedactionContext | None = None
) -> list[Redaction]:
    """`redact` for many texts at once (the NER model reads them in batches); one context for all or one per text."""
    if contexts is None or isinstance(contexts, RedactionContext):
        contexts = [contexts] * len(texts)
    desk = desk_context()
    entities = ner_names(texts)
    return [
        _replace(text, _detect(text, _Hints((context or RedactionContext()).with_defaults(desk), ner)))
        for text, context, ner in zip(texts, contexts, entities, strict=True)
    ]


def restore(redacted_text: str, spans: list[PiiSpan]) -> str:
    """Put the original values back for every placeholder of `spans` (e.g. in an LLM reply); others stay as they are."""
    values = {span.placeholder: span.value for span in spans}
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(), m.group()), redacted_text)
