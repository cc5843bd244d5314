"""Phone numbers found by libphonenumber (`phonenumbers`), read with the desk's and the customer's regions."""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

from engine.privacy.pii_kind import Found

LENIENCY = Leniency.VALID  # see SECURITY.md: POSSIBLE found more numbers and more dates/amounts (bench redaction)
_ENOUGH_DIGITS_RE = re.compile(r"\d(?:\D{0,3}\d){5}")  # fewer than six digits is never a phone: skip the matcher


def known_region(code: str) -> str | None:
    """The upper-case region code when libphonenumber knows it ("uk" is GB), else None."""
    code = code.strip().upper()
    code = "GB" if code == "UK" else code
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def find_phone_numbers(text: str, regions: Iterable[str]) -> Found:
    """Numbers libphonenumber reads as valid for one of `regions` (international ones in any region)."""
    if not _ENOUGH_DIGITS_RE.search(text):
        return
    for region in dict.fromkeys(regions):
        for match in PhoneNumberMatcher(text, region, leniency=LENIENCY):
            yield match.start, match.end
