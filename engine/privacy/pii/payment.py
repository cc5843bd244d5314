"""Payment data checked with python-stdnum: card numbers of 12-19 digits (Luhn) and IBANs (mod-97, country length)."""

from __future__ import annotations

import re

from stdnum import iban, luhn

from engine.privacy.pii.kind import Found

_CARD_RE = re.compile(r"(?<![\w+.,/-])\d(?:[ .-]?\d){11,18}(?![\w-]|[.,]\d)")
# Issuer prefixes (ISO/IEC 7812 ranges in use): Visa 4, Mastercard 51-55 / 2221-2720, Amex 34/37, Diners 300-305/
# 3095/36/38, JCB 35 / 2131 / 1800, Discover 6011/644-649/65, UnionPay 62, Maestro 50/56-69 / 0604.
_ISSUER_RE = re.compile(r"4|5|6|3(?:0[0-59]|[4-8])|2(?:131|22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|1800|0604")
_SEPARATOR_RE = re.compile(r"[ .-]")
_SHORT = 16  # 12-15 digit numbers are also order and ticket ids: they need an issuer prefix and no id keyword


def card_ok(candidate: str) -> bool:
    """True when `candidate` is a Luhn-valid 12-19 digit number with an issuer prefix, grouped as cards are printed."""
    digits = _SEPARATOR_RE.sub("", candidate)
    if not (12 <= len(digits) <= 19 and _ISSUER_RE.match(digits) and luhn.is_valid(digits)):
        return False
    groups = [len(g) for g in _SEPARATOR_RE.split(candidate)]
    grouping_ok = (
        len(groups) == 1
        or tuple(groups) in {(4, 6, 5), (4, 6, 4)}  # Amex, Diners
        or (all(n == 4 for n in groups[:-1]) and 1 <= groups[-1] <= 4 and len(digits) != 12)
    )  # 1234-5678-9012 is an id's shape; 12-digit cards are printed ungrouped
    return grouping_ok and len(set(_SEPARATOR_RE.findall(candidate))) <= 1


def find_cards(text: str, *, after_id_keyword: re.Pattern[str] | None = None) -> Found:
    """Card numbers; a 12-15 digit run right after an order/ticket keyword (`after_id_keyword`) is left to ids."""
    pos = 0
    while m := _CARD_RE.search(text, pos):
        raw = m.group()
        ends, count = [], 0  # the whole run first, then shorter runs ending at a separator
        for i, ch in enumerate(raw):
            if ch.isdigit():
                count += 1
            elif 12 <= count <= 19:
                ends.append(i)
        end = next((cut for cut in [len(raw), *reversed(ends)] if card_ok(raw[:cut])), None)
        short = end is not None and len(_SEPARATOR_RE.sub("", raw[:end])) < _SHORT
        if end is not None and short and after_id_keyword and after_id_keyword.search(text[: m.start()]):
            end = None
        if end is not None:
            yield m.start(), m.start() + end
            pos = m.start() + end
        else:  # a number before the card may have joined the run: try again from the next group
            gap = _SEPARATOR_RE.search(raw)
            pos = m.start() + gap.end() if gap else m.end()


_IBAN_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,30}"
    r"|[A-Z]{2}\d{2}(?:[ -][A-Z0-9]{4}){2,8}(?:[ -][A-Z0-9]{1,3})?)(?![A-Za-z0-9])"
)
_IBAN_GROUPS_RE = re.compile(r"[ -]")


def _iban_ok(compact: str) -> bool:
    # the country's length and mod-97; not the national BBAN checks: a mistyped account still names its owner
    return iban.is_valid(compact, check_country=False)


def find_ibans(text: str) -> Found:
    """IBANs, compact or grouped, with their country's length and valid mod-97 check digits (python-stdnum)."""
    for m in _IBAN_RE.finditer(text):
        raw = m.group()
        cuts = [len(raw)] + [i for i in range(len(raw) - 1, 0, -1) if raw[i] in " -"]
        # a grouped IBAN may run into a following number: the longest prefix of groups that is valid
        end = next((cut for cut in cuts if _iban_ok(_IBAN_GROUPS_RE.sub("", raw[:cut]))), None)
        if end is not None:
            yield m.start(), m.start() + end
