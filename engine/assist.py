"""Assist: draft a reply for a ticket from the team's past replies, the help centre's articles, or a holding reply.

The basis is chosen in that order: the best past reply from the reply memory when its message is close enough
(adapted to this ticket by code), else the local model writing from customer-facing articles, else a holding reply
with a note to the agent. Guidance documents are shown beside the draft as steps and never reach its text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from sqlmodel import Session, col, select

from engine.config import Settings
from engine.demo import reply_values
from engine.drafting import (
    ARTICLE,
    HOLDING,
    HOLDING_NOTE,
    PAST_REPLY,
    Adapted,
    Drafter,
    DraftResult,
    GuidanceFilter,
    Source,
    adapt_reply,
    holding_reply,
    sources_from_hits,
    steps_of,
    stream_words,
    ticket_values,
)
from engine.ingest.attachments import extracted_texts
from engine.knowledge.documents import GUIDANCE
from engine.knowledge.knowledge_base import Hit, KnowledgeBase
from engine.knowledge.reply_memory import MemoryEntry, ReplyMemory
from engine.privacy.opt_outs import AiOptedOut
from engine.privacy.redaction import Redaction, redact, redact_many, restore
from engine.privacy.redaction_context import customer_context
from engine.sla import SlaSettings
from engine.store.models import Customer, Direction, Draft, Message, Ticket, utcnow
from engine.triage import TriageModels, customer_text

if TYPE_CHECKING:
    from engine.runtime import Services

log = logging.getLogger(__name__)

EARLIER_TICKETS = 3
UNKNOWN_INTENT = "unknown"
ALTERNATIVES = 2  # further candidates the agent can switch to with one click
GUIDANCE_MIN_SCORE = 0.35  # a guidance document this relevant is shown beside the draft
REPLY_MEMORY_MODEL = "reply memory"


@dataclass(frozen=True)
class _Context:
    ticket: Ticket
    customer: Customer | None
    question: Redaction
    latest: Redaction
    latest_raw: str
    conversation: list[tuple[str, str]]
    earlier: list[str]

    @property
    def first_name(self) -> str | None:
        return self.customer.name.split()[0] if self.customer and self.customer.name.strip() else None


def triage_models(services: Services, settings: Settings) -> TriageModels:
    """The loaded models triage uses, with the current review threshold and SLA policy."""
    assert services.intent is not None and services.sentiment is not None
    return TriageModels(
        services.embedder,
        services.intent,
        services.intent_version,
        services.sentiment,
        settings.review_threshold,
        SlaSettings.lenient(settings),
    )


def draft_with(
    services: Services,
    settings: Settings,
    session: Session,
    ticket_id: int,
    on_token: Callable[[str], None] | None = None,
) -> Draft:
    """Draft a ticket from the reply memory and the knowledge base, reusing its triage embedding."""
    assert services.kb is not None and services.drafter is not None
    embedder = services.embedder
    return draft_ticket(
        session,
        ticket_id,
        kb=services.kb,
        drafter=services.drafter,
        vector=services.vectors.get(ticket_id),
        k=settings.retrieval_k,
        on_token=on_token,
        memory=ReplyMemory(services.similar) if services.similar is not None else None,
        store_values=reply_values(settings),
        reply_fit=settings.reply_fit,
        embed=lambda text: embedder.encode([text])[0],
    )


def draft_ticket(
    session: Session,
    ticket_id: int,
    *,
    kb: KnowledgeBase,
    drafter: Drafter,
    vector: np.ndarray | None,
    k: int,
    on_token: Callable[[str], None] | None = None,
    memory: ReplyMemory | None = None,
    store_values: Mapping[str, str] | None = None,
    reply_fit: float = 0.5,
    embed: Callable[[str], np.ndarray] | None = None,
) -> Draft:
    """Draft a reply for the ticket's latest customer message and store it with its basis."""
    started = time.perf_counter()
    first: list[float] = []

    def emit(piece: str) -> None:
        if not first:
            first.append(time.perf_counter())
        if on_token is not None:
            on_token(piece)

    context = _context(session, ticket_id)
    if context.customer is not None and not context.customer.ai_opt_in:
        raise AiOptedOut("the customer opted out of AI handling: write the reply yourself")
    if vector is None and embed is not None:
        vector = embed(context.question.text)
    intent = context.ticket.intent if context.ticket.intent not in (None, "", UNKNOWN_INTENT) else None
    entries = (
        memory.best(
            session, vector, intent=intent, message=context.question.text, exclude=ticket_id, k=1 + ALTERNATIVES
        )
        if (memory is not None and vector is not None)
        else []
    )
    hits = kb.search(context.question.text, k=2 * k + 2, query_vector=vector)
    articles = [h for h in hits if h.kind != GUIDANCE][:k]
    checker = kb.guidance_filter()
    if entries and entries[0].similarity >= reply_fit:
        draft = _from_memory(context, entries, store_values or {}, checker, emit)
    elif articles and articles[0].score >= reply_fit:
        draft = _from_articles(context, drafter, sources_from_hits(articles), checker, emit)
    else:
        draft = Draft(ticket_id=ticket_id, text=holding_reply(context.first_name), basis=HOLDING, note=HOLDING_NOTE)
        draft.model = REPLY_MEMORY_MODEL
        stream_words(draft.text, emit)
    draft.guidance = [asdict(steps_of(h.document_key, h.title, h.text)) for h in _guidance(hits)]
    draft.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    if draft.basis != ARTICLE:
        draft.ttft_ms = round(((first[0] if first else time.perf_counter()) - started) * 1000, 1)
    session.add(draft)
    context.ticket.drafted_at = utcnow()
    session.add(context.ticket)
    session.flush()
    return draft


