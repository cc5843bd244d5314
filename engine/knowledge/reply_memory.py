"""Reply memory: the replies the team sent on tickets that stayed resolved, found by intent and similarity.

An entry is a resolved ticket with a reply, of a customer who did not opt out of their tickets feeding drafts: sent
by an agent (approved, or edited and sent), sent by auto-resolve and not reopened since (a reopen takes the ticket out
of the resolved state), or imported with the team's history.
It is filed under the customer message it answered and under its intent (the team's label when the ticket came with
one, else the ticket's intent as it stands after corrections). Its vector is the ticket's own embedding in the
similar-tickets index: one index serves drafts, auto-resolve and the "similar resolved tickets" panel.

Drafts built on an entry count for or against it: a draft sent unchanged counts for it, a draft rejected or a
ticket reopened after its answer counts against it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from weakref import WeakKeyDictionary

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from engine.knowledge.reply_words import ReplyWords
from engine.knowledge.similar_tickets import SimilarTickets
from engine.store.models import (
    SURVEY_AUTHOR,
    Customer,
    Direction,
    Draft,
    Feedback,
    FeedbackKind,
    Message,
    Ticket,
    TicketStatus,
)

log = logging.getLogger(__name__)

CANDIDATES = 25  # nearest entries of the intent read and ranked for one draft (dev split: 15-40 alike)
NEIGHBOURS = 100  # nearest tickets looked at when the intent has no entry
VOTERS = 10  # nearest entries whose intents vote for the message's intent when triage named none
MAX_REPLY_CHARS = 5000  # a longer reply stays on its ticket but is never reused
# agreement with the other candidates' replies: on the dev split, similarity to the real reply 0.430 at 0, 0.468 at 2
CONSENSUS_WEIGHT = 2.0
ECHO_WEIGHT = 1.0  # a reply that speaks of the words of the customer's message (dev split: +0.01 similarity)
TRACK_WEIGHT = 0.3  # sent unchanged vs rejected or reopened (no history of reuse in the bench: not tuned)
_WORDS: WeakKeyDictionary[SimilarTickets, ReplyWords] = WeakKeyDictionary()  # one count per reply memory


@dataclass(frozen=True)
class MemoryEntry:
    """One reusable reply: the message it answered, the reply, whose ticket it was, and how it fared since."""

    ticket_id: int
    intent: str
    question: str
    reply: str
    customer_name: str  # the other customer's: never reaches a draft
    customer_email: str | None
    sent_at: datetime | None
    similarity: float  # of its question to the new message
    score: float = 0.0  # ranking score (similarity, consensus, track record)
    sent: int = 0  # drafts based on it that agents sent
    unchanged: int = 0  # of those, sent unchanged
    against: int = 0  # drafts based on it rejected, or tickets reopened after one was sent


class ReplyMemory:
    """Finds the best past replies for a message embedding, reading entries from the database."""

    def __init__(self, similar: SimilarTickets) -> None:
        self._similar = similar
        self._words = _WORDS.setdefault(similar, ReplyWords())

    def best(
        self,
        session: Session,
        vector: np.ndarray,
        *,
        intent: str | None,
        message: str = "",
        exclude: int | None = None,
        k: int = 3,
    ) -> list[MemoryEntry]:
        """The k best entries: same intent first, then similarity, agreement with the team's other replies, the
        words of the message, and how often it was sent unchanged."""
        ids = self._intent_ids(session, intent, exclude) if intent else []
        scores = self._similar.similarity(vector, ids) if ids else {}
        if not scores:
            scores = dict(self._similar.search(vector, NEIGHBOURS, exclude=exclude))
        top = sorted(scores, key=lambda i: -scores[i])[: CANDIDATES if ids else NEIGHBOURS]
        entries = self._entries(session, top, scores)
        if not ids:  # triage named no intent (or it has no reply yet): the one the nearest replies answer
            entries = of_likeliest_intent(entries)
        entries = entries[:CANDIDATES]
        self._words.update(session)
        return rank(entries, self._words, message)[:k]

    def similar(
        self, session: Session, vector: np.ndarray, *, k: int = 3, exclude: int | None = None
    ) -> list[MemoryEntry]:
        """The entries whose message is most like this one, any intent, most similar first."""
        scores = dict(self._similar.search(vector, NEIGHBOURS, exclude=exclude))
        return self._entries(session, sorted(scores, key=lambda i: -scores[i]), scores)[:k]

    def entry(self, session: Session, ticket_id: int) -> MemoryEntry | None:
        """One entry by its ticket (None when that ticket is not a reusable reply)."""
        found = self._entries(session, [ticket_id], {ticket_id: 1.0})
        return found[0] if found else None

    def _intent_ids(self, session: Session, intent: str, exclude: int | None) -> list[int]:
        label = func.coalesce(Ticket.gold_intent, Ticket.intent)
        query = (
            select(Ticket.id)
            .join(Customer, col(Customer.id) == col(Ticket.customer_id))
            .where(Ticket.status == TicketStatus.RESOLVED, label == intent, col(Customer.ai_drafts_opt_out).is_(False))
        )
        return [i for i in session.exec(query) if i is not None and i != exclude]

    def _entries(self, session: Session, ticket_ids: Sequence[int], scores: dict[int, float]) -> list[MemoryEntry]:
        """Entries for these tickets in the given order; tickets that are not resolved or have no usable reply
        are left out."""
        if not ticket_ids:
            return []
        rows = session.exec(
            select(Ticket, Customer)
            .join(Customer, col(Customer.id) == col(Ticket.customer_id))
            .where(col(Ticket.id).in_(list(ticket_ids)), Ticket.status == TicketStatus.RESOLVED)
            .where(col(Customer.ai_drafts_opt_out).is_(False))  # they opted out of their tickets feeding drafts
        ).all()
        tickets = {t.id or 0: (t, c) for t, c in rows}
        messages = session.exec(
            select(Message)
            .where(col(Message.ticket_id).in_(list(tickets)))
            .order_by(col(Message.created_at), col(Message.id))
        ).all()
        questions: dict[int, str] = {}
        replies: dict[int, Message] = {}
        for message in messages:
            if message.direction == Direction.INBOUND:
                questions.setdefault(message.ticket_id, message.body)
            elif message.author != SURVEY_AUTHOR:  # a survey follow-up is no reply to reuse
                replies[message.ticket_id] = message  # the last reply is the one that closed the ticket
        track = track_records(session, list(tickets))
        out: list[MemoryEntry] = []
        for ticket_id in ticket_ids:
            if ticket_id not in tickets or ticket_id not in replies:
                continue
            reply = replies[ticket_id].body.strip()
            if not reply or len(reply) > MAX_REPLY_CHARS:
                continue
            ticket, customer = tickets[ticket_id]
            sent, unchanged, against = track.get(ticket_id, (0, 0, 0))
            out.append(
                MemoryEntry(
                    ticket_id=ticket_id,
                    intent=ticket.gold_intent or ticket.intent or "",
                    question=questions.get(ticket_id, ticket.subject),
                    reply=reply,
                    customer_name=customer.name,
                    customer_email=customer.email,
                    sent_at=replies[ticket_id].created_at,
                    similarity=round(float(scores.get(ticket_id, 0.0)), 4),
                    sent=sent,
                    unchanged=unchanged,
                    against=against,
                )
            )
        return out


def of_likeliest_intent(entries: list[MemoryEntry]) -> list[MemoryEntry]:
    """The entries of the intent the nearest entries answer (their similarities summed), in the same order."""
    votes: dict[str, float] = {}
    for entry in entries[:VOTERS]:
        votes[entry.intent] = votes.get(entry.intent, 0.0) + entry.similarity
    if not votes:
        return entries
    chosen = max(votes, key=lambda intent: votes[intent])
    return [e for e in entries if e.intent == chosen]


def track_records(session: Session, ticket_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """(sent, sent unchanged, against) of drafts based on each entry."""
    if not ticket_ids:
        return {}
    counts: dict[int, list[int]] = {}
    outcomes = session.exec(
        select(Draft.based_on, Feedback.kind, func.count())
        .join(Feedback, col(Feedback.draft_id) == col(Draft.id))
        .where(col(Draft.based_on).in_(ticket_ids))
        .group_by(col(Draft.based_on), col(Feedback.kind))
    ).all()
    for based_on, kind, count in outcomes:
        record = counts.setdefault(int(based_on or 0), [0, 0, 0])
        if kind in (FeedbackKind.APPROVE, FeedbackKind.EDIT):
            record[0] += count
        if kind == FeedbackKind.APPROVE:
            record[1] += count
        if kind == FeedbackKind.REJECT:
            record[2] += count
    reopened = session.exec(
        select(Draft.based_on, func.count(func.distinct(Feedback.ticket_id)))
        .join(Feedback, col(Feedback.ticket_id) == col(Draft.ticket_id))
        .where(col(Draft.based_on).in_(ticket_ids), Feedback.kind == FeedbackKind.REOPEN)
        .where(col(Feedback.created_at) > col(Draft.created_at))
        .group_by(col(Draft.based_on))
    ).all()
    for based_on, count in reopened:
        counts.setdefault(int(based_on or 0), [0, 0, 0])[2] += count
    return {k: (v[0], v[1], v[2]) for k, v in counts.items()}


def rank(entries: list[MemoryEntry], weights: ReplyWords, message: str = "") -> list[MemoryEntry]:
    """Entries by score: similarity of the message, agreement with the other candidates' replies, how much of the
    message's wording the reply speaks of, track record."""
    if not entries:
        return []
    vectors = weights.vectors([e.reply for e in entries] + [message])
    replies, asked = vectors[:-1], vectors[-1]
    agreement = consensus(replies)
    echo = replies @ asked
    scored = [
        replace(
            e, score=round(e.similarity + CONSENSUS_WEIGHT * a + ECHO_WEIGHT * m + TRACK_WEIGHT * track_score(e), 4)
        )
        for e, a, m in zip(entries, agreement, echo, strict=True)
    ]
    return sorted(scored, key=lambda e: (-e.score, e.ticket_id))


def track_score(entry: MemoryEntry) -> float:
    """-1..1: sent unchanged counts for an entry, rejections and reopens against it (0 without a record)."""
    return (entry.unchanged - entry.against) / (entry.sent + entry.against + 2)


def consensus(vectors: np.ndarray) -> list[float]:
    """Each reply's mean cosine to the others (unit rows): high for the answer most replies agree on (0 for < 3)."""
    n = len(vectors)
    if n < 3:
        return [0.0] * n
    cosine = vectors @ vectors.T
    return [float((cosine[i].sum() - cosine[i, i]) / (n - 1)) for i in range(n)]
