"""Drafts bench: a team's history in, drafts for new tickets out, scored against the replies agents really sent.

HISTORY (`text`, `reply`, optional `intent`, `customer`, `email`) goes into a fresh temporary data dir through the
app's own paths: the import (intake) stores each message as a ticket, and the agent's reply is sent on it through
feedback capture, so the reply memory learns from it as from live work. The intent model is trained on HISTORY's
labels as `train intent` would. Each TICKETS row (`text`) then arrives as a new e-mail, is triaged and drafted by
the app's drafting path (`desk.draft_now`). TICKETS' `intent` and `reply` columns are read for scoring only (see
reply_judge).

Rows whose intent is empty or not one of HISTORY's are out of domain: a holding reply is the right answer there.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import col, select

from engine.app import build_engine
from engine.assist import triage_models
from engine.bench.reply_judge import ReplyJudge, nearest_replies, template_markers
from engine.config import DEMO_DATA_DIR, Settings
from engine.drafting import HOLDING
from engine.feedback.capture import send_reply
from engine.ingest.bulk_import import import_tickets
from engine.ingest.intake import InboundMessage, intake_many
from engine.knowledge.documents import load_folder
from engine.knowledge.reply_memory import MAX_REPLY_CHARS
from engine.nlp.embedder import MiniLMEmbedder
from engine.privacy.redaction import redact
from engine.runtime import Engine, Services
from engine.store.models import Draft, Ticket
from engine.triage import triage_tickets

log = logging.getLogger(__name__)

HISTORY_AGENT = "history"
TRIAGE_BATCH = 256
CUSTOMERS = ("Maria Lopez", "Sam Carter", "Aiko Tanaka", "Tunde Bello", "Lea Novak", "Omar Haddad", "Ines Silva")
PAST_FIRST = ("Anna", "Bruno", "Chloe", "Diego", "Elif", "Farid", "Greta")
PAST_LAST = ("Berg", "Costa", "Dube", "Ekman", "Fischer", "Gomez", "Holm")


def history_customer(row: int) -> str:
    """The name of a past ticket's customer when HISTORY names none (never one of the new tickets' customers)."""
    return f"{PAST_FIRST[row % len(PAST_FIRST)]} {PAST_LAST[row // len(PAST_FIRST) % len(PAST_LAST)]}"


class BenchInputError(ValueError):
    """A bench input file that cannot be used; the message says which file, row and column."""


@dataclass
class History:
    """HISTORY's rows as read, with what could not be used and why."""

    texts: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    customers: list[tuple[str, str]] = field(default_factory=list)  # (name, e-mail) when HISTORY names them
    notes: dict[str, int] = field(default_factory=dict)

    def note(self, what: str, row: int, detail: str) -> None:
        self.notes[what] = self.notes.get(what, 0) + 1
        log.warning("HISTORY row %d: %s", row, detail)


def run(
    *, history: Path, tickets: Path, kb: Path | None = None, out: Path | None = None, no_model: bool = False
) -> dict[str, Any]:
    """Load HISTORY, draft every TICKETS row through the app, and score the drafts and the nearest-reply baseline."""
    past = read_history(history)
    rows = read_tickets(tickets)
    with tempfile.TemporaryDirectory(prefix="caredesk-drafts-bench-") as folder:
        settings = Settings.load(data_dir=Path(folder), database_url="", demo=False, draft_model=not no_model)
        engine = build_engine(settings)
        try:
            load_services(engine, past, kb)
            ticket_ids = load_history(engine, past, Path(folder))
            drafts = [draft_row(engine, i, row, ticket_ids) for i, row in enumerate(rows)]
        finally:
            engine.db.dispose()
    if out is not None:
        with out.open("w", encoding="utf-8") as handle:
            for record in drafts:
                handle.write(json.dumps(record) + "\n")
    return score(past, rows, drafts, guidance_texts(kb))


