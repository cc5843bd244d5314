"""Postal addresses found from their postcode block, for the countries the desk serves, then grown to the street.

A postcode in its country's place (US "IA 12921", UK "E94 1YY", AU "NSW, 2000", DE/FR/IT "48775 Magdeburg",
ES "Ourense, 21216", NL "3948 GL", BR "01661-318 City / AM", IN "Lucknow 529170", CA "K1A 0B1") anchors the match;
the street, house number, unit and city before it are taken while the words look like an address (capitalised words,
numbers, street words and particles in lower case) and stop at an ordinary lower-case word or a sentence end.
"""

from __future__ import annotations

import re

from engine.privacy.pii.context import keyword_kind
from engine.privacy.pii.kind import Found

_U = "A-ZÀ-ÖØ-ÞĀ-Ž"
_L = "a-zß-öø-ÿā-ž"
_WORD = rf"[{_U}](?:[{_L}]|['’][{_U}])[\w'’-]*"  # a capitalised word: Magdeburg, D'Arco (not USD, not EUR)
_PLACE_PARTICLE = (
    r"(?:op|de|del|della|di|do|da|dos|das|am|an|der|den|im|in|ob|sur|sous|en|le|la|les|upon|on|by|van|von|ter|ten)"
)
_CITY = rf"{_WORD}(?:[ -](?:{_PLACE_PARTICLE}[ -]){{0,2}}{_WORD}){{0,4}}"
_SP = r"[^\S\n]+"  # a postcode and its city are on one line
_AU_STATES = r"(?:NSW|VIC|QLD|SA|WA|TAS|NT|ACT)"
_UK_POSTCODE = r"(?:GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})"
_ANCHORS = [
    re.compile(rf"(?P<city>{_CITY}),?\s+[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?(?!\w)"),  # US: City, ST 12345
    re.compile(rf"(?P<city>{_CITY}),?\s+{_AU_STATES},?\s+\d{{4}}(?!\w)"),  # AU: City, NSW, 2000
    re.compile(rf"(?<![\w-]){_UK_POSTCODE}(?!\w)"),  # UK
    re.compile(r"\b(?P<city>APO|FPO|DPO) (?:AA|AE|AP) \d{5}(?!\w)"),  # US military and diplomatic mail
    re.compile(r"(?<![\w-])[A-Z]\d[A-Z] ?\d[A-Z]\d(?!\w)"),  # Canada
    re.compile(rf"(?<![\w.,/-])\d{{4}} ?[A-Z]{{2}}(?!\w)(?:,?{_SP}(?P<after>{_CITY}))?"),  # NL: 3948 GL Zaandijk
    re.compile(rf"(?<![\w.,/$€£-])\d{{5}},?{_SP}(?P<after>{_CITY})(?:\s*\([A-Z]{{2}}\))?"),  # DE/FR/IT: 48775 City
    re.compile(rf"(?P<city>{_CITY}),\s*\d{{5}}(?![\w/-]|[.,]\d)"),  # ES: City, 21216
    re.compile(  # BR: 01661-318 City, 01661318 City / SP
        rf"(?<![\w.,/$€£-])(?:\d{{5}}-\d{{3}}{_SP}(?P<after>(?:{_PLACE_PARTICLE} )?{_CITY})(?:\s*/\s*[A-Z]{{2}})?"
        rf"|\d{{8}}{_SP}(?:{_PLACE_PARTICLE} )?{_CITY}\s*/\s*[A-Z]{{2}})(?!\w)"
    ),
    re.compile(rf"(?P<city>{_CITY})[ -]\d{{3}} ?\d{{3}}(?![\w/-]|[.,]\d)"),  # IN: Lucknow 529170
]
# what may stand between the street and the postcode block, read backwards from the block
_LOWER_STREET_WORDS = (
    r"rue|avenue|boulevard|bd|allée|chemin|impasse|place|quai|route|cours|via|viale|piazza|corso|vicolo|largo"
    r"|strada|calle|avenida|paseo|plaza|camino|carrer|rua|travessa|praça|alameda|rodovia|estrada|straat|weg|laan"
    r"|plein|gracht|kade|singel|dreef|hof|road|street|lane|nagar|marg|chowk|apt|apartment|unit|flat|suite|floor"
    r"|piano|interno|scala|puerta|piso|bajo|portal|bloco|casa|lote|quadra|h\.no\.?|no\.?|nr\.?"
)
_BACK_TOKEN_RE = re.compile(
    rf"(?:^|(?<=[\s,(]))(?P<token>{_WORD}\.?|\d{{1,3}}(?:[ªº]|st|nd|rd|th)|\d{{1,6}}[A-Za-z]?(?:[/-]\d{{1,6}}[A-Za-z]?)*|(?i:{_LOWER_STREET_WORDS})\.?"
    rf"|{_PLACE_PARTICLE}|[A-Z]{{1,3}}\.?|#\d+|[{_U}][\w'’-]*\.?)(?P<sep>[^\S\n]*[,\n][^\S\n]*|[^\S\n]+)$"
)
_WINDOW = 160
_MAX_BACK = 10  # tokens before the postcode block
_NOT_CITY_START = frozenset(
    re.findall(
        r"\S+",
        "i my the please order ticket invoice case flight version total from since mobile tel phone cell fax whatsapp "
        "visa mastercard amex",
    )
)


def _grow_left(text: str, start: int) -> int:
    """Start of the street part before a postcode block at `start` (itself when nothing address-like precedes)."""
    window_start = max(0, start - _WINDOW)
    window = text[window_start:start]
    for _ in range(_MAX_BACK):
        m = _BACK_TOKEN_RE.search(window)
        if m is None:
            break
        token = m.group("token")
        if token[0].isupper() and token.lower().rstrip(".") in _NOT_CITY_START:
            break
        window = window[: m.start()]
        end = window.rstrip(" ")
        if end.endswith((".", "!", "?", ":", ";", '"')) and not re.search(r"\b(?:\w{1,4}|\w+\.\w+|\w*str)\.$", end):
            break  # a sentence ends here (not an abbreviation such as "Apt." or "H.No.")
    return window_start + len(window)


def _first_word_ok(text: str, start: int) -> bool:
    """False when a city would start with a common word ("It", "My") or a keyword ("Account", "Mobile")."""
    from spacy.lang.en.stop_words import STOP_WORDS

    word = re.match(r"[\w'’-]+", text[start:])
    if word is None:
        return True
    lower = word.group().lower()
    return lower not in _NOT_CITY_START and lower not in STOP_WORDS and keyword_kind(lower) is None


def find_postal_addresses(text: str) -> Found:
    """Addresses with a postcode block of a served country, with the street and house number before it."""
    spans: list[tuple[int, int]] = []
    for regex in _ANCHORS:
        for m in regex.finditer(text):
            start = m.start("city") if "city" in regex.groupindex and m.group("city") else m.start()
            after = m.start("after") if "after" in regex.groupindex and m.group("after") else None
            if not _first_word_ok(text, start) or (after is not None and not _first_word_ok(text, after)):
                continue
            left = _grow_left(text, start)
            street = text[left:start]
            if "city" not in regex.groupindex and "after" not in regex.groupindex and not re.search(r"\d", street):
                continue  # a UK or Canadian postcode alone, with no house number before it
            if "after" in regex.groupindex and not m.group("after") and not re.search(r"\d", street):
                continue  # NL "2024 AM" without a street or a city
            spans.append((left, m.end()))
    spans.sort(key=lambda s: (s[0], -s[1]))
    end = -1
    for s, e in spans:
        if s >= end:
            yield s, e
            end = e
