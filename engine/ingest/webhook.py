"""The webhook API: POST /api/v1/messages for chat, SMS, social and voice, signed per source, answered 202.

Settings (engine/config.py; e.g. a `[webhook_secrets]` table in caredesk.toml):
- `webhook_secrets`: source name -> shared secret. A sender names itself in `X-CareDesk-Source`, sends the Unix time
  in `X-CareDesk-Timestamp` and signs `<timestamp>.<body>`: `X-CareDesk-Signature: sha256=<hex HMAC-SHA256>` (see
  `engine.ingest.webhook_auth`: five-minute window, a replayed signature is refused).
- `webhook_callbacks`: source name -> URL that replies are POSTed to (see `engine.outbox`).
- `webhook_max_bytes`: the body size limit (default 1 MB); larger bodies get 413.
- `webhook_refusals_per_minute`, `dead_letter_max_rows`: see `engine.ingest.webhook_refusals`.
A signed request that does not parse (malformed JSON, invalid UTF-8, missing fields) is kept whole as a dead letter
that can be retried; a request without a valid signature (or too large to check) is counted on its client
address's dead letter with a short preview.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlmodel import Session
from starlette.exceptions import HTTPException

from engine.config import Settings
from engine.ingest.attachments import extract_attachments, pending_attachment_ids, save_attachments
from engine.ingest.batch import Grouped
from engine.ingest.dead_letter_store import IngestError, source_name, unpack_raw
from engine.ingest.intake import InboundMessage, IntakeResult, intake_many
from engine.ingest.webhook_auth import (
    SIGNATURE_HEADER,
    SOURCE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    verify_signature,
)
from engine.ingest.webhook_refusals import (
    UNAUTHENTICATED_PREVIEW_BYTES,
    RefusalThrottle,
    record_authenticated,
    record_unauthenticated,
    refusals_per_minute,
)
from engine.ingest.webhook_schema import Accepted, ConsentIn, MessageIn, Rejected
from engine.ingest.writer import IngestWriter
from engine.privacy.opt_outs import set_consent
from engine.runtime import Engine
from engine.sla import SlaSettings, start_clocks
from engine.store.models import Ticket

log = logging.getLogger(__name__)

TRUNCATED_HEADER = "X-CareDesk-Truncated-From"  # only in dead letters: the size of an oversized body
PREVIEW_BYTES = 4096
DEAD_LETTER_KIND = "webhook"
KEY_PREFIX = "wh"


def message_key(source: str, external_id: str) -> str:
    """The stored external id of a webhook message (ids are unique per source)."""
    return f"{KEY_PREFIX}:{source}:m:{external_id}"


def conversation_key(source: str, conversation_id: str) -> str:
    """The external id of the ticket that holds a source's conversation."""
    return f"{KEY_PREFIX}:{source}:c:{conversation_id}"


def source_of_key(key: str | None) -> str | None:
    """The webhook source named in a message or ticket external id, if it is one."""
    parts = (key or "").split(":")
    return parts[1] if len(parts) >= 4 and parts[0] == KEY_PREFIX else None


def store_message(
    session: Session, settings: Settings, source: str, message: MessageIn
) -> tuple[IntakeResult, list[int]]:
    """Intake one validated webhook message and keep its attachments; returns the result and new attachment ids."""
    return store_messages(session, settings, [(source, message)])[0]


def store_messages(
    session: Session, settings: Settings, messages: Sequence[tuple[str, MessageIn]]
) -> list[tuple[IntakeResult, list[int]]]:
    """Intake (source, message) pairs in order and keep their attachments; per message, the result and attachment ids.

    Messages sharing a `conversation_id` land on one ticket, whose external id is the conversation's key.
    """
    default = settings.ai_opt_in_default
    results = intake_many(session, [_inbound(source, message, default) for source, message in messages])
    for (source, message), result in zip(messages, results, strict=True):
        if message.consent is not None:
            _apply_consent(session, source, message.consent, result.ticket_id)
    start_clocks(session, SlaSettings.lenient(settings), [r.ticket_id for r in results if r.created_ticket])
    return [
        (result, [])
        if result.duplicate or not message.attachments
        else (
            result,
            save_attachments(
                session, settings, result, ((a.name, a.content_type, a.data) for a in message.attachments)
            ),
        )
        for (_, message), result in zip(messages, results, strict=True)
    ]