def _guidance(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if h.kind == GUIDANCE and h.score >= GUIDANCE_MIN_SCORE][:1]


def _from_memory(
    context: _Context,
    entries: list[MemoryEntry],
    store_values: Mapping[str, str],
    checker: GuidanceFilter,
    emit: Callable[[str], None],
) -> Draft:
    """The best past reply adapted to this ticket; the next candidates ready beside it."""
    customer = context.customer
    values = ticket_values(
        message=context.latest_raw,
        customer_name=customer.name if customer else None,
        customer_email=customer.email if customer else None,
        store_values=store_values,
    )
    adapted = [_adapt(entry, context, values, checker) for entry in entries]
    best, (text, removed) = entries[0], adapted[0]
    stream_words(text.text, emit)
    note = f"Left out {len(removed)} sentence(s) of internal guidance from the past reply." if removed else ""
    return Draft(
        ticket_id=context.ticket.id or 0,
        text=text.text,
        basis=PAST_REPLY,
        based_on=best.ticket_id,
        fields=text.fields,
        alternatives=[
            {**_entry_card(entry), "text": a.text, "fields": a.fields}
            for entry, (a, _) in zip(entries[1:], adapted[1:], strict=True)
        ],
        confidence=best.similarity,
        model=REPLY_MEMORY_MODEL,
        note=note,
    )


def _adapt(
    entry: MemoryEntry, context: _Context, values: Mapping[str, str], checker: GuidanceFilter
) -> tuple[Adapted, list[str]]:
    adapted = adapt_reply(
        entry.reply,
        customer_name=context.first_name,
        values=values,
        other_names=[entry.customer_name],
        other_message=entry.question,
        this_message=context.latest_raw,
    )
    text, removed = checker.without_guidance(adapted.text)
    return replace(adapted, text=text), removed


def _entry_card(entry: MemoryEntry) -> dict[str, object]:
    """What the panel says about a past reply: its ticket, how close, how it fared."""
    return {
        "ticket_id": entry.ticket_id,
        "intent": entry.intent,
        "similarity": entry.similarity,
        "sent": entry.sent,
        "unchanged": entry.unchanged,
        "against": entry.against,
        "sent_at": entry.sent_at.isoformat() if entry.sent_at else None,
    }


def _from_articles(
    context: _Context,
    drafter: Drafter,
    sources: list[Source],
    checker: GuidanceFilter,
    emit: Callable[[str], None],
) -> Draft:
    """The drafter writes from customer-facing articles, citing them; guidance sentences are refused."""
    result = drafter.draft(
        customer_message=context.latest.text,
        sources=sources,
        conversation=context.conversation[:-1],
        earlier_tickets=context.earlier,
        customer_name=context.first_name,
        on_token=emit,
    )
    # the model saw placeholders; the reply the agent sends carries the customer's own values again
    text, removed = checker.without_guidance(restore(result.text, context.latest.spans + context.question.spans))
    draft = _draft_row(context.ticket.id or 0, replace(result, text=text))
    draft.basis = ARTICLE
    if removed:
        draft.note = f"Left out {len(removed)} sentence(s) of internal guidance."
    return draft


def _context(session: Session, ticket_id: int) -> _Context:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise LookupError(f"ticket {ticket_id} does not exist")
    customer = session.get(Customer, ticket.customer_id)
    messages = list(
        session.exec(
            select(Message).where(Message.ticket_id == ticket_id).order_by(col(Message.created_at), col(Message.id))
        )
    )
    private = customer_context(customer.name, customer.email) if customer else None  # their name, their country
    question = redact(
        customer_text(messages, extracted_texts(session, [m.id for m in messages if m.id is not None])), private
    )
    latest_raw = next((m.body for m in reversed(messages) if m.direction == Direction.INBOUND), "")
    roles = {Direction.INBOUND: "customer", Direction.OUTBOUND: "agent"}
    remember = customer is not None and not customer.ai_drafts_opt_out
    return _Context(
        ticket=ticket,
        customer=customer,
        question=question,
        latest=redact(latest_raw, private) if latest_raw else question,
        latest_raw=latest_raw,
        conversation=[
            (roles.get(Direction(m.direction), "agent"), r.text)
            for m, r in zip(messages, redact_many([m.body for m in messages], private), strict=True)
        ],
        earlier=[r.text for r in redact_many(_earlier_tickets(session, ticket), private)] if remember else [],
    )


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
