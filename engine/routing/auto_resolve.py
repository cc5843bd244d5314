"""Finish auto-resolved tickets and tag how every AI interaction ended.

An auto-resolved ticket gets its intent's action executed (once: idempotency key) and one reply that says what was
done and offers a person. The answer part is the team's past reply from the reply memory when one of the same
intent fits closely, has no record of rejections and adapts with nothing left to fill, else the ticket's draft when
every sentence of it is supported by its sources. Nothing is sent when the action fails or there is
no safe answer: the ticket goes to an agent with a note (outcome `failed` when the action failed).

Outcome tags: escalated (set by the router), resolved_by_ai (auto-resolved, or an agent approved the draft as it
was), resolved_with_edit (an agent edited the draft), resolved_by_agent (an agent rejected the draft or wrote
without one), failed (an automatic answer did not settle it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.drafting import adapt_reply, ticket_values
from engine.knowledge.reply_memory import ReplyMemory, track_score
from engine.knowledge.similar_tickets import SimilarTickets
from engine.outbox import enqueue_reply
from engine.privacy import audit
from engine.privacy.redaction import redact
from engine.routing.actions.base import ActionContext, ActionResult
from engine.routing.actions.runner import ActionFailed, ActionRunner
from engine.routing.policy import RoutingPolicy
from engine.routing.router import ticket_text
from engine.sla import record_resolution
from engine.store.db import session_scope
from engine.store.models import (
    Customer,
    Direction,
    Draft,
    FeedbackKind,
    Message,
    Outcome,
    Route,
    Ticket,
    TicketStatus,
    utcnow,
)

log = logging.getLogger(__name__)

AI_AUTHOR = "CareDesk AI"
OFFER_A_PERSON = "If this does not settle it, just reply to this message and a person from our team will take over."
LEARNED_MIN_SIMILARITY = 0.75  # a past reply is sent as the answer only to a question at least this close
_KEPT_OUTCOMES = (Outcome.FAILED, Outcome.ESCALATED, Outcome.RESOLVED_BY_AGENT)
_ticket_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class AutoResult:
    """What happened to one auto-resolved ticket."""

    ticket_id: int
    sent: bool
    reply: str = ""
    note: str = ""
    action: ActionResult | None = None
    waiting_for_draft: bool = False


@contextmanager
def one_at_a_time(ticket_id: int) -> Iterator[None]:
    """Serialise work on one ticket in this process: a double click waits, then sees the first click's result."""
    with _locks_guard:
        lock = _ticket_locks.setdefault(ticket_id, threading.Lock())
    with lock:
        yield


def compose_reply(customer_name: str, action_text: str, answer: str) -> str:
    """Greeting, what was done, the answer, and the offer of a person."""
    first = customer_name.split()[0] if customer_name.strip() else ""
    parts = [f"Hi {first}," if first else "Hello,", action_text, answer, OFFER_A_PERSON]
    return "\n\n".join(p.strip() for p in parts if p.strip())


def sendable(draft: Draft | None) -> bool:
    """A draft safe to send unreviewed: not a fallback, and every non-courtesy sentence supported by its source."""
    if draft is None or draft.is_fallback or not draft.text.strip():
        return False
    rows = draft.sentence_support or []
    return bool(rows) and all(r.get("supported") or r.get("courtesy") for r in rows)


def auto_resolve_ticket(
    db: SAEngine,
    ticket_id: int,
    *,
    policy: RoutingPolicy,
    runner: ActionRunner | None,
    draft: Draft | None = None,
    vector: np.ndarray | None = None,
    similar: SimilarTickets | None = None,
    actor: str = AI_AUTHOR,
    store_values: Mapping[str, str] | None = None,
) -> AutoResult:
    """Execute the action of an auto-resolved ticket and send the reply; hand it to an agent when that fails.

    Reads first, then the action (its store call runs with no transaction open), then one short transaction that
    sends the reply, if the ticket is still an open auto-resolved one."""
    with one_at_a_time(ticket_id):
        with Session(db, expire_on_commit=False) as session:  # reads only: no write lock while the store is called
            ticket = session.get(Ticket, ticket_id)
            if ticket is None or ticket.route != Route.AUTO_RESOLVE or ticket.outcome is not None:
                return AutoResult(ticket_id, False, note="not an open auto-resolved ticket")
            customer = session.get(Customer, ticket.customer_id)
            assert customer is not None
            text = ticket_text(session, ticket_id)
            action_name = policy.action_for(ticket.intent or "")
            answer = _answer(session, ticket, customer, draft, vector, similar, store_values or {})
        if action_name is None and answer is None:
            if draft is None:
                return AutoResult(ticket_id, False, note="waiting for a draft", waiting_for_draft=True)
            note = "no safe answer to send automatically (the draft is not fully supported by its sources)"
            return _hand_over(db, ticket_id, note, failed=False)
        result = None
        if action_name is not None:
            if runner is None:
                return _hand_over(db, ticket_id, f"action '{action_name}' needs the store, and none is connected")
            context = ActionContext(ticket_id, customer.email, customer.name, text)
            try:
                result = runner.execute(db, action_name, context, actor=actor)
            except ActionFailed as exc:
                return _hand_over(db, ticket_id, str(exc))
        reply = compose_reply(customer.name, result.customer_text if result else "", answer or "")
        with session_scope(db) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None or ticket.route != Route.AUTO_RESOLVE or ticket.outcome is not None:
                return AutoResult(ticket_id, False, note="the ticket changed while its action ran", action=result)
            _send(session, ticket, reply, actor)
            details = {"action": action_name, "reference": result.reference if result else None, "chars": len(reply)}
            audit.append(
                session, actor=actor, action="ai_auto_resolved", subject=f"ticket:{ticket_id}", details=details
            )
        return AutoResult(ticket_id, True, reply=reply, action=result)


