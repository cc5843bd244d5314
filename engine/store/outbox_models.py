"""The outbox table: one row per reply on its way to a customer, with its delivery state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from engine.privacy.crypto import EncryptedText
from engine.store.models import utcnow


class DeliveryState(StrEnum):
    QUEUED = "queued"  # waiting for its first attempt or, after a failed one, for `next_attempt_at`
    SENDING = "sending"  # claimed by the sender; committed before any byte leaves the desk
    SENT = "sent"  # the channel accepted it (SMTP 250 after the data, HTTP 2xx)
    FAILED = "failed"  # a dead letter: given up after the last attempt, or refused for good; a person can retry


class SendStage(StrEnum):
    """How far an attempt got; a stop before DATA_END was never accepted, so it is safe to send again."""

    NONE = ""
    DATA_END = "data_end"  # the e-mail's end-of-data marker went out: the server may have accepted it


class OutboundReply(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    message_id: int = Field(foreign_key="message.id", index=True, unique=True)  # the outbound Message it delivers
    channel: str = ""
    route: str = ""  # "email" or "webhook"; "" when the ticket has nowhere to be answered
    source: str = ""  # the webhook source whose callback URL receives it
    key: str = Field(default="", index=True)  # Message-ID (e-mail) or idempotency key (webhook), fixed once set
    envelope: str = Field(default="{}", sa_column=Column(EncryptedText, nullable=False, default="{}"))  # JSON
    state: str = Field(default=DeliveryState.QUEUED, index=True)
    stage: str = SendStage.NONE
    attempts: int = 0
    reason: str = ""  # why the last attempt failed, or why it was not sent
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
