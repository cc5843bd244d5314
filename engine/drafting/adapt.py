"""Adapt a past reply to a new ticket: this customer's name and values in, nothing of the other customer's left.

Template slots (`{{Order Number}}`) and personal data of the other customer (names, e-mails, order numbers, ...)
become this ticket's values when the desk knows them (the message, the customer record, the store's reply values),
otherwise a visible field `[[Order number]]` the agent fills before the reply can be sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from engine.drafting.grounding import greeting as greeting_line
from engine.privacy.redaction import PiiKind, redact

SLOT = re.compile(r"\{\{\s*([^{}\n]{1,80}?)\s*\}\}|\{\s*([A-Za-z][^{}\n]{0,60}?)\s*\}")
FIELD = re.compile(r"\[\[([^\[\]\n]{1,80})\]\]")
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b[^,\n!.]{0,40}[,!.]?[ \t]*\n*", re.IGNORECASE
)
_CODE = re.compile(r"\b(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]{3,}\b")  # order numbers, codes: 4+ with a digit
_AMOUNT = re.compile(
    r"(?:[$€£]\s?\d[\d,]*(?:\.\d{1,2})?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars|euros|pounds|usd|eur|gbp)\b)"
)
_PERSON = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+ [A-Z][a-z]+\b")  # "David Miller", not a sentence start
_NOISE_WORDS = {"anonymized", "the", "your", "customer's", "customers"}
KIND_FIELDS = {
    PiiKind.EMAIL: "Email address",
    PiiKind.PHONE: "Phone number",
    PiiKind.CARD: "Card number",
    PiiKind.IBAN: "IBAN",
    PiiKind.ADDRESS: "Address",
    PiiKind.ORDER: "Order number",
    PiiKind.ACCOUNT: "Account number",
}


@dataclass(frozen=True)
class Adapted:
    """The reply for this ticket (fields as [[Name]]), the fields left to fill and what was replaced."""

    text: str
    fields: list[str]
    filled: dict[str, str]
    replaced: int  # pieces of the other customer's data taken out


def slot_key(name: str) -> str:
    """A slot or value name in one spelling: 'Purchase ID Anonymized' -> 'purchase id'."""
    words = [w for w in re.findall(r"[a-z0-9']+", name.lower()) if w not in _NOISE_WORDS]
    key = " ".join(words)
    if any(w in words for w in ("order", "purchase")) and any(w in words for w in ("number", "id", "no")):
        return "order number"
    return {"name": "customer name", "client name": "customer name", "email": "email address"}.get(key, key)


def ticket_values(
    *, message: str, customer_name: str | None, customer_email: str | None, store_values: Mapping[str, str]
) -> dict[str, str]:
    """What the desk knows for this ticket, by slot key: the store's reply values, the customer, the message."""
    values = {slot_key(k): v for k, v in store_values.items() if v.strip()}
    if customer_name:
        values["customer name"] = customer_name
        values["first name"] = customer_name.split()[0]
    if customer_email:
        values["email address"] = customer_email
    for span in redact(message).spans:
        if span.kind == PiiKind.NAME:  # people the customer mentions are not slot values
            continue
        values.setdefault(slot_key(KIND_FIELDS.get(span.kind, span.kind.value)), span.value)
    amount = _AMOUNT.search(message)
    if amount:
        values.setdefault("amount", amount.group().strip())
    return values


def adapt_reply(
    reply: str,
    *,
    customer_name: str | None,
    values: Mapping[str, str],
    other_names: Sequence[str] = (),
    other_message: str = "",
    this_message: str = "",
    greeting: bool = True,
) -> Adapted:
    """This customer's version of a past reply: greeting, slots filled or made fields, the other customer's data out."""
    body = _GREETING.sub("", reply.strip(), count=1).strip() or reply.strip()
    replaced = 0
    body, count = _replace_names(body, other_names, values.get("first name"))
    replaced += count
    body, count = _replace_personal(body, values)
    replaced += count
    body, count = _replace_codes(body, other_message, values)
    replaced += count
    body, count = _replace_named_people(body, other_message, this_message)
    replaced += count
    filled: dict[str, str] = {}
    fields: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = (match.group(1) or match.group(2) or "").strip()
        value = values.get(slot_key(name))
        if value:
            filled[name] = value
            return value
        if name not in fields:
            fields.append(name)
        return f"[[{name}]]"

    body = SLOT.sub(fill, body)
    fields += [f for f in dict.fromkeys(m.group(1) for m in FIELD.finditer(body)) if f not in fields]
    text = f"{greeting_line(customer_name)}\n\n{body}" if greeting else body
    return Adapted(text=text, fields=fields, filled=filled, replaced=replaced)


