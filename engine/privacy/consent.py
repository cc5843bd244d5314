"""Consent keywords: does a customer's message ask for a human instead of the AI?"""

from __future__ import annotations

import re

_PERSON = (
    r"(?:human(?:\s+being)?|person|people|agent|representative|rep|operator|staff(?:\s+member)?|employee"
    r"|supervisor|manager|customer\s+service\s+(?:agent|rep|representative)|someone\s+real|somebody\s+real)"
)
_TARGET = (
    rf"(?:(?:a|an|the|some|your|one\s+of\s+your|any)\s+)?(?:(?:real|live|actual|human|another|different)\s+)?"
    rf"(?:{_PERSON}|someone|somebody)\b(?!\s+(?:resources|error|nature|rights))"
)
_REQUESTS = [
    # talk to a human / connect me with an agent / get me a real person
    rf"\b(?:talk|speak|chat|connect(?:\s+me)?|transfer(?:\s+me)?|put\s+me\s+through|pass\s+me|escalate(?:\s+this)?"
    rf"|reach|contact|get(?:\s+me)?|give\s+me|bring(?:\s+in)?)\s+(?:(?:to|with)\s+)?{_TARGET}",
    # I want / need / would like a human
    rf"\b(?:want|wanna|need|request|like|prefer|demand|can\s+i\s+(?:get|have)|could\s+i\s+(?:get|have)"
    rf"|may\s+i\s+have)\s+(?:(?:a|an|the|some|your)\s+)?(?:(?:real|live|actual|human)\s+)?{_PERSON}\b"
    rf"(?!\s+(?:resources|error))",
    # is there a real person / do you have any humans
    rf"\b(?:is\s+there|are\s+there|do\s+you\s+have|have\s+you\s+got)\s+(?:(?:a|an|any)\s+)?"
    rf"(?:(?:real|live|actual|human)\s+)?{_PERSON}s?\b",
    # no bots: I don't want to talk to a bot / stop the bot / tired of this machine
    r"\b(?:(?:do\s+not|don'?t|dont)\s+(?:want|wanna|like)(?:\s+to\s+(?:talk|speak|chat)\s+(?:to|with))?"
    r"|stop|enough|no\s+more|tired\s+of|sick\s+of|hate)\s+(?:talking\s+to\s+|with\s+)?"
    r"(?:(?:a|an|the|this|these|your)\s+)?(?:bots?|robots?|chat\s?bots?|machines?|automated\s+\w+|ai)\b",
]
_REQUEST_RE = re.compile("|".join(f"(?:{r})" for r in _REQUESTS), re.IGNORECASE)
# a whole message that is just the keyword: "agent", "HUMAN please", "Representative."
_KEYWORD_ONLY_RE = re.compile(
    r"^\W*(?:(?:hi|hello|hey)\W+)?(?:(?:please|pls|plz)\W+)?(?:(?:an?|the)\s+)?(?:(?:real|live|human)\s+)?"
    r"(?:human|agent|representative|rep|operator|person|customer\s+service)\W*(?:(?:please|pls|plz|now|asap)\W*)*$",
    re.IGNORECASE,
)
_NEGATION_RE = re.compile(
    r"\b(?:don'?t|dont|do\s+not|didn'?t|did\s+not|doesn'?t|does\s+not|never|no\s+need\s+(?:to|for)|not)"
    r"(?:\s+\w+){0,2}\s*$",
    re.IGNORECASE,
)
_CLAUSE_BREAK_RE = re.compile(r"[.,;!?]|\bbut\b", re.IGNORECASE)


def wants_human(text: str) -> bool:
    """True when the message asks for a human ("talk to a real person", "agent please", "no more bots")."""
    if _KEYWORD_ONLY_RE.match(text.strip()):
        return True
    for match in _REQUEST_RE.finditer(text):
        clause_start = max((m.end() for m in _CLAUSE_BREAK_RE.finditer(text, 0, match.start())), default=0)
        before = text[clause_start : match.start()]
        is_bot_refusal = re.match(r"(?i)(?:do|don|dont|stop|enough|no|tired|sick|hate)", match.group())
        if is_bot_refusal or not _NEGATION_RE.search(before):
            return True
    return False