def read_history(path: Path) -> History:
    """HISTORY's rows; a missing column is an error, bad rows are noted and kept out of the memory, not lost."""
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(text.splitlines(keepends=True))
    columns = {c.strip().lower(): c for c in reader.fieldnames or []}
    missing = [c for c in ("text", "reply") if c not in columns]
    if missing:
        raise BenchInputError(
            f"{path.name} needs the columns text and reply (optional: intent); missing {', '.join(missing)}, "
            f"found {', '.join(columns) or 'no header'}"
        )
    past = History()
    if "\ufffd" in text and "\ufffd".encode() not in raw:
        past.note("non_utf8", 0, "bytes that are not UTF-8 were replaced by U+FFFD")
    for number, record in enumerate(reader):
        message = (record.get(columns["text"]) or "").strip()
        reply = (record.get(columns["reply"]) or "").strip()
        intent = (record.get(columns["intent"]) or "").strip() if "intent" in columns else ""
        if not message:
            past.note("empty_text", number, "the customer message is empty; the row is left out")
            continue
        if not reply:
            past.note("empty_reply", number, "the reply is empty; the ticket is kept open, not used for drafts")
        elif len(reply) > MAX_REPLY_CHARS:
            past.note("long_reply", number, f"a reply of {len(reply)} characters is kept but not reused in drafts")
        past.texts.append(message)
        past.replies.append(reply)
        past.intents.append(intent)
        name, email = ((record.get(columns[c]) or "").strip() if c in columns else "" for c in ("customer", "email"))
        past.customers.append((name, email))
    if not past.texts:
        raise BenchInputError(f"{path.name} has no row with a customer message")
    return past


def read_tickets(path: Path) -> list[dict[str, str]]:
    """TICKETS' rows (`text`, and `intent` / `reply` for scoring only)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        if "text" not in columns:
            raise BenchInputError(f"{path.name} needs a text column, found {', '.join(columns) or 'no header'}")
        rows = [{k: (record.get(c) or "").strip() for k, c in columns.items()} for record in reader]
    return [r for r in rows if r["text"]]


def load_services(engine: Engine, past: History, kb_folder: Path | None) -> None:
    """Embedder, knowledge base (demo guidance or the --kb folder's articles), intent model, drafter."""
    from engine.components import load_drafter, load_knowledge, load_sentiment
    from engine.knowledge.demo_kb import abcd_documents
    from engine.nlp.intent import IntentModelRegistry, train_and_activate

    embedder = MiniLMEmbedder()
    embedder.load()
    services = Services(embedder=embedder)
    services.kb, services.similar, _ = load_knowledge(engine.settings, engine.db, embedder)
    specs = load_folder(kb_folder)[0] if kb_folder else abcd_documents(DEMO_DATA_DIR / "abcd_guidelines")
    for spec in specs:
        services.kb.add_document(spec)
    labelled = [(t, i) for t, i in zip(past.texts, past.intents, strict=True) if i]
    if len({i for _, i in labelled}) >= 2:
        # redacted as the app's own training rows are, so the model reads messages as triage shows them
        texts, labels = [redact(t).text for t, _ in labelled], [i for _, i in labelled]
        log.info("training the intent model on %d labelled HISTORY messages", len(texts))
        services.intent, services.intent_version = train_and_activate(
            IntentModelRegistry(engine.settings.models_dir / "intent"),
            texts,
            labels,
            embedder.encode(texts),
            oos_label="unknown",
        )
    services.sentiment, _ = load_sentiment(engine.settings, embedder)
    services.drafter, _, detail = load_drafter(engine.settings, embedder)
    log.info("drafter: %s", detail)
    services.booted = True
    engine.services = services


def load_history(engine: Engine, past: History, folder: Path) -> dict[int, int]:
    """Import HISTORY's messages, send each reply through feedback capture, triage; ticket id -> HISTORY row."""
    services = engine.services
    assert services is not None and services.similar is not None
    staging = folder / "history-import.csv"
    with staging.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "text", "intent", "customer", "email"])
        for row, (text, intent, (name, email)) in enumerate(zip(past.texts, past.intents, past.customers, strict=True)):
            name, email = name or history_customer(row), email or f"history-{row}@example.invalid"
            past.customers[row] = (name, email)
            writer.writerow([f"history-{row}", text, intent, name, email])
    result = import_tickets(engine, staging)
    log.info("HISTORY imported: %d tickets, %d dead-lettered", result.imported, result.failed)
    with engine.transaction() as session:
        found = session.exec(
            select(Ticket.external_id, Ticket.id).where(col(Ticket.external_id).startswith("history-"))
        )
        ids = {int(external.split("-", 1)[1]): ticket_id for external, ticket_id in found if external and ticket_id}
        for row, ticket_id in ids.items():
            if past.replies[row]:
                send_reply(session, ticket_id=ticket_id, draft_id=None, text=past.replies[row], agent=HISTORY_AGENT)
    ordered = sorted(ids.values())
    models = triage_models(services, engine.settings)
    for start in range(0, len(ordered), TRIAGE_BATCH):
        batch = ordered[start : start + TRIAGE_BATCH]
        with engine.transaction() as session:
            vectors = triage_tickets(session, batch, models)
        services.similar.add_many(list(vectors), np.stack(list(vectors.values())))
        log.info("HISTORY triaged: %d/%d", min(start + TRIAGE_BATCH, len(ordered)), len(ordered))
    return {ticket_id: row for row, ticket_id in ids.items()}


