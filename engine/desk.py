"""What the agent's screens ask of the engine: the queue, one ticket, drafting on demand, and the agent's actions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select

from engine.assist import draft_with, triage_models
from engine.drafting import fill_fields, open_fields
from engine.feedback.capture import FeedbackError, latest_draft, override_intent, reject_draft, send_reply
from engine.feedback.reopen import reopen_ticket
from engine.health import AttentionItem, needs_attention
from engine.ingest.attachments import attachment_file, ticket_attachments
from engine.knowledge.reply_memory import ReplyMemory, track_records
from engine.nlp.intent import UNKNOWN
from engine.nlp.sentiment import frustration_rising
from engine.outbox import Delivery, failed_deliveries, retry_delivery, ticket_deliveries
from engine.privacy import audit
from engine.privacy.customer_redaction import message_pii_kinds
from engine.privacy.opt_outs import Consent, consent_of, set_consent
from engine.resolution import Resolution, resolution
from engine.routing.auto_resolve import one_at_a_time, record_outcome
from engine.runtime import Engine
from engine.sla import Standing, live_priority, standing
from engine.store.attachment_models import Attachment
from engine.store.models import (
    Customer,
    Draft,
    Feedback,
    KnowledgeChunk,
    KnowledgeDocument,
    Message,
    Ticket,
    TicketStatus,
    TriageResult,
    utcnow,
)
from engine.store.models import Direction as Direction  # the message directions the ticket screen shows
from engine.triage import triage_tickets
from engine.worktime import record_handle_time

log = logging.getLogger(__name__)


class NotReady(RuntimeError):
    """The models are still loading; the message says which."""


@dataclass(frozen=True)
class QueueRow:
    id: int
    channel: str
    customer: str
    subject: str
    created_at: datetime
    intent: str | None
    confidence: float | None
    needs_review: bool
    review_reason: str
    sentiment: str | None
    valence: float | None
    urgency: float | None
    priority: float
    status: str
    has_draft: bool
    sla: Standing | None = None  # where the ticket stands against its SLA when the queue was read


@dataclass
class TicketView:
    ticket: Ticket
    customer: Customer
    messages: list[Message]
    triage: list[TriageResult]
    draft: Draft | None
    feedback: list[Feedback]
    frustration_rising: bool
    similar: list[dict[str, Any]] = field(default_factory=list)
    basis: dict[str, Any] = field(default_factory=dict)  # the past reply the draft starts from, and its record
    attachments: dict[int, list[Attachment]] = field(default_factory=dict)  # by message id
    resolution: Resolution | None = None  # how a resolved ticket ended; None while it is open


def queue_rows(engine: Engine, *, limit: int = 1000, now: datetime | None = None) -> list[QueueRow]:
    """Open tickets (longest waiting first) and the latest resolved ones, most urgent first: the priority triage
    gave rises with waiting and with the SLA due coming closer, computed at this moment."""
    moment = now or utcnow()
    with engine.session() as session:
        drafted = select(Draft.ticket_id).distinct()
        has_draft = {tid for tid in session.exec(drafted)}
        query = (
            select(Ticket, Customer.name)
            .join(Customer, col(Customer.id) == col(Ticket.customer_id))
            .order_by(col(Ticket.status) == TicketStatus.RESOLVED, col(Ticket.resolved_at).desc(), col(Ticket.id))
            .limit(limit)
        )
        rows = [
            QueueRow(
                id=t.id or 0,
                channel=t.channel,
                customer=name,
                subject=t.subject,
                created_at=t.created_at,
                intent=t.intent,
                confidence=None if t.intent == UNKNOWN else t.intent_confidence,  # a rejected guess's is no confidence
                needs_review=t.needs_review,
                review_reason=t.review_reason,
                sentiment=t.sentiment_label,
                valence=t.valence,
                urgency=t.urgency,
                priority=live_priority(t, moment),
                status=t.status,
                has_draft=t.id in has_draft,
                sla=standing(t, moment),
            )
            for t, name in session.exec(query)
        ]
    return sorted(rows, key=lambda r: (r.status == TicketStatus.RESOLVED, -r.priority))


def ticket_counts(engine: Engine) -> dict[str, int]:
    """How many tickets are in each status."""
    with engine.session() as session:
        rows = session.exec(select(Ticket.status, func.count()).group_by(Ticket.status))
        return {status: count for status, count in rows}


def ticket_view(engine: Engine, ticket_id: int) -> TicketView | None:
    """Everything the ticket page shows, or None for an unknown ticket."""
    with engine.session() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return None
        customer = session.get(Customer, ticket.customer_id)
        assert customer is not None
        messages = list(
            session.exec(
                select(Message).where(Message.ticket_id == ticket_id).order_by(col(Message.created_at), col(Message.id))
            )
        )
        triage = list(
            session.exec(select(TriageResult).where(TriageResult.ticket_id == ticket_id).order_by(col(TriageResult.id)))
        )
        feedback = list(
            session.exec(select(Feedback).where(Feedback.ticket_id == ticket_id).order_by(col(Feedback.id)))
        )
        attachments: dict[int, list[Attachment]] = {}
        for attachment in ticket_attachments(session, ticket_id):
            attachments.setdefault(attachment.message_id or 0, []).append(attachment)
        view = TicketView(
            ticket=ticket,
            customer=customer,
            messages=messages,
            triage=triage,
            draft=latest_draft(session, ticket_id),
            feedback=feedback,
            frustration_rising=frustration_rising([t.valence for t in triage if t.sentiment_label != "unknown"]),
            attachments=attachments,
            resolution=resolution(session, ticket) if ticket.status == TicketStatus.RESOLVED else None,
        )
    view.similar = similar_resolved(engine, ticket_id)
    view.basis = draft_basis(engine, view.draft)
    return view


def similar_resolved(engine: Engine, ticket_id: int, k: int = 3) -> list[dict[str, Any]]:
    """Resolved tickets most like this one (from the reply memory), with the reply that closed them."""
    services = engine.services
    if services is None or services.similar is None or ticket_id not in services.vectors:
        return []
    with engine.session() as session:
        entries = ReplyMemory(services.similar).similar(session, services.vectors[ticket_id], k=k, exclude=ticket_id)
        subjects = {
            t.id: t.subject
            for t in session.exec(select(Ticket).where(col(Ticket.id).in_([e.ticket_id for e in entries])))
        }
    return [
        {"id": e.ticket_id, "subject": subjects.get(e.ticket_id, ""), "score": round(e.similarity, 3), "reply": e.reply}
        for e in entries
    ]


def draft_basis(engine: Engine, draft: Draft | None) -> dict[str, Any]:
    """Where a draft came from, for the panel: the past reply's ticket and how often drafts from it were sent."""
    if draft is None or draft.based_on is None:
        return {}
    with engine.session() as session:
        sent, unchanged, against = track_records(session, [draft.based_on]).get(draft.based_on, (0, 0, 0))
    return {"ticket_id": draft.based_on, "sent": sent, "unchanged": unchanged, "against": against}


