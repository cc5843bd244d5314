"""Phone numbers found by libphonenumber (`phonenumbers`), read with the desk's and the customer's regions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import phonenumbers
from phonenumbers import Leniency, PhoneNumber, PhoneNumberMatcher

from engine.privacy.pii.context import names_an_id
from engine.privacy.pii.numbers import phone_words_around

# POSSIBLE (the length fits the region's plan) rather than VALID (the number is in an assigned range): VALID missed
# numbers of unassigned area codes and local numbers without one; the guards below keep dates and versions out
LENIENCY = Leniency.POSSIBLE
_ENOUGH_DIGITS_RE = re.compile(r"\d(?:\D{0,3}\d){5}")  # fewer than six digits is never a phone: skip the matcher
# 0044 ...: "00" dials out in most countries, read it as "+" (not inside a number: +81 3 0098 8177)
_IDD_00_RE = re.compile(r"(?<![\w+])(?<![\d+][ .-])00(?=[1-9])")
_NOT_A_PHONE_BEFORE_RE = re.compile(
    r"(?:\b(?:version|ver|v|build|release|firmware|update|ios|android|windows|flight|gate|seat|room|ticket|case"
    r"|incident)"
    r"[^\S\n]*(?:no\.?|number|#)?[^\S\n]*|[$€£¥]|\d[.,])\Z",
    re.IGNORECASE,
)
_MORE_DIGITS_RE = re.compile(r"[-.]?\d")
_MIN_DIGITS = 7  # POSSIBLE takes two-digit numbers in some plans (DE); 7 is a local number without area code
_INSIDE_WORD_RE = re.compile(r"(?:\w|\w[-/])\Z")  # INC9091050, CS-2022-36267
_DATE_OR_VERSION_RE = re.compile(
    r"\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d\d|(?:19|20)\d\d[./-]\d{1,2}[./-]\d{1,2}|[1-9]\d?\.\d{1,2}\.\d+\.\d+|\d+[.,]\d\d"
)


def known_region(code: str) -> str | None:
    """The upper-case region code when libphonenumber knows it ("uk" is GB), else None."""
    code = code.strip().upper()
    code = "GB" if code == "UK" else code
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _needs_words(value: str) -> bool:
    """A bare run of digits, or seven or eight digits without a country code: as likely an id as a phone number."""
    return value.isdigit() or (not re.match(r"\+|00\d|\(", value) and sum(ch.isdigit() for ch in value) <= 8)


def plausible_phone(text: str, start: int, end: int) -> bool:
    """False for what only looks like a phone: dates, versions, amounts, ids after a keyword or inside a word."""
    before = text[max(0, start - 40) : start]
    value = text[start:end]
    return not (
        sum(ch.isdigit() for ch in value) < _MIN_DIGITS
        or (_needs_words(value) and not phone_words_around(before, text[end : end + 40]))
        or _MORE_DIGITS_RE.match(text, end)  # a part of a longer number: left to the other detectors
        or _DATE_OR_VERSION_RE.fullmatch(value)
        or _INSIDE_WORD_RE.search(before)
        or _NOT_A_PHONE_BEFORE_RE.search(before)
    )


def _outranks_an_id(text: str, start: int, end: int, number: PhoneNumber, international: bool) -> bool:
    """True when a number is surely a phone number even where an order or account keyword is near: written with "+"
    or "00", with an extension, valid in its region's plan (an assigned range) or with phone words around it, and not
    named an id by the words around it ("account no. ...", "... is my order number")."""
    before, after = text[max(0, start - 60) : start], text[end : end + 40]
    return not names_an_id(before, after) and (
        international
        or bool(number.extension)
        or phonenumbers.is_valid_number(number)
        or phone_words_around(before[-40:], after)
    )


def find_phone_numbers(text: str, regions: Iterable[str]) -> Iterator[tuple[int, int, bool]]:
    """Numbers that fit the dialling plan of one of `regions` (international ones in any region), each with whether
    it outranks an order or account id found at the same place."""
    if not _ENOUGH_DIGITS_RE.search(text):
        return
    readable = _IDD_00_RE.sub(" +", text)  # same length, so offsets stay those of `text`
    for region in dict.fromkeys(regions):
        for match in PhoneNumberMatcher(readable, region, leniency=LENIENCY):
            start = match.start - 1 if text[match.start - 1 : match.start + 1] == "00" else match.start
            if plausible_phone(text, start, match.end):
                sure = _outranks_an_id(text, start, match.end, match.number, readable[match.start] == "+")
                yield start, match.end, sure
