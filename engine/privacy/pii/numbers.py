"""Number-shaped PII: payment cards (Luhn-checked), IBANs (mod-97-checked) and phone numbers."""

from __future__ import annotations

import re

from engine.privacy.pii.kind import Found

# ---------------------------------------------------------------- payment cards
_CARD_RE = re.compile(r"(?<![\w+.,/-])\d(?:[ .-]?\d){12,18}(?![\w-]|[.,]\d)")
# Issuer prefixes: Visa 4, Mastercard 51-55 / 2221-2720, Amex 34/37, Diners 300-305/3095/36/38, JCB 35,
# Discover 6011/644-649/65, UnionPay 62, Maestro 50/56-69.
_CARD_PREFIX_RE = re.compile(r"4|5|6|3(?:0[0-59]|[4-8])|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)")


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_CARD_SEPARATOR_RE = re.compile(r"[ .-]")


def _card_ok(candidate: str) -> bool:
    digits = _CARD_SEPARATOR_RE.sub("", candidate)
    if not (13 <= len(digits) <= 19 and _CARD_PREFIX_RE.match(digits)):
        return False
    groups = [len(g) for g in _CARD_SEPARATOR_RE.split(candidate)]
    grouping_ok = (
        len(groups) == 1
        or tuple(groups) in {(4, 6, 5), (4, 6, 4)}  # Amex, Diners
        or (all(n == 4 for n in groups[:-1]) and 1 <= groups[-1] <= 4)
    )
    return grouping_ok and len(set(_CARD_SEPARATOR_RE.findall(candidate))) <= 1 and luhn_ok(digits)


def find_cards(text: str) -> Found:
    """Card numbers of 13-19 digits, grouped the way cards are printed, with an issuer prefix and a valid Luhn digit."""
    pos = 0
    while m := _CARD_RE.search(text, pos):
        raw = m.group()
        # the whole run first, then shorter runs ending at a separator (a card followed by another number)
        ends, count = [], 0
        for i, ch in enumerate(raw):
            if ch.isdigit():
                count += 1
            elif 13 <= count <= 19:
                ends.append(i)
        end = next((cut for cut in [len(raw), *reversed(ends)] if _card_ok(raw[:cut])), None)
        if end is not None:
            yield m.start(), m.start() + end
            pos = m.start() + end
        else:  # a number before the card may have joined the run: try again from the next group
            gap = re.search(r"[ .-]", raw)
            pos = m.start() + gap.end() if gap else m.end()


# ---------------------------------------------------------------- IBANs
# Length of the IBAN (country code + check digits + BBAN) per country (SWIFT IBAN registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
# compact (any case) or in the printed groups of four (upper case)
_IBAN_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,30}"
    r"|[A-Z]{2}\d{2}(?:[ -][A-Z0-9]{4}){2,8}(?:[ -][A-Z0-9]{1,3})?)(?![A-Za-z0-9])"
)


def iban_ok(iban: str) -> bool:
    """True when the compact, upper-case IBAN has its country's length and valid mod-97 check digits."""
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit() or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def find_ibans(text: str) -> Found:
    """IBANs with a known country length and valid check digits, compact or grouped."""
    for m in _IBAN_RE.finditer(text):
        raw = m.group()
        length = IBAN_LENGTHS.get(raw[:2].upper())
        if length is None:
            continue
        end, kept = len(raw), 0
        for i, ch in enumerate(raw):  # a grouped IBAN may run into a following number: cut at its length
            kept += ch.isalnum()
            if kept == length:
                end = i + 1
                break
        if (end == len(raw) or raw[end] in " -") and iban_ok(re.sub(r"[ -]", "", raw[:end]).upper()):
            yield m.start(), m.start() + end


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
        return 10 <= n <= 13 and context
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
        if candidate.startswith(("+", "00")):
            # an international number may run into the next number: keep the longest valid prefix of groups
            cuts = [len(candidate), *sorted((i for i, ch in enumerate(candidate) if ch in " .-"), reverse=True)]
            end = next((cut for cut in cuts if _international_ok(candidate[:cut])), None)
        else:
            after = text[m.end() : m.end() + 40]
            end = len(candidate) if _national_ok(candidate, before, after) else None
        if end is not None:
            yield m.start(), m.start() + end