def use_alternative(engine: Engine, draft_id: int, ticket_id: int) -> Draft:
    """Make the draft's candidate based on `ticket_id`'s reply the current draft (the old one becomes a candidate)."""
    with engine.transaction() as session:
        draft = session.get(Draft, draft_id)
        if draft is None:
            raise FeedbackError(f"draft {draft_id} does not exist")
        option = next((o for o in draft.alternatives if o.get("ticket_id") == ticket_id), None)
        if option is None:
            raise FeedbackError(f"the reply to #{ticket_id} is not a candidate for this draft")
        current = {
            "ticket_id": draft.based_on,
            "similarity": draft.confidence,
            "text": draft.text,
            "fields": draft.fields,
        }
        switched = Draft(
            ticket_id=draft.ticket_id,
            text=option["text"],
            basis=draft.basis,
            based_on=ticket_id,
            fields=list(option.get("fields", [])),
            alternatives=[current, *(o for o in draft.alternatives if o is not option)],
            guidance=draft.guidance,
            confidence=float(option.get("similarity", 0.0)),
            model=draft.model,
        )
        session.add(switched)
        session.flush()
        session.expunge(switched)
    return switched


def source_chunk(engine: Engine, chunk_id: int) -> tuple[KnowledgeDocument, KnowledgeChunk] | None:
    """A cited chunk and its document."""
    with engine.session() as session:
        chunk = session.get(KnowledgeChunk, chunk_id)
        if chunk is None:
            return None
        document = session.get(KnowledgeDocument, chunk.document_id)
        return (document, chunk) if document is not None else None


def draft_now(engine: Engine, ticket_id: int, on_token: Callable[[str], None] | None = None) -> Draft:
    """Triage the ticket if needed and draft a reply now, streaming tokens (run off the UI loop)."""
    services = engine.services
    if services is None or services.drafter is None or services.kb is None or services.intent is None:
        raise NotReady("the models are still loading; the draft starts as soon as they are ready")
    assert services.sentiment is not None
    with engine.transaction() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise LookupError(f"ticket {ticket_id} does not exist")
        if ticket.triaged_at is None or ticket_id not in services.vectors:
            models = triage_models(services, engine.settings)
            services.vectors.update(triage_tickets(session, [ticket_id], models))
        draft = draft_with(services, engine.settings, session, ticket_id, on_token)
    engine.changed()
    return draft


def set_customer_consent(
    engine: Engine, ticket_id: int, *, ai_handling: bool | None, earlier_tickets: bool | None, agent: str
) -> Consent:
    """Change the opt-outs of the ticket's customer (each change audited); returns their choices now."""
    with engine.transaction() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise LookupError(f"ticket {ticket_id} does not exist")
        set_consent(
            session,
            ticket.customer_id,
            ai_handling=ai_handling,
            earlier_tickets=earlier_tickets,
            actor=agent,
            via=f"ticket {ticket_id}",
        )
        customer = session.get(Customer, ticket.customer_id)
        assert customer is not None
        consent = consent_of(customer)
    engine.changed()
    return consent


