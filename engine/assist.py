"""Assist: retrieve knowledge for a ticket, draft a grounded reply with the local model, store it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, replace

import numpy as np
from sqlmodel import Session, col, select

from engine.drafting.drafter import Drafter, DraftResult
from engine.drafting.sources import Source, sources_from_hits
from engine.ingest.attachments import extracted_texts
from engine.knowledge.knowledge_base import KnowledgeBase
from engine.privacy.redaction import redact, redact_many, restore
from engine.privacy.redaction_context import customer_context
from engine.store.models import Customer, Direction, Draft, Message, Ticket, utcnow
from engine.triage import customer_text

log = logging.getLogger(__name__)

EARLIER_TICKETS = 3


def sources_for(kb: KnowledgeBase, query: str, vector: np.ndarray | None, k: int) -> list[Source]:
    """The top-k knowledge chunks for a query, numbered 1..k as the model and the agent see them."""
    return sources_from_hits(kb.search(query, k=k, query_vector=vector))


def draft_ticket(
    session: Session,
    ticket_id: int,
    *,
    kb: KnowledgeBase,
    drafter: Drafter,
    vector: np.ndarray | None,
    k: int,
    on_token: Callable[[str], None] | None = None,
) -> Draft:
    """Draft a reply for the ticket's latest customer message and store it."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise LookupError(f"ticket {ticket_id} does not exist")
    customer = session.get(Customer, ticket.customer_id)
    messages = list(
        session.exec(
            select(Message).where(Message.ticket_id == ticket_id).order_by(col(Message.created_at), col(Message.id))
        )
    )
    context = customer_context(customer.name, customer.email) if customer else None
    question = redact(
        customer_text(messages, extracted_texts(session, [m.id for m in messages if m.id is not None])), context
    )
    latest_raw = next((m.body for m in reversed(messages) if m.direction == Direction.INBOUND), "")
    latest = redact(latest_raw, context) if latest_raw else question
    roles = {Direction.INBOUND: "customer", Direction.OUTBOUND: "agent"}
    bodies = redact_many([m.body for m in messages], context)
    conversation = [(roles.get(Direction(m.direction), "agent"), r.text) for m, r in zip(messages, bodies, strict=True)]
    remember = customer is not None and not customer.ai_drafts_opt_out
    earlier = [r.text for r in redact_many(_earlier_tickets(session, ticket), context)] if remember else []
    result = drafter.draft(
        customer_message=latest.text,
        sources=sources_for(kb, question.text, vector, k),
        conversation=conversation[:-1],
        earlier_tickets=earlier,
        customer_name=customer.name.split()[0] if customer else None,
        on_token=on_token,
    )
    # the model saw placeholders; the reply the agent sends carries the customer's own values again
    result = replace(result, text=restore(result.text, latest.spans + question.spans))
    draft = _draft_row(ticket_id, result)
    session.add(draft)
    ticket.drafted_at = utcnow()
    session.add(ticket)
    session.flush()
    return draft


def _earlier_tickets(session: Session, ticket: Ticket) -> list[str]:
    query = (
        select(Ticket.subject)
        .where(Ticket.customer_id == ticket.customer_id, Ticket.id != ticket.id)
        .order_by(col(Ticket.created_at).desc())
        .limit(EARLIER_TICKETS)
    )
    return list(session.exec(query))


def _draft_row(ticket_id: int, result: DraftResult) -> Draft:
    return Draft(
        ticket_id=ticket_id,
        text=result.text,
        sources=[asdict(s) for s in result.sources],
        sentence_support=[asdict(s) for s in result.sentence_support],
        confidence=result.confidence,
        is_fallback=result.is_fallback,
        fallback_reason=result.fallback_reason,
        model=result.model,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        latency_ms=result.latency_ms,
        ttft_ms=result.ttft_ms,
    )