def draft_row(engine: Engine, row: int, ticket: dict[str, str], history_rows: dict[int, int]) -> dict[str, Any]:
    """One TICKETS row as a new e-mail, triaged, then drafted by the app; the JSON line of --out."""
    from engine.desk import draft_now

    services = engine.services
    assert services is not None
    message = InboundMessage(
        channel="email",
        customer_name=CUSTOMERS[row % len(CUSTOMERS)],
        customer_email=f"ticket-{row}@example.invalid",
        text=ticket["text"],
        external_id=f"ticket-{row}",
    )
    with engine.transaction() as session:
        ticket_id = intake_many(session, [message])[0].ticket_id
        services.vectors.update(triage_tickets(session, [ticket_id], triage_models(services, engine.settings)))
    first: list[float] = []
    started = time.perf_counter()

    def on_token(_: str) -> None:
        if not first:
            first.append(time.perf_counter())

    draft: Draft = draft_now(engine, ticket_id, on_token=on_token)
    seconds = time.perf_counter() - started
    past_row = history_rows.get(draft.based_on) if draft.based_on is not None else None
    if row % 25 == 0:
        log.info("drafted %d: %s (%s)", row, draft.basis, ticket["text"][:60])
    return {
        "row": row,
        "draft": draft.text,
        "basis": draft.basis,
        "past_row": past_row,
        "sources": [s.get("document_key", "") for s in draft.sources],
        "fields_to_fill": list(draft.fields),
        "ttft_ms": round(((first[0] if first else time.perf_counter()) - started) * 1000, 1),
        "seconds": round(seconds, 3),
        "similarity": draft.confidence,
        "intent": engine_intent(engine, ticket_id),
        "note": draft.note,
        "guidance": [g.get("title", "") for g in draft.guidance],
    }


def engine_intent(engine: Engine, ticket_id: int) -> str | None:
    """The intent triage gave the ticket."""
    with engine.session() as session:
        ticket = session.get(Ticket, ticket_id)
        return ticket.intent if ticket is not None else None