def intent_labels(engine: Engine) -> list[str]:
    """The intents the active model knows, and "unknown" (outside the taxonomy), for the override picker."""
    services = engine.services
    return [*sorted(services.intent.labels), UNKNOWN] if services and services.intent else []


def approve_or_edit(
    engine: Engine,
    ticket_id: int,
    draft_id: int | None,
    text: str,
    *,
    agent: str,
    fields: dict[str, str] | None = None,
) -> Feedback:
    """Send the reply with its [[fields]] filled; approve when it equals the draft (fields filled alike), else edit."""
    text = fill_fields(text, fields or {})
    missing = open_fields(text)
    if missing:
        raise FeedbackError(f"fill in {', '.join(missing)} before sending")
    with one_at_a_time(ticket_id), engine.transaction() as session:  # a double click sends one reply
        draft = session.get(Draft, draft_id) if draft_id is not None else None
        as_drafted = fill_fields(draft.text, fields or {}) if draft is not None else None
        feedback = send_reply(
            session, ticket_id=ticket_id, draft_id=draft_id, text=text, agent=agent, draft_text=as_drafted
        )
        ticket = session.get(Ticket, ticket_id)
        if ticket is not None:
            record_outcome(session, ticket, feedback.kind if draft_id is not None else None)
    engine.changed()
    return feedback


def reject(engine: Engine, ticket_id: int, draft_id: int | None, reason: str, *, agent: str) -> Feedback:
    """Reject the draft with a reason."""
    with engine.transaction() as session:
        feedback = reject_draft(session, ticket_id=ticket_id, draft_id=draft_id, reason=reason, agent=agent)
        ticket = session.get(Ticket, ticket_id)
        if ticket is not None:
            record_outcome(session, ticket, feedback.kind)
        return feedback


def change_intent(engine: Engine, ticket_id: int, intent: str, *, agent: str) -> Feedback:
    """Store an intent correction."""
    with engine.transaction() as session:
        return override_intent(session, ticket_id=ticket_id, new_intent=intent, agent=agent)


def reopen(engine: Engine, ticket_id: int, reason: str, *, agent: str) -> Feedback:
    """Put a resolved ticket back in the queue; the reason is stored as feedback."""
    with engine.transaction() as session:
        feedback = reopen_ticket(session, ticket_id=ticket_id, reason=reason, agent=agent)
    engine.changed()
    return feedback


def reveal_message(engine: Engine, message_id: int, *, agent: str) -> str:
    """The original text of a message whose personal data the page hides; every reveal is audited."""
    with engine.transaction() as session:
        message = session.get(Message, message_id)
        if message is None:
            raise FeedbackError(f"message {message_id} does not exist")
        audit.append(
            session,
            actor=agent,
            action="reveal_pii",
            subject=f"ticket:{message.ticket_id}",
            details={"message": message_id, "kinds": message_pii_kinds(session, message)},
        )
        return message.body


def download_original(engine: Engine, attachment_id: int, *, agent: str) -> tuple[bytes, str] | None:
    """An attachment's original bytes and file name (None if gone); every download is audited like a reveal."""
    found = attachment_file(engine, attachment_id)
    if found is None:
        return None
    data, attachment = found
    with engine.transaction() as session:
        audit.append(
            session,
            actor=agent,
            action="download_attachment",
            subject=f"ticket:{attachment.ticket_id}",
            details={"attachment": attachment_id},
        )
    return data, attachment.filename


def age_text(created_at: datetime, now: datetime | None = None) -> str:
    """'5 min', '3 h', '2 d' since a time."""
    minutes = max(0, int(((now or utcnow()) - created_at).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def reply_deliveries(engine: Engine, ticket_id: int) -> dict[int, Delivery]:
    """The delivery of each reply on a ticket, by message id."""
    return ticket_deliveries(engine.db, ticket_id)


def undelivered_replies(engine: Engine) -> list[Delivery]:
    """Replies that did not reach their customer, newest first."""
    return failed_deliveries(engine.db)


def resend_reply(engine: Engine, delivery_id: int, *, actor: str) -> str:
    """Queue a failed reply again (audited); says what was done."""
    return retry_delivery(engine.db, delivery_id, actor=actor)


def set_aside_tickets(engine: Engine) -> list[AttentionItem]:
    """Tickets a background stage gave up on after its tries, newest first."""
    return needs_attention(engine.db)


def retry_set_aside(engine: Engine, ticket_id: int) -> None:
    """Clear a set-aside ticket's failures and wake the worker to try it again."""
    if engine.supervisor is not None:
        engine.supervisor.retry(ticket_id)
    engine.notify()


def add_handle_time(engine: Engine, ticket_id: int, seconds: float, *, agent: str) -> float:
    """Add an agent's active seconds to an open ticket; returns its total."""
    return record_handle_time(engine.db, ticket_id, seconds, agent=agent)