def _apply_consent(session: Session, source: str, consent: ConsentIn, ticket_id: int) -> None:
    """Set the opt-outs a message carries on its ticket's customer (each change audited)."""
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    set_consent(
        session,
        ticket.customer_id,
        ai_handling=consent.ai_handling,
        earlier_tickets=consent.earlier_tickets,
        actor=f"webhook:{source}",
        via="webhook API",
    )


def _inbound(source: str, message: MessageIn, ai_opt_in: bool) -> InboundMessage:
    key = conversation_key(source, message.conversation_id) if message.conversation_id else None
    text = message.text.strip()
    return InboundMessage(
        channel=message.channel,
        customer_name=message.customer_name or message.customer_handle,
        text=text,
        customer_email=message.customer_email,
        customer_handle=message.customer_handle,
        subject=message.subject or (None if text else f"Attachment: {message.attachments[0].name}"),
        external_id=message_key(source, message.external_id),
        thread_external_id=key,
        received_at=message.timestamp,
        ticket_external_id=key,
        ai_opt_in=ai_opt_in,
    )


def reprocess(engine: Engine, source: str, raw: str) -> None:
    """Dead-letter retry: check the signature and the body again, then store the message."""
    headers, body = split_request(unpack_raw(raw))
    if TRUNCATED_HEADER in headers:
        raise IngestError("only a preview of this refused request was kept; the sender must send it again")
    sender = headers.get(SOURCE_HEADER, "")
    signature, timestamp = headers.get(SIGNATURE_HEADER, ""), headers.get(TIMESTAMP_HEADER, "")
    verify_signature(engine.settings, sender, signature, timestamp, body, now=None)
    try:
        message = MessageIn.model_validate_json(body)
    except ValidationError as exc:
        raise IngestError(_validation_reason(exc.errors())) from exc
    with engine.transaction() as session:
        _, ids = store_message(session, engine.settings, sender, message)
    engine.notify()
    extract_attachments(engine, ids)


def request_bytes(headers: dict[str, str], body: bytes) -> bytes:
    """A refused request as kept in a dead letter: its CareDesk headers, a blank line, the body."""
    head = "".join(f"{name}: {value}\n" for name, value in headers.items() if value)
    return head.encode() + b"\n" + body


def split_request(raw: bytes) -> tuple[dict[str, str], bytes]:
    """The headers and body of a request kept by `request_bytes`."""
    head, _, body = raw.partition(b"\n\n") if not raw.startswith(b"\n") else (b"", b"", raw[1:])
    headers = dict(line.split(": ", 1) for line in head.decode(errors="replace").splitlines() if ": " in line)
    return headers, body


