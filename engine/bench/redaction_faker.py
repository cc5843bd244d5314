"""Redaction bench on an independent generator: Faker values in ten locales inside support sentences.

Values come from Faker (a test dependency), not from `engine.privacy.synthetic`. Each value sits in one sentence
written from a template set: `dev` (the one the detectors were tuned on), `heldout` (written before tuning and
never looked at while tuning) or `fresh` (a second held-out set, written before the phone/id priority and the name
lexicon were changed, measured with seed 3). The customer's country (the locale's) is passed as the phone region
hint, as the customer record would. Clean support sentences (amounts, dates, versions, flights, ticket and order
numbers) count false positives. A value counts as caught when one span of its kind covers all of it.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from engine.privacy.redaction import PiiKind, PiiSpan, RedactionContext, redact_many

log = logging.getLogger(__name__)

LOCALES = {
    "en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "it_IT": "IT",
    "es_ES": "ES", "nl_NL": "NL", "en_IN": "IN", "en_AU": "AU", "pt_BR": "BR",
}  # fmt: skip
KINDS = (PiiKind.EMAIL, PiiKind.PHONE, PiiKind.CARD, PiiKind.IBAN, PiiKind.NAME, PiiKind.ADDRESS)
PERSONAL = frozenset(KINDS)  # ORDER and ACCOUNT ids on order/ticket numbers are placeholders by design
DEV_SEED, HELDOUT_SEED = 1, 2


def _split(spec: str) -> list[str]:
    return [part.strip() for part in spec.split(" | ")]


TEMPLATES: dict[str, dict[PiiKind, list[str]]] = {
    "dev": {
        PiiKind.EMAIL: _split("You can email me at {v}. | My email is {v} | please use {v} from now on"),
        PiiKind.PHONE: _split(
            "call me on {v} please | My phone number is {v}. | You can reach me at {v} after 5pm | tel {v}"
        ),
        PiiKind.CARD: _split(
            "I paid with my card {v} and was charged twice. | card number: {v} | refund it to {v} please"
        ),
        PiiKind.IBAN: _split("Please send the refund to IBAN {v}. | my bank account is {v} | IBAN: {v}"),
        PiiKind.NAME: _split(
            "Regards, {v} | my name is {v} and my parcel is late | Hi, this is {v}. I need help with my order. "
            "| Thanks,\n{v} | The order is for {v}, my sister."
        ),
        PiiKind.ADDRESS: _split(
            "ship to {v} | My address is {v}. | Please deliver it to {v} tomorrow. | I moved, new address: {v}"
        ),
    },
    "heldout": {
        PiiKind.EMAIL: _split(
            "Could you update my contact to {v}? | {v} is where I get your newsletters | reply to {v} not the old one"
        ),
        PiiKind.PHONE: _split(
            "If it's urgent ring {v}. | my mobile: {v} | Text {v} when the driver is close. "
            "| The number on the account is {v}, can you check it?"
        ),
        PiiKind.CARD: _split(
            "The charge on {v} is not mine! | I want to pay with {v}. | Please remove the card {v} from my profile "
            "| billed to card {v} twice last week"
        ),
        PiiKind.IBAN: _split(
            "Can you wire the money to {v}? | Refund to this account please: {v} | Bank details: {v} (Sparkasse)"
        ),
        PiiKind.NAME: _split(
            "Best wishes,\n{v} | I'm writing on behalf of {v}, who is in hospital. | The parcel was signed for by {v} "
            "but I never got it. | Kind regards\n{v} | Hello, I am {v} and I can't log in. | account holder: {v}"
        ),
        PiiKind.ADDRESS: _split(
            "Can you send the replacement to {v}? | The invoice still shows {v} as my address. "
            "| I no longer live at {v}. | Delivery address: {v}"
        ),
    },
    "fresh": {
        PiiKind.EMAIL: _split(
            "Hi, I changed my email to {v} last month. | Send the receipt to {v}, thanks "
            "| Login: {v} | my old address {v} doesn't work anymore"
        ),
        PiiKind.PHONE: _split(
            "Please phone me back on {v}. | You can WhatsApp me: {v} | {v} is my cell, call any time "
            "| I tried calling from {v} but nobody answered. | Contact number - {v} "
            "| The courier should call {v} before delivery"
        ),
        PiiKind.CARD: _split(
            "My Visa {v} was declined. | Charge it to {v}, expiry 09/27. | Why was {v} charged twice? "
            "| I used card no. {v} for the order"
        ),
        PiiKind.IBAN: _split(
            "IBAN {v}, account holder is me. | Please pay the refund into {v}. | my IBAN changed to {v}"
        ),
        PiiKind.NAME: _split(
            "Sincerely,\n{v} | Please ask {v} to call me back. | Cheers, {v} | Customer: {v} "
            "| My husband {v} placed the order. | From: {v} | {v} here, I still have no refund."
        ),
        PiiKind.ADDRESS: _split(
            "The parcel should go to {v}, not the old flat. | Address on file: {v} | We moved to {v} in May. "
            "| Could you collect the return from {v}?"
        ),
    },
}
CLEAN_TEMPLATES: dict[str, list[str]] = {
    "dev": _split(
        "I was charged {amount} on {date}. | The app is on version {version} and still crashes. "
        "| My flight {flight} was cancelled, can I get a refund? | I opened ticket {ticket} about this on {date}. "
        "| order {order} arrived with {n} items missing | The total was {amount} including tax. "
        "| It stopped working after the update on {date} at {time}."
    ),
    "heldout": _split(
        "Your site said {amount} but I paid {amount2}. | Since {date} nothing loads on version {version}. "
        "| We land on {flight} at {time}, please hold the booking. | Ticket {ticket} is still open after {n} days. "
        "| Is order {order} going to arrive before {date}? | I use Chrome on Windows 11 and the checkout button "
        "does nothing. | Please cancel the subscription renewal of {amount} due {date}."
    ),
    "fresh": _split(
        "I paid {amount} on {date} and was charged again. | Update {version} broke the login screen. "
        "| Flight {flight} on {date}, booking for {n} passengers. | Reference {ticket}: still waiting. "
        "| I ordered {n} units at {amount2} each. | My order {order} was split into {n} parcels. "
        "| The store closes at {time} on weekdays, right? | Error 500 at checkout since {date}."
    ),
}
MONTHS = re.findall(r"\S+", "January February March April May June July August September October November December")


def clean_fields(rng: random.Random) -> dict[str, str]:
    """Numbers that are no personal data: amounts, dates, times, versions, flights, ticket and order numbers."""
    year, month, day = rng.randint(2019, 2026), rng.randint(1, 12), rng.randint(1, 28)
    value = rng.randint(100, 250_000) / 100
    amount = rng.choice(
        [f"${value:,.2f}", f"€{value:.2f}".replace(".", ","), f"£{value:,.2f}", f"{value:.2f} EUR", f"{int(value)} USD"]
    )
    airline = rng.choice(["BA", "LH", "AF", "UA", "KL", "IB", "AZ", "QF", "AI", "LA"])
    return {
        "amount": amount,
        "amount2": f"${rng.randint(5, 900)}.{rng.randint(0, 99):02d}",
        "date": rng.choice(
            [
                f"{day:02d}/{month:02d}/{year}",
                f"{year}-{month:02d}-{day:02d}",
                f"{day} {MONTHS[month - 1]} {year}",
                f"{MONTHS[month - 1]} {day}, {year}",
                f"{day:02d}.{month:02d}.{year}",
            ]
        ),
        "time": f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        "version": rng.choice(
            [
                f"{rng.randint(1, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 30)}",
                f"v{rng.randint(1, 9)}.{rng.randint(0, 9)}",
                f"{rng.randint(10, 17)}.{rng.randint(0, 6)}.{rng.randint(1000, 22000)}.{rng.randint(1, 999)}",
            ]
        ),
        "flight": rng.choice([f"{airline} {rng.randint(1, 9999)}", f"{airline}{rng.randint(10, 9999)}"]),
        "ticket": rng.choice(
            [
                f"#{rng.randint(1000, 999999)}",
                f"INC{rng.randint(0, 9999999):07d}",
                f"CS-{year}-{rng.randint(1, 99999):05d}",
            ]
        ),
        "order": rng.choice(
            [
                f"{rng.randint(100, 999)}-{rng.randint(0, 9999999):07d}-{rng.randint(0, 9999999):07d}",
                f"{rng.randint(10**5, 10**10)}",
                f"#{rng.randint(1000, 99999)}",
            ]
        ),
        "n": str(rng.randint(2, 30)),
    }


@dataclass(frozen=True)
class Case:
    text: str
    kind: PiiKind | None  # None: a clean sentence
    start: int
    end: int
    region: str


def _value(fake: Any, kind: PiiKind, fallback: Any) -> str:
    from stdnum import iban

    if kind == PiiKind.IBAN:  # Faker also makes IBANs no bank would (en_IN's are all invalid): another locale's
        valid = (value for value in (str(f.iban()) for f in [fake] * 20 + [fallback] * 100) if iban.is_valid(value))
        return next(valid)
    if kind == PiiKind.EMAIL:
        return str(fake.email())
    if kind == PiiKind.PHONE:
        return str(fake.phone_number())
    if kind == PiiKind.CARD:
        return str(fake.credit_card_number())
    if kind == PiiKind.NAME:
        return str(fake.name())
    return ", ".join(line.strip() for line in str(fake.address()).splitlines() if line.strip())


def build_cases(seed: int, templates: str, per_kind: int) -> list[Case]:
    """`per_kind` sentences per kind spread over the locales, plus as many clean sentences."""
    from faker import Faker

    rng = random.Random(seed)
    fakers = {}
    for i, locale in enumerate(LOCALES):
        fakers[locale] = Faker(locale)
        fakers[locale].seed_instance(seed * 100 + i)
    cases: list[Case] = []
    locales = list(LOCALES)
    for kind in KINDS:
        for i in range(per_kind):
            locale = locales[i % len(locales)]
            value = _value(fakers[locale], kind, fakers["de_DE"])
            template = rng.choice(TEMPLATES[templates][kind])
            start = template.index("{v}")
            cases.append(Case(template.replace("{v}", value), kind, start, start + len(value), LOCALES[locale]))
    for i in range(per_kind):
        text = rng.choice(CLEAN_TEMPLATES[templates]).format(**clean_fields(rng))
        cases.append(Case(text, None, 0, 0, LOCALES[locales[i % len(locales)]]))
    return cases


def _covers(spans: list[PiiSpan], case: Case, same_kind: bool) -> bool:
    return any(s.start <= case.start and case.end <= s.end and (s.kind == case.kind or not same_kind) for s in spans)


def run(*, seed: int = HELDOUT_SEED, templates: str = "heldout", per_kind: int = 400) -> dict[str, Any]:
    """Recall, precision and leaks per kind on Faker values, and the share of clean sentences wrongly redacted."""
    cases = build_cases(seed, templates, per_kind)
    log.info("redacting %d Faker sentences (seed %d, %s templates)", len(cases), seed, templates)
    started = time.perf_counter()
    results = redact_many([c.text for c in cases], [RedactionContext(regions=(c.region,)) for c in cases])
    elapsed = time.perf_counter() - started
    gold, caught, hidden, tp, fp = (Counter[PiiKind]() for _ in range(5))
    misses: dict[PiiKind, list[str]] = {}
    clean = wrong = wrong_any = 0
    for case, result in zip(cases, results, strict=True):
        if case.kind is None:
            clean += 1
            wrong += any(s.kind in PERSONAL for s in result.spans)
            wrong_any += bool(result.spans)
            for span in result.spans:
                fp[span.kind] += 1
            if any(s.kind in PERSONAL for s in result.spans):
                misses.setdefault(PiiKind.ORDER, []).append(case.text)  # logged as "false positives" below
            continue
        gold[case.kind] += 1
        if _covers(result.spans, case, same_kind=True):
            caught[case.kind] += 1
        else:
            misses.setdefault(case.kind, []).append(case.text[case.start : case.end])
        hidden[case.kind] += _covers(result.spans, case, same_kind=False)
        for span in result.spans:
            inside = span.start < case.end and case.start < span.end
            if inside and span.kind == case.kind:
                tp[span.kind] += 1
            else:
                fp[span.kind] += 1
    for kind, values in misses.items():
        label = "false positives" if kind == PiiKind.ORDER else f"missed {kind.value}"
        log.info("%s (%d), e.g. %s", label, len(values), values[:10])
    return {
        "generator": "faker",
        "seed": seed,
        "templates": templates,
        "locales": list(LOCALES),
        "recall": {k.value: round(caught[k] / gold[k], 4) for k in KINDS},
        "precision": {k.value: round(tp[k] / (tp[k] + fp[k]), 4) if tp[k] + fp[k] else None for k in KINDS},
        "hidden": {k.value: round(hidden[k] / gold[k], 4) for k in KINDS},
        "gold": {k.value: gold[k] for k in KINDS},
        "clean_sentences": clean,
        "false_positive_rate": round(wrong / clean, 4),
        "false_positive_rate_any_kind": round(wrong_any / clean, 4),
        "per_second": round(len(cases) / elapsed, 1),
    }
