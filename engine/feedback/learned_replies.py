"""Learned replies: what agents approved or edited and sent, turned into knowledge-base articles on request.

A learned reply is the sent text of an approve or edit feedback row, filed under the ticket's intent as it stands
(after any correction). The customer's name in the greeting is dropped, and a reply that names personal data
(an e-mail, phone, order number, ...) is never promoted. Drafts reuse sent replies through the reply memory
(engine/knowledge/reply_memory.py), not through this module.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.knowledge.documents import DocumentSpec
from engine.privacy import audit
from engine.privacy.redaction import redact
from engine.store.db import session_scope
from engine.store.models import Direction, Feedback, FeedbackKind, Message, Ticket

if TYPE_CHECKING:
    from engine.knowledge.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b[^,\n!.]{0,40}[,!.]?\s*", re.IGNORECASE
)


class LearnedReplyError(ValueError):
    """The feedback row cannot become a learned reply or an article; the message says why."""


@dataclass(frozen=True)
class LearnedReply:
    feedback_id: int
    ticket_id: int
    intent: str
    question: str
    reply: str  # without the greeting line
    kind: str  # approve | edit
    agent: str
    created_at: datetime
    personal: bool  # names personal data: never promoted to an article


def promote_to_kb(db: SAEngine, kb: KnowledgeBase | None, feedback_id: int, *, actor: str = "agent") -> DocumentSpec:
    """Turn one learned reply into a knowledge-base article (indexed now when the knowledge base is loaded)."""
    with session_scope(db) as session:
        feedback = session.get(Feedback, feedback_id)
        if (
            feedback is None
            or feedback.kind not in (FeedbackKind.APPROVE, FeedbackKind.EDIT)
            or not feedback.final_text
        ):
            raise LearnedReplyError(f"feedback {feedback_id} is not an approved or edited reply")
        ticket = session.get(Ticket, feedback.ticket_id)
        if ticket is None:
            raise LearnedReplyError(f"the ticket of feedback {feedback_id} no longer exists")
        reply = _learned(session, feedback, ticket)
        if reply.personal:
            raise LearnedReplyError("the reply names personal data: edit it into a general answer before promoting it")
        spec = DocumentSpec(
            key=f"learned/{reply.intent}/{feedback_id}",
            title=f"{reply.intent.replace('_', ' ').capitalize()}: {ticket.subject}".strip(": "),
            text=f"# {ticket.subject or reply.intent}\n\n## Question\n\n{reply.question}\n\n"
            f"## Answer\n\n{reply.reply}\n",
            source=f"learned reply {feedback_id} by {feedback.agent or 'an agent'}",
        )
        audit.append(
            session,
            actor=actor,
            action="learned_reply_promoted",
            subject=f"feedback:{feedback_id}",
            details={"key": spec.key},
        )
    if kb is not None:
        kb.add_document(spec)
    else:
        log.warning("knowledge base not loaded yet: %s is returned but not indexed", spec.key)
    return spec


def _learned(session: Session, feedback: Feedback, ticket: Ticket) -> LearnedReply:
    question = session.exec(
        select(Message.body)
        .where(Message.ticket_id == ticket.id, Message.direction == Direction.INBOUND)
        .order_by(col(Message.created_at), col(Message.id))
    ).first()
    reply = _GREETING.sub("", feedback.final_text, count=1).strip() or feedback.final_text.strip()
    return LearnedReply(
        feedback_id=feedback.id or 0,
        ticket_id=ticket.id or 0,
        intent=ticket.intent or "",
        question=question or ticket.subject,
        reply=reply,
        kind=feedback.kind,
        agent=feedback.agent,
        created_at=feedback.created_at,
        personal=redact(reply).found,
    )