class WebhookIngest:
    """The webhook's state: its writer thread, its attachment extractor, its limits and the signatures seen."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.writer = IngestWriter(engine)
        self.extractor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="caredesk-attachments")
        self.max_bytes = engine.settings.webhook_max_bytes
        self.replays = ReplayGuard()
        self.throttle = RefusalThrottle(refusals_per_minute(engine.settings))

    def resume_pending_attachments(self) -> None:
        """Extract attachments left pending by an earlier run."""
        pending = pending_attachment_ids(self.engine)
        if pending:
            self.extractor.submit(extract_attachments, self.engine, pending)

    async def admit(self, request: Request) -> Response | None:
        """Check size, signature, time window and replay before the body is parsed; a refusal is a response."""
        complete, body, size = await self._read_limited(request)
        if not complete:
            reason = f"the body is {size:,} bytes or more; the limit is {self.max_bytes:,}"
            return await self._refuse_unauthenticated(request, 413, reason, body, oversize=size)
        request._body = body  # parsed by FastAPI next, without reading the stream again
        headers = request.headers
        signature = headers.get(SIGNATURE_HEADER, "")
        try:
            now = time.time()
            source, timestamp = headers.get(SOURCE_HEADER, ""), headers.get(TIMESTAMP_HEADER, "")
            verify_signature(self.engine.settings, source, signature, timestamp, body, now=now)
        except IngestError as exc:
            return await self._refuse_unauthenticated(request, 401, str(exc), body)
        try:
            self.replays.check(signature, now)
        except IngestError as exc:
            return await self._refuse_unauthenticated(request, 409, str(exc), body)
        return None

    def accepted(self, request: Request) -> None:
        """Note the signature of an accepted request, so the same request sent again is refused as a replay."""
        self.replays.remember(request.headers.get(SIGNATURE_HEADER, ""), time.time())

    async def refuse_invalid(self, request: Request, errors: list[Any] | None, detail: str = "") -> Response:
        """Keep a signed body that does not parse or validate as a dead letter and say why."""
        body = await request.body()
        if errors is not None and any(e.get("type") == "json_invalid" for e in errors):
            context = next((e.get("ctx", {}).get("error", "") for e in errors), "")
            return await self._refuse_signed(request, 400, f"malformed JSON: {context}".strip(": "), body)
        if errors is None:
            return await self._refuse_signed(request, 400, f"unreadable body: {detail}", body)
        return await self._refuse_signed(request, 422, _validation_reason(errors), body)

    async def accept(self, source: str, message: MessageIn) -> Accepted:
        """Store the message in the next write batch, then hand its attachments to the extractor."""
        result, attachment_ids = await self.writer.run(Grouped(self._store_batch, (source, message)))
        if attachment_ids:
            self.extractor.submit(extract_attachments, self.engine, attachment_ids)
        return Accepted(ticket_id=result.ticket_id, message_id=result.message_id, duplicate=result.duplicate)

    def _store_batch(
        self, session: Session, messages: list[tuple[str, MessageIn]]
    ) -> list[tuple[IntakeResult, list[int]]]:
        return store_messages(session, self.engine.settings, messages)

    async def _read_limited(self, request: Request) -> tuple[bool, bytes, int]:
        """(complete, body, size): an oversized body stops being read and only its head is returned."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return False, b"", int(declared)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_bytes:
                return False, b"".join(chunks)[:PREVIEW_BYTES], size
        return True, b"".join(chunks), size

    async def _refuse_unauthenticated(
        self, request: Request, status: int, reason: str, body: bytes, *, oversize: int = 0
    ) -> Response:
        """Refuse a request nobody vouched for: throttled per address, counted on one dead letter, a preview kept."""
        address = request.client.host if request.client else "unknown"
        wait = self.throttle.admit(address)
        if wait:
            detail = f"too many refused requests from {address}; try again in {wait:.0f} s"
            return JSONResponse(
                Rejected(detail=detail).model_dump(), status_code=429, headers={"Retry-After": f"{wait:.0f}"}
            )
        claimed = request.headers.get(SOURCE_HEADER, "")
        size = oversize or len(body)
        raw = request_bytes(_kept_headers(request, size), body[:UNAUTHENTICATED_PREVIEW_BYTES])
        error = f"{reason} (source {claimed or 'not named'!r}, {size:,} bytes)"
        letter = await self.writer.run(
            lambda session: record_unauthenticated(
                session, self.engine.settings, kind=DEAD_LETTER_KIND, address=address, raw=raw, error=error
            )
        )
        return self._refusal(status, reason, letter, claimed)

    async def _refuse_signed(self, request: Request, status: int, reason: str, body: bytes) -> Response:
        """Refuse a signed request that cannot be read: the whole request is kept, so it can be retried."""
        source = request.headers.get(SOURCE_HEADER, "")
        raw = request_bytes(_kept_headers(request), body)
        letter = await self.writer.run(
            lambda session: record_authenticated(
                session,
                self.engine.settings,
                source=source_name(DEAD_LETTER_KIND, source),
                raw=raw,
                error=reason,
            )
        )
        return self._refusal(status, reason, letter, source)

    def _refusal(self, status: int, reason: str, letter: int | None, source: str) -> Response:
        log.warning("webhook refused (%d) from %r: %s", status, source, reason)
        if letter is None:
            reason += " (not kept: the dead-letter table is full)"
            log.warning("the dead-letter table is full: webhook refusals are not kept")
        return JSONResponse(Rejected(detail=reason, dead_letter_id=letter).model_dump(), status_code=status)