def fill_fields(text: str, values: Mapping[str, str]) -> str:
    """The reply with each [[Field]] the agent filled replaced by its value (unfilled fields stay)."""
    return FIELD.sub(lambda m: values.get(m.group(1), "").strip() or m.group(), text)


def open_fields(text: str) -> list[str]:
    """The [[Fields]] still in a reply, in order."""
    return list(dict.fromkeys(m.group(1) for m in FIELD.finditer(text)))


def _outside_slots(body: str, change: Callable[[str], tuple[str, int]]) -> tuple[str, int]:
    """Apply `change` to the text between template slots only (slot names are the team's words, not data)."""
    pieces: list[str] = []
    total = 0
    cursor = 0
    for match in SLOT.finditer(body):
        text, count = change(body[cursor : match.start()])
        pieces += [text, match.group()]
        total += count
        cursor = match.end()
    text, count = change(body[cursor:])
    return "".join([*pieces, text]), total + count


def _replace_named_people(body: str, other_message: str, this_message: str) -> tuple[str, int]:
    """A person the other customer named ("the bill from David Miller") that the reply repeats becomes a field."""
    people = {p for p in _PERSON.findall(other_message) if p not in this_message}
    if not people:
        return body, 0
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in sorted(people, key=len, reverse=True)) + r")\b")
    return _outside_slots(body, lambda text: pattern.subn("[[Name]]", text))


def _replace_names(body: str, names: Sequence[str], first_name: str | None) -> tuple[str, int]:
    """Every word of the other customer's name becomes this customer's first name (or a field)."""
    words = {w for name in names for w in re.findall(r"[^\W\d_]{2,}", name) if w.lower() not in {"unknown", "customer"}}
    if not words:
        return body, 0
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b")
    # the first name replaces the first word of a run ("Anna Berg" -> "Tom"), further words of the run go
    run = re.compile(r"(" + pattern.pattern + r")(?:\s+" + pattern.pattern + r")*")
    return _outside_slots(body, lambda text: run.subn(lambda _: first_name or "[[Customer name]]", text))


def _replace_personal(body: str, values: Mapping[str, str]) -> tuple[str, int]:
    """Personal data in the reply (another customer's) becomes this ticket's value of that kind, or a field."""
    found = redact(body)
    if not found.spans:
        return body, 0
    pieces: list[str] = []
    cursor = 0
    for span in found.spans:
        if span.kind == PiiKind.NAME:  # a person another customer's reply names: a field, unless it is this one
            own = set(values.get("customer name", "").split())
            replacement = span.value if own and set(span.value.split()) <= own else "[[Name]]"
        else:
            name = KIND_FIELDS.get(span.kind, span.kind.value.capitalize())
            replacement = values.get(slot_key(name)) or f"[[{name}]]"
        pieces += [body[cursor : span.start], replacement]
        cursor = span.end
    pieces.append(body[cursor:])
    return "".join(pieces), len(found.spans)


def _replace_codes(body: str, other_message: str, values: Mapping[str, str]) -> tuple[str, int]:
    """Codes of the other customer's message (an order number the redactor did not know) that the reply repeats."""
    codes = {c for c in _CODE.findall(other_message) if not c.isalpha()}
    if not codes:
        return body, 0
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True)) + r")\b")
    replacement = values.get("order number") or "[[Order number]]"
    return pattern.subn(lambda _: replacement, body)
