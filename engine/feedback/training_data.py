"""Labelled texts for the intent model: shipped demo labels plus what agents confirmed or corrected."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlmodel import Session, col, select

from engine.demo import bitext_requests, split_queue_and_training
from engine.privacy.redaction import redact
from engine.store.models import Direction, Feedback, FeedbackKind, Message, Ticket

ID_BATCH = 500  # ticket ids per IN (...) query, well below SQLite's limit on bound parameters


def demo_training_rows(data_dir: Path, queue_count: int, per_intent: int = 0) -> tuple[list[str], list[str]]:
    """Bitext requests that are not in the demo queue, with their intent labels (at most `per_intent` each if > 0)."""
    requests = bitext_requests(data_dir)
    _, training = split_queue_and_training(requests, queue_count)
    rows = [requests[i] for i in training if requests[i].intent]
    if per_intent > 0:
        taken: Counter[str | None] = Counter()
        kept = []
        for row in rows:
            if taken[row.intent] < per_intent:
                taken[row.intent] += 1
                kept.append(row)
        rows = kept
    return [redact(r.text).text for r in rows], [r.intent or "" for r in rows]


def confirmed_rows(session: Session) -> tuple[list[str], list[str]]:
    """First customer message of every ticket whose intent a person gave: an agent's correction, the intent of a
    reply the agent sent, or the label of an imported past ticket ("unknown" included: out of the taxonomy)."""
    corrected = select(Feedback.ticket_id, Feedback.new_intent).where(Feedback.kind == FeedbackKind.OVERRIDE_INTENT)
    labels: dict[int, str] = {}
    for ticket_id, intent in session.exec(corrected.order_by(col(Feedback.created_at))):
        if intent:
            labels[ticket_id] = intent
    sent = select(Feedback.ticket_id, Feedback.old_intent).where(
        col(Feedback.kind).in_([FeedbackKind.APPROVE, FeedbackKind.EDIT])
    )
    imported = select(Ticket.id, Ticket.gold_intent).where(
        col(Ticket.imported).is_(True), col(Ticket.gold_intent).is_not(None)
    )
    for ticket_id, intent in [*session.exec(sent), *session.exec(imported)]:
        if ticket_id is not None and intent:
            labels.setdefault(ticket_id, intent)
    first = first_messages(session, list(labels))
    texts, out = [], []
    for ticket_id, intent in labels.items():
        if first.get(ticket_id):
            texts.append(redact(first[ticket_id]).text)
            out.append(intent)
    return texts, out


def first_messages(session: Session, ticket_ids: list[int]) -> dict[int, str]:
    """The first customer message of each ticket (what a confirmed label trains on, before redaction)."""
    first: dict[int, str] = {}
    for start in range(0, len(ticket_ids), ID_BATCH):
        query = select(Message.ticket_id, Message.body).where(
            col(Message.ticket_id).in_(ticket_ids[start : start + ID_BATCH]), Message.direction == Direction.INBOUND
        )
        for ticket_id, body in session.exec(query.order_by(col(Message.created_at), col(Message.id))):
            first.setdefault(ticket_id, body)
    return first


def training_texts(session: Session, ticket_ids: list[int]) -> list[str]:
    """The texts these tickets would train the intent model on (redacted first messages), for erasure."""
    return [redact(body).text for body in first_messages(session, ticket_ids).values() if body]