def _kept_headers(request: Request, truncated_from: int = 0) -> dict[str, str]:
    """The CareDesk headers of a request, as a dead letter keeps them (with the size of a body kept in part)."""
    headers = {name: request.headers.get(name, "") for name in (SOURCE_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)}
    return headers | {TRUNCATED_HEADER: str(truncated_from or "")}


def _validation_reason(errors: list[Any]) -> str:
    parts = []
    for error in errors[:10]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def _guarded_route(ingest: WebhookIngest) -> type[APIRoute]:
    """A route class that checks size and signature first and dead-letters bodies that fail to parse."""

    class GuardedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                refusal = await ingest.admit(request)
                if refusal is not None:
                    return refusal
                try:
                    response = await handler(request)
                except RequestValidationError as exc:
                    return await ingest.refuse_invalid(request, list(exc.errors()))
                except HTTPException as exc:  # starlette's: FastAPI raises it for a body it cannot decode
                    if exc.status_code != 400:
                        raise
                    return await ingest.refuse_invalid(request, None, str(exc.detail))
                if response.status_code == 202:
                    ingest.accepted(request)
                return response

            return guarded

    return GuardedRoute


def build_router(engine: Engine) -> APIRouter:
    """The webhook API router; mount it with `app.include_router(build_router(engine))`."""
    ingest = WebhookIngest(engine)
    ingest.resume_pending_attachments()
    router = APIRouter(
        prefix="/api/v1",
        tags=["ingest"],
        route_class=_guarded_route(ingest),
        strict_content_type=False,  # a body without Content-Type is read as JSON; the signature vouches for it
    )
    refused: dict[int | str, dict[str, Any]] = {
        400: {"model": Rejected, "description": "Malformed JSON (kept as a dead letter)."},
        401: {"model": Rejected, "description": "Unknown source, bad or expired signature (counted as a dead letter)."},
        409: {"model": Rejected, "description": "A replay of a request already accepted (counted as a dead letter)."},
        429: {"model": Rejected, "description": "Too many refused requests from this address; nothing is kept."},
        413: {"model": Rejected, "description": "Body larger than the limit (a preview is kept as a dead letter)."},
        422: {"model": Rejected, "description": "Missing or invalid fields (kept as a dead letter)."},
    }

    @router.post(
        "/messages",
        status_code=202,
        response_model=Accepted,
        responses=refused,
        summary="Receive a message",
    )
    async def receive_message(
        message: MessageIn,
        source: Annotated[
            str, Header(alias=SOURCE_HEADER, description="The sending platform, as named in webhook_secrets.")
        ],
        timestamp: Annotated[
            str,
            Header(alias=TIMESTAMP_HEADER, description="When the request was signed: Unix time in seconds."),
        ],
        signature: Annotated[
            str,
            Header(
                alias=SIGNATURE_HEADER,
                description="`sha256=` + hex HMAC-SHA256 of `<timestamp>.<raw body>` with the source's secret; "
                "valid for five minutes, accepted once.",
            ),
        ],
    ) -> Accepted:
        """Store a chat, SMS, social or voice message and queue it for triage; idempotent on `external_id`.

        Answers 202 once the message is committed. Replies go back to the source's callback URL.
        """
        return await ingest.accept(source, message)

    return router
