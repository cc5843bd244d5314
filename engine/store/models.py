"""SQLModel tables: customers, tickets, messages, triage, drafts, feedback, knowledge, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from engine.privacy.crypto import EncryptedText


def utcnow() -> datetime:
    """Timezone-aware UTC now (SQLModel stores and returns aware UTC datetimes)."""
    return datetime.now(UTC)


class Channel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    SMS = "sms"
    SOCIAL = "social"
    VOICE = "voice"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Route(StrEnum):
    AUTO_RESOLVE = "auto_resolve"
    ASSIST = "assist"
    ESCALATE = "escalate"


class Outcome(StrEnum):
    RESOLVED_BY_AI = "resolved_by_ai"
    RESOLVED_WITH_EDIT = "resolved_with_edit"
    RESOLVED_BY_AGENT = "resolved_by_agent"
    ESCALATED = "escalated"
    FAILED = "failed"


class FeedbackKind(StrEnum):
    APPROVE = "approve"
    EDIT = "edit"
    REJECT = "reject"
    OVERRIDE_INTENT = "override_intent"
    REOPEN = "reopen"  # a resolved ticket opened again (by an agent, or the customer wrote again)


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    email: str | None = Field(default=None, index=True)
    handle: str | None = Field(default=None, index=True)
    vip: bool = False
    # consent (SECURITY.md): False = opted out of AI handling (no AI drafts, no auto-resolve: a person answers)
    ai_opt_in: bool = True
    ai_drafts_opt_out: bool = False  # True = their tickets are never used in drafts (reply memory, similar tickets)
    asked_for_person_at: datetime | None = None  # when they first asked for a person: the AI never answers alone
    created_at: datetime = Field(default_factory=utcnow)


class Ticket(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    channel: str = Field(default=Channel.EMAIL, index=True)
    subject: str = Field(default="", sa_column=Column(EncryptedText, nullable=False, default=""))  # customer's words
    status: str = Field(default=TicketStatus.NEW, index=True)
    external_id: str | None = Field(default=None, index=True, unique=True)
    intent: str | None = Field(default=None, index=True)
    intent_confidence: float | None = None
    needs_review: bool = True  # the intent is uncertain and no person confirmed it (engine/review.py)
    review_reason: str = ""  # why, in words
    sentiment_label: str | None = None
    valence: float | None = None
    urgency: float | None = None
    priority: float = 0.0
    route: str | None = Field(default=None, index=True)  # Route, set by the router
    route_reason: str = ""
    risk: float | None = None
    outcome: str | None = Field(default=None, index=True)  # Outcome, set when the AI interaction ends
    first_response_at: datetime | None = None
    handle_seconds: float | None = None  # agent time spent on the ticket
    contacts: int = 1  # customer messages about this issue (1 = first contact)
    reopens: int = 0  # times the resolution did not hold (the customer wrote again, an agent or the customer reopened)
    triaged_at: datetime | None = Field(default=None, index=True)  # None: a customer message is not triaged yet
    drafted_at: datetime | None = None  # None: the latest customer message has no draft yet
    gold_intent: str | None = None  # the label the data came with; never shown to the model at triage
    imported: bool = False  # from a bulk import of the team's history: its gold_intent trains the intent model
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    # SLA (engine/sla): the policy the dues came from ("<channel>/<priority>"), the dues, and each verdict once
    # decided (None: not yet; True: breached; False: met), and when supervisors were alerted of a breach
    sla_policy: str = ""
    first_response_due: datetime | None = Field(default=None, index=True)
    resolution_due: datetime | None = None
    first_response_breached: bool | None = None
    resolution_breached: bool | None = None
    sla_alerted_at: datetime | None = None
    first_resolved_at: datetime | None = None  # the first resolution: first contact resolution is judged on it
    first_contacts: int | None = None  # customer messages when first resolved
    demo: bool = False  # demo data (seeded, its past simulated): the dashboard marks it and can leave it out

    def mark_resolved(self, now: datetime) -> None:
        """Resolve the ticket now; the first resolution and its contacts are kept for first contact resolution."""
        self.status = TicketStatus.RESOLVED
        self.resolved_at = self.updated_at = now
        if self.first_resolved_at is None:
            self.first_resolved_at, self.first_contacts = now, self.contacts


SURVEY_AUTHOR = "CareDesk survey"  # the author of survey follow-up messages: never a reply to reuse


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    direction: str = Direction.INBOUND
    author: str = ""
    body: str = Field(sa_column=Column(EncryptedText, nullable=False))
    external_id: str | None = Field(default=None, index=True, unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class TriageResult(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    intent: str
    confidence: float
    is_unknown: bool = False
    heads_agree: bool = True  # every classifier of the intent ensemble ranked this intent first
    alternatives: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    sentiment_label: str = "neutral"
    sentiment_probability: float = 0.0
    valence: float = 0.0
    arousal: float = 0.0
    urgency: float = 0.0
    model_version: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class Draft(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    text: str = Field(sa_column=Column(EncryptedText, nullable=False))  # the customer's own values are restored in it
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    sentence_support: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    confidence: float = 0.0
    is_fallback: bool = False
    fallback_reason: str = ""
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    ttft_ms: float = 0.0
    basis: str = ""  # past_reply | article | model | holding (empty: drafted before the reply memory existed)
    based_on: int | None = None  # the ticket whose sent reply the draft starts from
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON))  # [[Field]]s the agent must fill
    alternatives: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))  # next candidates
    guidance: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))  # steps for the agent
    note: str = ""  # to the agent, never sent (e.g. why the draft is a holding reply)
    created_at: datetime = Field(default_factory=utcnow)


class Feedback(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    draft_id: int | None = Field(default=None, foreign_key="draft.id")
    kind: str = Field(index=True)
    draft_text: str = Field(default="", sa_column=Column(EncryptedText, nullable=False, default=""))
    final_text: str = Field(default="", sa_column=Column(EncryptedText, nullable=False, default=""))  # reply as sent
    edit_distance: int = 0
    edit_ratio: float | None = None  # edit distance / length of the longer of draft and reply (None: older rows)
    old_intent: str | None = None
    new_intent: str | None = None
    reason: str = ""
    agent: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True)


class KnowledgeDocument(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True)  # stable id, e.g. "abcd/Order Issue/Status Service"
    title: str
    source: str = ""
    kind: str = "article"  # article (customer-facing, quoted and cited) | guidance (internal procedure, never sent)
    content_hash: str = ""
    text: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class KnowledgeChunk(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="knowledgedocument.id", index=True)
    ordinal: int = 0
    heading: str = ""
    text: str


class Survey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    token: str = Field(index=True, unique=True)
    csat: int | None = None  # 1-10
    ces: int | None = None  # 1-5, lower is less effort
    comment: str = Field(default="", sa_column=Column(EncryptedText, nullable=False, default=""))
    sent_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = Field(default=None, index=True)
    via: str = "link"  # link (in the resolution reply), follow_up (a message after N hours), person (ask-a-person only)


class DeadLetter(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(index=True)
    raw: str = Field(sa_column=Column(EncryptedText, nullable=False))
    error: str
    retries: int = 0
    resolved: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    received: int = 1  # refusals counted on this letter (unauthenticated webhook requests from one address)
    last_received_at: datetime | None = None
