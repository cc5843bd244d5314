"""Contact PII written as words: email addresses and street addresses (US/UK/AU style, continental, P.O. boxes)."""

from __future__ import annotations

import re

from engine.privacy.pii.kind import Found

_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+'-]{0,63})@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)

_FULL_SUFFIXES = (
    r"street|avenue|road|boulevard|lane|drive|court|way|place|terrace|parkway|circle|highway|square|trail|close"
    r"|crescent|grove|gardens|hill|row|mews|walk|park|alley|plaza|pike|loop|run|path|crossing|expressway|freeway"
    r"|turnpike"
)
_ABBREV_SUFFIXES = r"st|ave|av|rd|blvd|ln|dr|ct|pl|ter|pkwy|cir|hwy|sq|trl|cres|gdns|xing|expy|fwy|tpke"
_SUFFIX = rf"(?:(?i:{_FULL_SUFFIXES})\b|(?i:{_ABBREV_SUFFIXES})\b\.?)"  # the dot of "St." but not a full stop
# in lower-case text only suffixes that rarely end an ordinary phrase ("3 more days", "2 other way" are not addresses)
_LOWER_SUFFIXES = (
    rf"(?:(?:{_ABBREV_SUFFIXES})\b\.?|(?:street|avenue|road|boulevard|lane|drive|terrace|crescent|parkway|highway)\b)"
)
_CAP_WORD = r"(?:[A-Z][A-Za-z'’-]*\.?|\d{1,3}(?:st|nd|rd|th))"
_LOW_WORD = r"(?:[a-z][a-z'’-]*|\d{1,3}(?:st|nd|rd|th))"
_UNIT = r"(?:,?\s*(?:apt|apartment|suite|ste|unit|flat|fl|floor|room|rm|bldg|building|#)\.?\s*#?\s*[A-Za-z0-9-]{1,6})"
_STATE = r"(?:(?:[A-Z]{2,3}|[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\b)"
_POSTCODE = (
    r"(?:\d{5}(?:-\d{4})?"  # US ZIP, DE/FR/ES 5-digit
    r"|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"  # UK
    r"|[A-Z]\d[A-Z]\s?\d[A-Z]\d"  # Canada
    r"|\d{4})\b"  # AU / NL / BE / CH
)
_CITY = r"(?:[A-Z][A-Za-z'’-]+\b(?:\s[A-Z][A-Za-z'’-]+\b){0,2})"
_CITY_TAIL = (
    rf"(?:,?\s+{_CITY}(?:,\s*|\s+){_STATE}?,?\s*{_POSTCODE}"  # , Springfield, IL 62704 / London NW1 6XE
    rf"|,\s*{_CITY},\s*{_STATE}"  # , Springfield, Illinois
    rf"|,?\s+{_POSTCODE}\s+{_CITY})"  # , 10115 Berlin
)
_NUMBER = r"(?:\d{1,6}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?)"
_START = r"(?<![\w$€£.,/-])"
_ADDRESS_RES = [
    # 221B Baker Street / 1600 Pennsylvania Ave NW, Apt 4, Washington, DC 20500 / Unit 5/23 George St, Sydney NSW 2000
    re.compile(
        rf"{_START}(?:(?i:unit|flat|apt|suite)\s*[A-Za-z0-9-]{{1,5}}[,/]\s*)?{_NUMBER}\s+"
        rf"(?:(?:[NSEW]|North|South|East|West)\.?\s+)?(?:{_CAP_WORD}\s+){{0,3}}{_CAP_WORD}\s+"
        rf"{_SUFFIX}(?:\s+(?:[NS][EW]|N|S|E|W)\b\.?)?(?i:{_UNIT})?{_CITY_TAIL}?"
    ),
    # lower case: 12 oak st apt 3
    re.compile(
        rf"{_START}{_NUMBER}\s+(?:{_LOW_WORD}\s+){{0,2}}{_LOW_WORD}\s+{_LOWER_SUFFIXES}(?i:{_UNIT})?"
        rf"{_CITY_TAIL}?"
    ),
    # French / Spanish / Italian order: 12 rue de la Paix, 75002 Paris
    re.compile(
        rf"{_START}{_NUMBER},?\s+(?i:rue|avenue|boulevard|bd|place|allée|chemin|impasse|quai|calle|avenida"
        rf"|via|viale|piazza|corso)\s+(?:(?i:de|du|des|la|le|l'|del|della|di|d')\s*)*{_CAP_WORD}"
        rf"(?:\s+{_CAP_WORD}){{0,2}}{_CITY_TAIL}?"
    ),
    # number after the street: Hauptstraße 5, 10115 Berlin / Berliner Str. 12 / Via Roma 10
    re.compile(
        rf"(?<![\w-])(?:(?:Via|Calle|Avenida|Rua|Viale|Piazza|Corso)\s+{_CAP_WORD}(?:\s+{_CAP_WORD}){{0,2}}"
        rf"|[A-Z][a-zäöüß-]*(?:straße|strasse|str\.|weg|allee|platz|gasse|gracht|straat|plein)"
        rf"|[A-Z][a-zäöüß-]+\s+(?:Straße|Strasse|Str\.|Weg|Allee|Platz|Gasse))"
        rf"\s+\d{{1,5}}[a-z]?\b(?:,?\s+{_POSTCODE}\s+{_CITY})?"
    ),
    # P.O. Box 1234
    re.compile(rf"(?<!\w)(?i:P\.?\s?O\.?\s*Box)\s+\d{{1,7}}\b{_CITY_TAIL}?"),
]


def find_emails(text: str) -> Found:
    """Email addresses (local part @ dotted domain with a 2-24 letter top-level domain)."""
    for m in _EMAIL_RE.finditer(text):
        yield m.start(), m.end()


def find_addresses(text: str) -> Found:
    """Street addresses: number + street name + street suffix, optional unit and city/state/postcode."""
    for regex in _ADDRESS_RES:
        for m in regex.finditer(text):
            end = m.end()
            while end > m.start() and text[end - 1] in " ,":
                end -= 1
            yield m.start(), end
