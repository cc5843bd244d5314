"""Record what the agent did with the AI's work: approve, edit, reject, override the intent."""

from __future__ import annotations

import logging

from sqlmodel import Session, col, select

from engine.outbox import enqueue_reply, too_long
from engine.sla import record_resolution
from engine.store.models import Direction, Draft, Feedback, FeedbackKind, Message, Ticket, TicketStatus, utcnow

log = logging.getLogger(__name__)


class FeedbackError(ValueError):
    """The agent's action cannot be recorded; the message says why."""


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters between the draft and the sent reply."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def latest_draft(session: Session, ticket_id: int) -> Draft | None:
    """The newest draft of a ticket."""
    query = (
        select(Draft).where(Draft.ticket_id == ticket_id).order_by(col(Draft.created_at).desc(), col(Draft.id).desc())
    )
    return session.exec(query).first()


def send_reply(
    session: Session, *, ticket_id: int, draft_id: int | None, text: str, agent: str, draft_text: str | None = None
) -> Feedback:
    """Queue a reply for delivery (approve when unchanged, edit otherwise), resolve the ticket, store the feedback.

    `draft_text` is the draft as the agent was given it to send (its fields filled), when not the stored text."""
    text = text.strip()
    if not text:
        raise FeedbackError("the reply is empty")
    ticket = _ticket(session, ticket_id)
    problem = too_long(ticket.channel, text)
    if problem:
        raise FeedbackError(problem)
    if ticket.status == TicketStatus.RESOLVED and _already_sent(session, ticket_id, text):
        raise FeedbackError("this reply was already sent")
    draft = session.get(Draft, draft_id) if draft_id is not None else None
    draft_text = draft_text if draft_text is not None else (draft.text if draft else "")
    distance = edit_distance(draft_text, text)
    kind = FeedbackKind.APPROVE if draft is not None and distance == 0 else FeedbackKind.EDIT
    now = utcnow()
    reply = Message(ticket_id=ticket_id, direction=Direction.OUTBOUND, author=agent, body=text, created_at=now)
    session.add(reply)
    session.flush()
    enqueue_reply(session, reply)  # delivered by the courier once this transaction commits
    ticket.mark_resolved(now)
    record_resolution(ticket, now)
    session.add(ticket)
    feedback = Feedback(
        ticket_id=ticket_id,
        draft_id=draft_id,
        kind=kind,
        draft_text=draft_text,
        final_text=text,
        edit_distance=distance,
        edit_ratio=round(distance / max(len(draft_text), len(text), 1), 4),
        old_intent=ticket.intent,
        agent=agent,
        created_at=now,
    )
    session.add(feedback)
    session.flush()
    return feedback


def reject_draft(session: Session, *, ticket_id: int, draft_id: int | None, reason: str, agent: str) -> Feedback:
    """Reject the AI draft with a reason; the ticket stays open for the agent."""
    if not reason.strip():
        raise FeedbackError("say why the draft is rejected")
    ticket = _ticket(session, ticket_id)
    draft = session.get(Draft, draft_id) if draft_id is not None else None
    feedback = Feedback(
        ticket_id=ticket_id,
        draft_id=draft_id,
        kind=FeedbackKind.REJECT,
        draft_text=draft.text if draft else "",
        reason=reason.strip(),
        old_intent=ticket.intent,
        agent=agent,
    )
    ticket.status = TicketStatus.OPEN
    session.add(ticket)
    session.add(feedback)
    session.flush()
    return feedback


def override_intent(session: Session, *, ticket_id: int, new_intent: str, agent: str) -> Feedback:
    """Correct the ticket's intent; the correction becomes a training label."""
    new_intent = new_intent.strip()
    if not new_intent:
        raise FeedbackError("choose an intent")
    ticket = _ticket(session, ticket_id)
    feedback = Feedback(
        ticket_id=ticket_id,
        kind=FeedbackKind.OVERRIDE_INTENT,
        old_intent=ticket.intent,
        new_intent=new_intent,
        agent=agent,
    )
    ticket.intent = new_intent
    ticket.intent_confidence = 1.0
    ticket.needs_review = False
    ticket.review_reason = ""
    session.add(ticket)
    session.add(feedback)
    session.flush()
    return feedback


def _ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise FeedbackError(f"ticket {ticket_id} does not exist")
    return ticket


def _already_sent(session: Session, ticket_id: int, text: str) -> bool:
    # bodies are encrypted with a random IV: compare the ticket's outbound messages in Python, not in SQL
    query = select(Message.body).where(Message.ticket_id == ticket_id, Message.direction == Direction.OUTBOUND)
    return any(body == text for body in session.exec(query))
