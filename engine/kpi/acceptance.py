"""Draft acceptance ("copy rate"): drafts sent unchanged, with small edits, heavily edited, or rejected.

A small edit changes at most SMALL_EDIT of the text (character edit distance over the length of the longer of draft
and reply). Counted from the agents' feedback on drafts, by intent, by week and by the draft's basis; the reply memory
reads the same rows for each past reply's record (sent unchanged counts for it, rejected against it).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.store.db import session_scope
from engine.store.models import Draft, Feedback, FeedbackKind, Ticket

SMALL_EDIT = 0.2
BUCKETS = ("unchanged", "small_edit", "heavy_edit", "rejected")


def bucket(kind: str, ratio: float) -> str | None:
    """Which acceptance bucket a feedback row falls in (None: not a verdict on a draft)."""
    if kind == FeedbackKind.APPROVE:
        return "unchanged"
    if kind == FeedbackKind.EDIT:
        return "small_edit" if ratio <= SMALL_EDIT else "heavy_edit"
    if kind == FeedbackKind.REJECT:
        return "rejected"
    return None


def draft_acceptance(db: SAEngine) -> dict[str, list[dict[str, Any]]]:
    """Acceptance counts and rates by intent, by ISO week and by basis, plus one total row."""
    with session_scope(db) as session:
        return _acceptance(session)


def _acceptance(session: Session) -> dict[str, list[dict[str, Any]]]:
    rows = session.exec(
        select(Feedback, Ticket.intent, Draft.basis)
        .join(Ticket, col(Ticket.id) == col(Feedback.ticket_id))
        .join(Draft, col(Draft.id) == col(Feedback.draft_id))
        .where(col(Feedback.draft_id).is_not(None))
        .where(col(Feedback.kind).in_([FeedbackKind.APPROVE, FeedbackKind.EDIT, FeedbackKind.REJECT]))
    ).all()
    groups: dict[str, dict[str, dict[str, int]]] = {
        "intent": defaultdict(lambda: dict.fromkeys(BUCKETS, 0)),
        "week": defaultdict(lambda: dict.fromkeys(BUCKETS, 0)),
        "basis": defaultdict(lambda: dict.fromkeys(BUCKETS, 0)),
        "total": defaultdict(lambda: dict.fromkeys(BUCKETS, 0)),
    }
    for feedback, intent, basis in rows:
        name = bucket(feedback.kind, _ratio(feedback))
        if name is None:
            continue
        year, week, _ = feedback.created_at.isocalendar()
        for group, key in (
            ("intent", intent or "unknown"),
            ("week", f"{year}-W{week:02d}"),
            ("basis", basis or "before reply memory"),
            ("total", "all drafts"),
        ):
            groups[group][key][name] += 1
    return {group: [_row(key, counts) for key, counts in sorted(found.items())] for group, found in groups.items()}


def _ratio(feedback: Feedback) -> float:
    if feedback.edit_ratio is not None:
        return feedback.edit_ratio
    longest = max(len(feedback.draft_text), len(feedback.final_text), 1)
    return feedback.edit_distance / longest


def _row(key: str, counts: dict[str, int]) -> dict[str, Any]:
    total = sum(counts.values())
    return {
        "key": key,
        **counts,
        "drafts": total,
        "copy_rate": round(counts["unchanged"] / total, 3) if total else 0.0,
        "accepted_rate": round((counts["unchanged"] + counts["small_edit"]) / total, 3) if total else 0.0,
    }
