"""Redaction bench: real ticket texts with known PII inserted (fixed seed), recall and precision per PII type.

Values come from `engine.privacy.synthetic` (realistic formats, not derived from the redaction patterns) and are put
in customer-style sentences at sentence boundaries; masked values CFPB left in narratives ("account number XXXX")
are filled in place. Untouched copies of every text are redacted too, so false positives on real text count.
"""

from __future__ import annotations

import csv
import logging
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import DEMO_DATA_DIR
from engine.privacy.redaction import PiiKind, PiiSpan, redact
from engine.privacy.synthetic import GENERATORS, gen_negative, options

log = logging.getLogger(__name__)

BITEXT_CSV = DEMO_DATA_DIR / "bitext_customer_support" / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
CFPB_CSV = DEMO_DATA_DIR / "cfpb_complaints" / "complaints_sample.csv"
SEED = 20240605

Gold = tuple[PiiKind, int, int]


TEMPLATES: dict[PiiKind, list[str]] = {
    PiiKind.EMAIL: options(
        "You can email me at {v}. | My email is {v} | Please reply to {v} instead. | I changed my email to {v} last "
        "week. | Contact: {v} | send the receipt to {v} thanks | {v} is the address on file. | reach me on {v} or by "
        "phone | my new e-mail address: {v} | Email: <{v}> | I never got the confirmation at {v}! | (my work email is "
        "{v})"
    ),
    PiiKind.PHONE: options(
        "You can call me at {v}. | My phone number is {v} | call me back on {v} please | text me at {v} | Tel: {v} "
        "| Mobile {v} | {v} is my cell. | reach me at {v} after 5pm | my number changed to {v} | I called from {v} "
        "three times. | WhatsApp: {v} | Phone - {v} | please ring {v} tomorrow | I can be reached on {v}, thanks"
    ),
    PiiKind.CARD: options(
        "My card {v} was charged twice. | I paid with card number {v} | the charge on {v} is not mine | Visa {v} "
        "| card: {v} exp 09/27 | Please refund to {v}. | {v} was declined yesterday | they billed my card ({v}) again "
        "| I used {v} for this purchase. | credit card no {v}"
    ),
    PiiKind.IBAN: options(
        "Please send the refund to IBAN {v}. | My IBAN is {v} | bank account: {v} | wire it to {v} please "
        "| IBAN: {v} (my bank) | {v} is my account for the refund. | refund to {v}, not to the card"
    ),
    PiiKind.ADDRESS: options(
        "Ship it to {v}. | My address is {v} | I moved to {v} last month. | deliver to {v} please | the package was "
        "sent to {v} instead of my house | billing address: {v} | I live at {v}. | {v} is my new address. "
        "| send the replacement to {v}, thanks"
    ),
    PiiKind.ORDER: options(
        "Order #{v} | my order number is {v}. | order no. {v} never arrived | Order ID: {v} | about purchase {v} "
        "| invoice {v} is wrong | confirmation number {v} | reference {v} | tracking number {v} shows nothing "
        "| ref: {v} | {v} is my order number. | for order {v} | re: order #{v} | booking reference {v} "
        "| this is about my order {v}."
    ),
    PiiKind.ACCOUNT: options(
        "account number {v} | acct #{v} | Account no. {v} | Account: {v} | customer ID {v} | member ID: {v} "
        "| my account {v} was locked. | user ID {v} | loan account {v} | policy number {v} | membership number {v}. "
        "| customer number {v} | {v} is my account number. | My ID is {v}"
    ),
}
CFPB_FILLS = [  # masked values CFPB left in narratives, filled where the words before say what they were
    (re.compile(r"(?i)(account (?:number|#|no\.?)(?: is)?:? )X{2,}(?:[ -]?X{2,})*"), PiiKind.ACCOUNT),
    (re.compile(r"(?i)(reference number(?: is)?:? )X{2,}(?:[ -]?X{2,})*"), PiiKind.ORDER),
    (re.compile(r"(?i)(phone number(?: is)?:? )X{2,}(?:[ -]?X{2,})*"), PiiKind.PHONE),
]
MASKED_DATE_RE = re.compile(r"XX/XX/(\d{4})")
MASKED_AMOUNT_RE = re.compile(r"\{\$([\d,]+\.\d\d)\}")


@dataclass
class Sample:
    text: str
    gold: list[Gold]
    inserted: bool


def _splice(
    text: str, gold: list[Gold], start: int, end: int, piece: str, piece_gold: list[Gold]
) -> tuple[str, list[Gold]]:
    """Replace text[start:end] by `piece` (whose gold spans are relative to it), shifting the gold spans after it."""
    delta = len(piece) - (end - start)
    shifted = [(k, s + delta, e + delta) if s >= end else (k, s, e) for k, s, e in gold]
    return text[:start] + piece + text[end:], shifted + [(k, s + start, e + start) for k, s, e in piece_gold]


def _sentence(rng: random.Random, kind: PiiKind, lower: bool) -> tuple[str, list[Gold]]:
    template, value = rng.choice(TEMPLATES[kind]), GENERATORS[kind](rng)
    if lower and template[0].isupper():
        template = template[0].lower() + template[1:]
    start = template.index("{v}")
    return template.replace("{v}", value), [(kind, start, start + len(value))]