def _hand_over(db: SAEngine, ticket_id: int, note: str, *, failed: bool = True) -> AutoResult:
    with session_scope(db) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return hand_over(session, ticket, note, failed=failed)


def open_auto_resolved(db: SAEngine) -> list[int]:
    """Drafted auto-resolved tickets still waiting for their action and reply (a restart interrupted them)."""
    query = select(Ticket.id).where(
        Ticket.route == Route.AUTO_RESOLVE,
        col(Ticket.outcome).is_(None),
        Ticket.status != TicketStatus.RESOLVED,
        col(Ticket.drafted_at).is_not(None),
    )
    with Session(db) as session:
        return [ticket_id for ticket_id in session.exec(query) if ticket_id is not None]


def hand_over(session: Session, ticket: Ticket, note: str, *, failed: bool = True) -> AutoResult:
    """Give an auto-resolved ticket to an agent with a note; nothing is sent.

    `failed`: the AI tried and failed (an action did not go through): outcome `failed`, route kept. Otherwise the
    AI only had nothing safe to say: the ticket becomes an ordinary assist ticket.
    """
    assert ticket.id is not None
    if failed:
        ticket.outcome = Outcome.FAILED
    else:
        ticket.route = Route.ASSIST
    ticket.status = TicketStatus.OPEN
    ticket.route_reason = f"{ticket.route_reason} | handed to an agent: {note}".strip(" |")
    ticket.updated_at = utcnow()
    session.add(ticket)
    details = {"note": redact(note).text}  # the store's words may carry an address: the audit log keeps none
    audit.append(session, actor=AI_AUTHOR, action="ai_handed_over", subject=f"ticket:{ticket.id}", details=details)
    log.warning("ticket %s handed to an agent: %s", ticket.id, note)
    return AutoResult(ticket.id, False, note=note)


def record_outcome(session: Session, ticket: Ticket, feedback_kind: str | None) -> str | None:
    """Tag how the AI interaction ended after an agent's approve / edit / reject (None: a reply without a draft)."""
    if ticket.outcome in _KEPT_OUTCOMES:
        return ticket.outcome
    outcomes: dict[str | None, Outcome] = {
        FeedbackKind.APPROVE: Outcome.RESOLVED_BY_AI,
        FeedbackKind.EDIT: Outcome.RESOLVED_WITH_EDIT,
        FeedbackKind.REJECT: Outcome.RESOLVED_BY_AGENT,
        None: Outcome.RESOLVED_BY_AGENT,
    }
    outcome = outcomes.get(feedback_kind)
    if outcome is None:
        return ticket.outcome  # an intent override alone does not end the interaction
    ticket.outcome = outcome
    if ticket.first_response_at is None and feedback_kind != FeedbackKind.REJECT:
        ticket.first_response_at = utcnow()
    session.add(ticket)
    audit.append(
        session, actor="desk", action="ai_outcome", subject=f"ticket:{ticket.id}", details={"outcome": outcome.value}
    )
    return outcome


def _answer(
    session: Session,
    ticket: Ticket,
    customer: Customer,
    draft: Draft | None,
    vector: np.ndarray | None,
    similar: SimilarTickets | None,
    store_values: Mapping[str, str],
) -> str | None:
    """A close past reply of this intent that adapts with nothing to fill, else a fully supported draft, else None."""
    if vector is not None and similar is not None and ticket.intent:
        message = ticket_text(session, ticket.id or 0)
        values = ticket_values(
            message=message,
            customer_name=customer.name,
            customer_email=customer.email,
            store_values=store_values,
        )
        for entry in ReplyMemory(similar).best(
            session, vector, intent=ticket.intent, message=message, exclude=ticket.id
        ):
            if entry.intent != ticket.intent or entry.similarity < LEARNED_MIN_SIMILARITY or track_score(entry) < 0:
                continue
            adapted = adapt_reply(
                entry.reply,
                customer_name=None,
                values=values,
                other_names=[entry.customer_name],
                other_message=entry.question,
                this_message=message,
                greeting=False,
            )
            if not adapted.fields and not adapted.replaced:
                return adapted.text
    return draft.text if sendable(draft) and draft is not None else None


def _send(session: Session, ticket: Ticket, reply: str, actor: str) -> None:
    now = utcnow()
    message = Message(ticket_id=ticket.id or 0, direction=Direction.OUTBOUND, author=actor, body=reply, created_at=now)
    session.add(message)
    session.flush()
    enqueue_reply(session, message)
    ticket.mark_resolved(now)
    ticket.outcome = Outcome.RESOLVED_BY_AI
    ticket.first_response_at = ticket.first_response_at or now
    record_resolution(ticket, now)
    ticket.needs_review = False
    session.add(ticket)