def score(
    past: History, rows: list[dict[str, str]], drafts: list[dict[str, Any]], guidance: list[str]
) -> dict[str, Any]:
    """The bench's JSON: basis mix, leaks, latency, and (when TICKETS has intent and reply) topic and similarity."""
    from engine.drafting import GuidanceFilter

    n = len(drafts)
    checker = GuidanceFilter(guidance)
    holding = [d["basis"] == HOLDING for d in drafts]
    ttft = [d["ttft_ms"] for d in drafts]
    result: dict[str, Any] = {
        "n": n,
        "n_history": len(past.texts),
        "holding_rate": _rate(sum(holding), n),
        "basis_counts": {b: sum(d["basis"] == b for d in drafts) for b in sorted({d["basis"] for d in drafts})},
        "placeholder_leak_rate": _rate(sum(bool(template_markers(d["draft"])) for d in drafts), n),
        "guidance_leak_rate": _rate(sum(bool(checker.guidance_sentences(d["draft"])) for d in drafts), n),
        "drafts_with_fields_rate": _rate(sum(bool(d["fields_to_fill"]) for d in drafts), n),
        "other_customer_leak_rate": _rate(
            sum(_names_other_customer(d["draft"], r["text"], past) for d, r in zip(drafts, rows, strict=True)), n
        ),
        "ttft_p50_ms": _percentile(ttft, 50),
        "ttft_p95_ms": _percentile(ttft, 95),
        "seconds_per_draft_p95": _percentile([d["seconds"] for d in drafts], 95),
        "history_notes": past.notes,
    }
    labelled = [i for i, p in enumerate(past.intents) if p and past.replies[i]]
    if not labelled or not all("intent" in r and "reply" in r for r in rows):
        return result
    judge = ReplyJudge([past.replies[i] for i in labelled], [past.intents[i] for i in labelled])
    domain = [i for i, r in enumerate(rows) if r["intent"] in judge.intents and r["reply"]]
    outside = [i for i, r in enumerate(rows) if r["intent"] not in judge.intents]
    result["holding_rate_in_domain"] = _rate(sum(holding[i] for i in domain), len(domain))
    result["holding_rate_out_of_domain"] = _rate(sum(holding[i] for i in outside), len(outside))
    if not domain:
        return result
    gold = [rows[i]["intent"] for i in domain]
    references = [rows[i]["reply"] for i in domain]
    texts = [drafts[i]["draft"] for i in domain]
    nearest = nearest_replies(past.texts, [rows[i]["text"] for i in domain])
    baseline = [past.replies[j] for j in nearest]
    result |= {
        "n_scored": len(domain),
        "on_topic_rate": _agreement(judge.intent_of(texts), gold),
        "similarity_to_reference": round(float(np.mean(judge.similarity(texts, references))), 4),
        "baseline_on_topic_rate": _agreement(judge.intent_of(baseline), gold),
        "baseline_similarity_to_reference": round(float(np.mean(judge.similarity(baseline, references))), 4),
        "baseline_placeholder_leak_rate": _rate(sum(bool(template_markers(t)) for t in baseline), len(baseline)),
        "judge_on_reference_rate": _agreement(judge.intent_of(references), gold),
    }
    return result


def _names_other_customer(draft: str, message: str, past: History) -> bool:
    """True when a draft names a past ticket's customer (a word of the name or the e-mail address) that this
    ticket's own message does not."""
    words = set(re.findall(r"[^\W\d_]{2,}", draft)) - set(re.findall(r"[^\W\d_]{2,}", message))
    return any(
        (email and email in draft) or any(part in words for part in name.split() if len(part) > 1)
        for name, email in _other_customers(past)
    )


def _other_customers(past: History) -> list[tuple[str, str]]:
    return list(dict.fromkeys(past.customers))


def guidance_texts(kb_folder: Path | None) -> list[str]:
    """The guidance documents drafts were made with (the demo manual unless --kb names a folder of articles)."""
    from engine.knowledge.demo_kb import abcd_documents

    specs = load_folder(kb_folder)[0] if kb_folder else abcd_documents(DEMO_DATA_DIR / "abcd_guidelines")
    return [s.text for s in specs if s.kind == "guidance"]


def _agreement(predicted: list[str], gold: list[str]) -> float:
    return _rate(sum(p == g for p, g in zip(predicted, gold, strict=True)), len(gold))


def _rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _percentile(values: list[float], q: int) -> float:
    return round(float(np.percentile(values, q)), 1) if values else 0.0