def with_pii(rng: random.Random, text: str, gold: list[Gold]) -> Sample:
    """`text` with masked CFPB values filled, real-looking dates/amounts, and one to three PII sentences inserted."""
    text = MASKED_DATE_RE.sub(lambda m: f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{m.group(1)}", text)
    text = MASKED_AMOUNT_RE.sub(lambda m: rng.choice(["$" + m.group(1), m.group(1) + " dollars"]), text)
    for regex, kind in CFPB_FILLS:
        while match := regex.search(text):
            value = GENERATORS[kind](rng)
            text, gold = _splice(
                text, gold, match.start(1) + len(match.group(1)), match.end(), value, [(kind, 0, len(value))]
            )
    lower = text[:1].islower()
    pieces = [_sentence(rng, rng.choice(list(TEMPLATES)), lower) for _ in range(rng.choice([1, 1, 2, 3]))]
    if rng.random() < 0.5:
        pieces.append((gen_negative(rng), []))
    boundaries = [0, len(text)] + [
        m.end() for m in re.finditer(r"[.!?]\s+", text) if not any(s < m.end() < e for _, s, e in gold)
    ]
    placed = sorted(((rng.choice(boundaries), i) for i in range(len(pieces))), reverse=True)
    for at, i in placed:  # from the end backwards, so earlier insertion points stay valid
        piece, piece_gold = pieces[i]
        sep_before = "" if at == 0 or text[at - 1].isspace() else rng.choice([". ", ", ", " - ", "\n", " "])
        sep_after = " " if at < len(text) else ""
        text, gold = _splice(
            text,
            gold,
            at,
            at,
            sep_before + piece + sep_after,
            [(k, s + len(sep_before), e + len(sep_before)) for k, s, e in piece_gold],
        )
    return Sample(text, gold, inserted=True)


def _native_ids(row: dict[str, str]) -> list[Gold]:
    """Bitext rows label their order and invoice ids (offsets are loose): the whole digit token is the gold span."""
    if row["entity_type"] not in ("order_id", "invoice_id"):
        return []
    text, value = row["instruction"], row["entity_value"].lstrip("#")
    at = text.find(value)
    if at < 0:
        return []
    start, end = at, at + len(value)
    while start > 0 and text[start - 1].isdigit():
        start -= 1
    while end < len(text) and text[end].isdigit():
        end += 1
    return [(PiiKind.ORDER, start, end)]


def load_base(bitext: Path = BITEXT_CSV, cfpb: Path = CFPB_CSV) -> list[tuple[str, list[Gold]]]:
    """Demo ticket texts (Bitext instructions with their labelled ids, CFPB narratives) as (text, gold)."""
    with bitext.open(newline="", encoding="utf-8") as fh:
        base = [(row["instruction"], _native_ids(row)) for row in csv.DictReader(fh) if row["instruction"].strip()]
    with cfpb.open(newline="", encoding="utf-8") as fh:
        base += [
            (row["Consumer complaint narrative"], [])
            for row in csv.DictReader(fh)
            if row["Consumer complaint narrative"].strip()
        ]
    return base


def build_samples(seed: int = SEED) -> list[Sample]:
    """Every base text twice: untouched, and with generated PII inserted."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    for text, gold in load_base():
        samples.append(Sample(text, gold, inserted=False))
        samples.append(with_pii(rng, text, gold))
    return samples


def _covered(gold: Gold, spans: list[PiiSpan], same_kind: bool) -> bool:
    kind, start, end = gold
    covered: set[int] = set()
    for span in spans:
        if not same_kind or span.kind == kind:
            covered.update(range(max(start, span.start), min(end, span.end)))
    return len(covered) == end - start


def run() -> dict[str, Any]:
    """Recall and precision per PII type, false positives on untouched texts, and texts redacted per second."""
    samples = build_samples()
    log.info("redacting %d texts", len(samples))
    started = time.perf_counter()
    results = [redact(s.text) for s in samples]
    elapsed = time.perf_counter() - started
    gold_n, found, leaked, tp, fp, fp_untouched = (Counter[PiiKind]() for _ in range(6))
    misses: dict[str, list[str]] = {}
    for sample, result in zip(samples, results, strict=True):
        for g in sample.gold:
            gold_n[g[0]] += 1
            if _covered(g, result.spans, same_kind=True):
                found[g[0]] += 1
            else:
                misses.setdefault(g[0].value, []).append(sample.text[g[1] : g[2]])
            if not _covered(g, result.spans, same_kind=False):
                leaked[g[0]] += 1
        for span in result.spans:
            if any(k == span.kind and s < span.end and span.start < e for k, s, e in sample.gold):
                tp[span.kind] += 1
            else:
                fp[span.kind] += 1
                fp_untouched[span.kind] += not sample.inserted
    for kind, values in misses.items():
        log.info("missed %s (%d), e.g. %s", kind, len(values), values[:8])
    kinds = list(PiiKind)
    return {
        "recall": {k.value: round(found[k] / gold_n[k], 4) if gold_n[k] else None for k in kinds},
        "precision": {k.value: round(tp[k] / (tp[k] + fp[k]), 4) if tp[k] + fp[k] else None for k in kinds},
        "leak_rate": {k.value: round(leaked[k] / gold_n[k], 4) if gold_n[k] else None for k in kinds},
        "gold": {k.value: gold_n[k] for k in kinds},
        "false_positives_untouched": {k.value: fp_untouched[k] for k in kinds},
        "untouched_texts": sum(not s.inserted for s in samples),
        "samples": len(samples),
        "per_second": round(len(samples) / elapsed, 1),
        "chars_per_second": round(sum(len(s.text) for s in samples) / elapsed),
    }
