"""The webhook API's request and response bodies (shown on the OpenAPI page at /docs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field, model_validator

from engine.ingest.field_limits import FIELD_LIMITS

MAX_ATTACHMENTS = 10


class AttachmentIn(BaseModel):
    """A file sent with the message: a screenshot, a PDF, a text file, or the audio of a call."""

    name: str = Field(min_length=1, max_length=255, description="File name, e.g. `receipt.pdf`.")
    content_type: str = Field(
        default="application/octet-stream", max_length=200, description="MIME type, e.g. `image/png`, `audio/wav`."
    )
    data: Base64Bytes = Field(description="The file's bytes, base64-encoded.")


class ConsentIn(BaseModel):
    """The customer's choices, when the platform asked for them; a field left out keeps the choice as it is."""

    ai_handling: bool | None = Field(
        default=None,
        description="`false`: the customer opts out of AI handling (no AI drafts, no AI answers: a person replies); "
        "`true`: opts back in.",
    )
    earlier_tickets: bool | None = Field(
        default=None,
        description="`false`: the customer's tickets are never used to draft replies (reply memory, similar "
        "tickets); `true`: they may be again.",
    )


class MessageIn(BaseModel):
    """One customer message from a chat, SMS, social or voice platform."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "channel": "chat",
                    "external_id": "msg-1042",
                    "customer_handle": "@amelia",
                    "customer_name": "Amelia Garcia",
                    "text": "My order #1234 has not arrived yet.",
                    "conversation_id": "conv-77",
                    "timestamp": "2025-01-31T09:15:00Z",
                }
            ]
        },
    )

    channel: Literal["chat", "sms", "social", "voice"] = Field(
        description="Where the message came from; `voice` carries a call transcript in `text`."
    )
    external_id: str = Field(
        min_length=1, max_length=200, description="The platform's id of this message; sending it again is harmless."
    )
    customer_handle: str = Field(
        min_length=1,
        max_length=FIELD_LIMITS["customer_handle"],
        description="The customer's id on the platform (user name, phone number).",
    )
    customer_name: str | None = Field(
        default=None, max_length=FIELD_LIMITS["customer_name"], description="Display name, if known."
    )
    customer_email: str | None = Field(
        default=None, max_length=FIELD_LIMITS["customer_email"], description="E-mail address, if known."
    )
    text: str = Field(
        default="", max_length=FIELD_LIMITS["text"], description="The message text, or the transcript of a voice call."
    )
    subject: str | None = Field(default=None, max_length=FIELD_LIMITS["subject"], description="Optional subject line.")
    conversation_id: str | None = Field(
        default=None,
        max_length=200,
        description="The platform's conversation or thread id: messages sharing it land on the same ticket.",
    )
    timestamp: datetime | None = Field(
        default=None, description="When the customer sent it (ISO 8601; UTC if no offset). Defaults to arrival time."
    )
    attachments: list[AttachmentIn] = Field(
        default_factory=list, max_length=MAX_ATTACHMENTS, description="Files sent with the message."
    )
    consent: ConsentIn | None = Field(
        default=None, description="The customer's opt-outs, each recorded in the audit log when it changes."
    )

    @model_validator(mode="after")
    def _has_content(self) -> MessageIn:
        if not self.text.strip() and not self.attachments:
            raise ValueError("a message needs text or at least one attachment")
        if self.timestamp is not None and self.timestamp.tzinfo is None:
            self.timestamp = self.timestamp.replace(tzinfo=UTC)
        return self


class Accepted(BaseModel):
    """The message is stored; triage runs in the background."""

    status: Literal["accepted"] = "accepted"
    ticket_id: int = Field(description="The CareDesk ticket the message joined.")
    message_id: int | None = Field(description="The stored message (the first copy, for a repeat).")
    duplicate: bool = Field(description="True when this external_id was already received; nothing new was stored.")


class Rejected(BaseModel):
    """The message was not accepted; the raw request is kept as a dead letter for review and retry."""

    detail: str = Field(description="Why the request was refused.")
    dead_letter_id: int | None = Field(default=None, description="The dead letter that keeps the raw request.")
