"""Phone numbers by pattern: shapes libphonenumber does not read as valid, with the words around them."""

from __future__ import annotations

import re

from engine.privacy.pii.kind import Found

# ---------------------------------------------------------------- phone numbers
_PHONE_RE = re.compile(
    r"(?<![\w@$€£¥#+/.,-])"
    r"(?:(?:\+|\b00)\d{1,3}[ .-]?(?:\(0\)[ .-]?)?)?"  # +44 / 0044 / +44 (0)
    r"(?:\(\d{1,5}\)[ .-]?|0\d{1,4}/)?"  # (555) / (02) / 030/
    r"\d{1,13}(?:[ .-]\d{1,8}){0,5}"
    r"(?![\w@/]|[.,]\d|\s?%)"
)
_WORDS_BEFORE_RE = re.compile(
    r"\b(?:call(?:ed|ing)?|phone|tel|telephone|mobile|cell|cellphone|text(?:ed)?|sms|whatsapp|reach(?:ed)?|contact"
    r"|number|fax|ring|dial|mob)\b[^.!?\n\d]{0,25}$",
    re.IGNORECASE,
)
_WORDS_AFTER_RE = re.compile(
    r"^\W{0,3}(?:is|as)\s+(?:my|our|the|his|her)\s+(?:(?:new|home|work|direct|contact)\s+)?"
    r"(?:cell|phone|mobile|number|tel|telephone|landline|whatsapp)\b",
    re.IGNORECASE,
)
# digits of the national number after a country code (ITU E.164 national plans; unknown codes: 6-12)
_NATIONAL_LENGTHS: dict[str, range] = {
    "1": range(10, 11), "7": range(10, 11), "20": range(9, 11), "27": range(9, 10), "30": range(10, 11),
    "31": range(9, 10), "32": range(8, 10), "33": range(9, 10), "34": range(9, 10), "36": range(8, 10),
    "39": range(6, 12), "40": range(9, 10), "41": range(9, 10), "43": range(4, 14), "44": range(9, 11),
    "45": range(8, 9), "46": range(7, 10), "47": range(8, 9), "48": range(9, 10), "49": range(6, 14),
    "51": range(8, 10), "52": range(10, 11), "53": range(8, 9), "54": range(10, 12), "55": range(10, 12),
    "56": range(9, 10), "57": range(10, 11), "58": range(10, 11), "60": range(8, 11), "61": range(9, 10),
    "62": range(8, 13), "63": range(10, 11), "64": range(8, 11), "65": range(8, 9), "66": range(8, 10),
    "81": range(9, 11), "82": range(8, 11), "84": range(9, 11), "86": range(10, 12), "90": range(10, 11),
    "91": range(10, 11), "92": range(9, 11), "234": range(8, 11), "254": range(9, 10), "351": range(9, 10),
    "353": range(7, 10), "358": range(6, 12), "380": range(9, 10), "420": range(9, 10), "852": range(8, 9),
    "966": range(9, 10), "971": range(8, 10), "972": range(8, 10),
}  # fmt: skip
_SSN_RE = re.compile(r"\d{3}-\d{2}-\d{4}")
_YEARS_RE = re.compile(r"(?:19|20)\d\d(?:[ .-]+(?:19|20)\d\d)+")


def _international_ok(candidate: str) -> bool:
    body = candidate[1:] if candidate.startswith("+") else candidate[2:]
    digits = re.sub(r"\D", "", body.replace("(0)", ""))
    first = re.match(r"\d+", body)
    codes = [first.group()] if first and len(first.group()) <= 3 else [digits[:n] for n in (1, 2, 3)]
    for code in codes:
        if code in _NATIONAL_LENGTHS:
            return len(digits) - len(code) in _NATIONAL_LENGTHS[code]
    return 8 <= len(digits) <= 15


def _national_ok(candidate: str, before: str, after: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    groups = re.findall(r"\d+", candidate)
    n = len(digits)
    if candidate.startswith("("):
        return 9 <= n <= 12
    if "/" in candidate:
        return 9 <= n <= 13
    context = bool(_WORDS_BEFORE_RE.search(before) or _WORDS_AFTER_RE.match(after))
    if len(groups) == 1:  # a bare run of digits is only a phone when the words around say so
        return 9 <= n <= 13 and context  # 612345678: Spanish, Italian, French mobiles written without a gap
    if _SSN_RE.fullmatch(candidate) or _YEARS_RE.fullmatch(candidate):
        return False
    if len(groups) >= 3 and all(len(g) == 4 for g in groups) and not candidate.startswith("0"):
        return False  # 1234-5678-9012 is an id shape, not a dialling plan
    if n == 7:  # US local 555-1234
        return len(groups) == 2 and context
    if n == 9:  # 9-digit national numbers (ES 612 34 56 78) come in three or more groups
        return len(groups) >= 3
    return 10 <= n <= 13


def find_phones(text: str) -> Found:
    """Phone numbers: +CC / 00CC international, (area) forms, grouped national numbers, bare digits with phone words."""
    for m in _PHONE_RE.finditer(text):
        candidate = m.group()
        before = text[max(0, m.start() - 40) : m.start()]
        end = None
        if candidate.startswith(("+", "00")):
            # an international number may run into the next number: keep the longest valid prefix of groups
            cuts = [len(candidate), *sorted((i for i, ch in enumerate(candidate) if ch in " .-"), reverse=True)]
            end = next((cut for cut in cuts if _international_ok(candidate[:cut])), None)
        if end is None and not candidate.startswith("+"):  # 00 that does not dial out: a national number
            after = text[m.end() : m.end() + 40]
            end = len(candidate) if _national_ok(candidate, before, after) else None
        if end is not None:
            yield m.start(), m.start() + end


def phone_words_around(before: str, after: str) -> bool:
    """True when the words before ("call me on") or after ("is my cell") a number say it is a phone number."""
    return bool(_WORDS_BEFORE_RE.search(before) or _WORDS_AFTER_RE.match(after))
