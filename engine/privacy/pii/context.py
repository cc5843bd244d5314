"""Order and account numbers, found by the words around them ("order #A1234", "acct no. 5566", "12345 is my order")."""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.privacy.pii.kind import PiiKind

ORDER_WORDS = frozenset(
    re.findall(
        r"\S+",
        "order orders purchase purchases invoice invoices bill bills receipt receipts confirmation tracking reference "
        "ref booking reservation shipment shipments transaction rma",
    )
)
ACCOUNT_WORDS = frozenset(
    re.findall(
        r"\S+",
        "account accounts acct cust a/c customer member membership client user policy loan subscriber contract id",
    )
)
# customers misspell the keyword ("purhase 00123842", "roder 123"): one edit away from a long keyword still counts
_FUZZY_WORDS = {w: PiiKind.ORDER for w in ORDER_WORDS if len(w) >= 5 and not w.endswith("s")} | {
    w: PiiKind.ACCOUNT for w in ACCOUNT_WORDS if len(w) >= 6 and not w.endswith("s")
}
_NOT_KEYWORDS = frozenset(re.findall(r"\S+", "border boarder older odor ardor folder founder recount amount mount"))

_TOKEN = r"(?=[A-Za-z0-9-]*\d)[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){3,39}"
_ID = rf"(?:\d{{3,5}}(?:[ ]\d{{3,5}})+(?![\w-])|{_TOKEN})"  # 1234 5678 9012 or A1234-55
_SP = r"[^\S\n]*"  # an id is on the same line as its keyword
_NOT_AN_AMOUNT = (
    r"(?![\w-]|[.,]\d)(?!\s*(?:dollars?|usd|eur|euros?|pounds?|gbp|bucks|items?|units?|pieces?|pcs|times|days|weeks"
    r"|months|years|hours|minutes|percent|%))"
)
_FORWARD_RE = re.compile(
    rf"(?<![\w/#])(?P<kw>a/c|[A-Za-z]{{2,14}})(?![A-Za-z])(?:(?<=acct|cust)\.|(?<=ref)\.)?"
    rf"(?:{_SP}(?:with{_SP}(?:the{_SP})?)?(?:id|number|num|nr|no)(?![a-z])\.?)?(?:{_SP}(?:is|was|being)\b)?"
    rf"{_SP}[:=#-]?{_SP}(?:#{_SP})?"
    rf"(?P<id>{_ID}){_NOT_AN_AMOUNT}"
    rf"(?P<more>(?:\s*(?:,|and|or|&|/)\s*(?:#\s*)?(?<![A-Za-z0-9])(?=\d){_ID}{_NOT_AN_AMOUNT})*)",
    re.IGNORECASE,
)
_NAMED_AFTER = r"\s+(?:is|was)\s+(?:my|the|our|your|his|her)\s+(?P<words>(?:[A-Za-z/]+\s*){1,3})"  # is my order no
_BACKWARD_RE = re.compile(rf"(?<![\w#-])(?P<id>{_TOKEN}){_NAMED_AFTER}", re.IGNORECASE)
_NAMED_AFTER_RE = re.compile(_NAMED_AFTER, re.IGNORECASE)
_HASH_RE = re.compile(r"(?<![\w#&])#\s?(?P<id>\d{4,12})(?![\w-])")
_MORE_RE = re.compile(rf"(?<![A-Za-z0-9])(?=\d){_ID}")


def _one_edit(a: str, b: str) -> bool:
    """True when `a` becomes `b` by one insertion, deletion, substitution or swap of neighbours."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])  # fmt: skip
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def keyword_kind(word: str) -> PiiKind | None:
    """ORDER or ACCOUNT when `word` (or a one-typo spelling of a long keyword) announces an id, else None."""
    word = word.lower().rstrip(".")
    if word in ORDER_WORDS:
        return PiiKind.ORDER
    if word in ACCOUNT_WORDS:
        return PiiKind.ACCOUNT
    if len(word) < 4 or word in _NOT_KEYWORDS:
        return None
    return next((kind for key, kind in _FUZZY_WORDS.items() if _one_edit(word, key)), None)


def _named_kind(words: str) -> PiiKind | None:
    return next(filter(None, (keyword_kind(w) for w in words.split())), None)


def find_ids(text: str) -> Iterator[tuple[int, int, PiiKind]]:
    """Ids named by a phrase after them, announced by a keyword before them, or written as #12345 (an order)."""
    for m in _BACKWARD_RE.finditer(text):
        if (kind := _named_kind(m.group("words"))) is not None:
            yield m.start("id"), m.end("id"), kind
    pos = 0
    while forward := _FORWARD_RE.search(text, pos):
        kind = keyword_kind(forward.group("kw"))
        if kind is None:  # "my ID 123": the keyword may be the next word of this match
            pos = forward.start() + 1
            continue
        yield forward.start("id"), forward.end("id"), kind
        for extra in _MORE_RE.finditer(forward.group("more")):
            yield forward.start("more") + extra.start(), forward.start("more") + extra.end(), kind
        pos = forward.end()
    for m in _HASH_RE.finditer(text):
        yield m.start("id"), m.end("id"), PiiKind.ORDER


_ID_KEYWORD = (
    r"\b(?:" + "|".join(sorted(ORDER_WORDS | ACCOUNT_WORDS | {"ticket", "case", "incident"})) + r")\b"
    r"(?:[^\S\n]*(?:number|num|nr|no|id)\b\.?)?"
)
_THEN_THE_ID = r"[^\S\n]*[:#=-]?[^\S\n]*#?[^\S\n]*\Z"
# an order, ticket or account keyword right before a number ("order no. ", "ticket #", "account: ")
ID_KEYWORD_BEFORE_RE = re.compile(_ID_KEYWORD + _THEN_THE_ID, re.IGNORECASE)
# the same, also with "is" ("order number is "), and whether the number is what the id has ("the phone number on
# the account is "): then the number is not the id
_NAMES_AN_ID_RE = re.compile(
    r"(?P<has>\b(?:number|phone|mobile|cell|contact|tel)\b[^\S\n]+(?:on|of|for|in|under|(?:linked|attached)[^\S\n]+to"
    r"|registered[^\S\n]+(?:to|on|with))[^\S\n]+(?:(?:the|my|our|your|this|that|his|her)[^\S\n]+)?)?"
    + _ID_KEYWORD
    + r"(?:[^\S\n]+(?:is|was))?"
    + _THEN_THE_ID,
    re.IGNORECASE,
)


def names_an_id(before: str, after: str) -> bool:
    """True when the words right before or after a number say it is an order, account or ticket id ("account no. ",
    "order number is ", " is my account number"); not when the id is what the number belongs to ("the number on the
    account is ")."""
    m = _NAMES_AN_ID_RE.search(before)
    if m is not None and m.group("has") is None:
        return True
    named = _NAMED_AFTER_RE.match(after)
    return named is not None and _named_kind(named.group("words")) is not None
