"""E-mail: poll an IMAP mailbox, import .eml files, thread by Message-ID (replies go out through engine.outbox).

Settings (engine/config.py; `[imap]` and `[smtp]` tables in caredesk.toml):
- `imap`: host, port (993 with ssl, else 143), user, password, mailbox ("INBOX"), ssl (false), starttls (false),
  interval_seconds (60), batch (200 messages per poll), timeout (30 s).
- `smtp`: host, port (25), user, password, from ("support@localhost"), ssl (false), starttls (false), timeout (10 s),
  domain (the right-hand side of generated Message-IDs, default "caredesk.local").
"""

from __future__ import annotations

import imaplib
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from engine.config import Settings
from engine.ingest.attachments import extract_attachments, save_attachment, save_attachments
from engine.ingest.bounces import bounce_of, record_bounce
from engine.ingest.conversations import deliver
from engine.ingest.dead_letter_store import IngestError, record_dead_letter, source_name, unpack_raw
from engine.ingest.email_parse import ParsedEmail, parse_email
from engine.ingest.field_limits import cut_to_limits
from engine.ingest.intake import InboundMessage, IntakeResult
from engine.runtime import Engine
from engine.sla import SlaSettings, start_clocks
from engine.store.attachment_models import AttachmentStatus
from engine.store.models import Channel

log = logging.getLogger(__name__)

DEAD_LETTER_KIND = "email"
RAW_MAIL_NAME = "original.eml"  # every e-mail is kept as received, downloadable next to its attachments
OWN_MESSAGE_ID = re.compile(r"^<caredesk\.(\d+)\.[0-9a-f]+@")


@dataclass(frozen=True)
class MailServer:
    """Connection settings of one IMAP or SMTP server."""

    host: str
    port: int
    user: str = ""
    password: str = ""
    ssl: bool = False
    starttls: bool = False
    timeout: float = 30.0
    mailbox: str = "INBOX"
    batch: int = 200
    sender: str = "support@localhost"
    domain: str = "caredesk.local"

    @classmethod
    def from_table(cls, given: dict[str, Any], kind: str) -> MailServer:
        """A server from the `imap` or `smtp` table of the settings; raises IngestError when it names no host."""
        if not given.get("host"):
            raise IngestError(f"no {kind} server configured: set host (and port, user, password) under [{kind}]")
        default_port = {"imap": 993 if given.get("ssl") else 143, "smtp": 465 if given.get("ssl") else 25}[kind]
        return cls(
            host=str(given["host"]),
            port=int(given.get("port", default_port)),
            user=str(given.get("user", "")),
            password=str(given.get("password", "")),
            ssl=bool(given.get("ssl", False)),
            starttls=bool(given.get("starttls", False)),
            timeout=float(given.get("timeout", 30.0 if kind == "imap" else 10.0)),
            mailbox=str(given.get("mailbox", "INBOX")),
            batch=int(given.get("batch", 200)),
            sender=str(given.get("from", "support@localhost")),
            domain=str(given.get("domain", "caredesk.local")),
        )


def imap_interval_seconds(settings: Settings) -> int | None:
    """How often to poll IMAP, or None when no IMAP server is configured (then schedule nothing)."""
    return int(settings.imap.get("interval_seconds", 60)) if settings.imap.get("host") else None


def store_email(
    session: Session, settings: Settings, parsed: ParsedEmail, raw: bytes
) -> tuple[IntakeResult, list[int]]:
    """Intake a parsed e-mail onto its thread's ticket, keep the raw mail and its files; returns ids to extract."""
    inbound = InboundMessage(
        channel=Channel.EMAIL,
        customer_name=parsed.from_name,
        text=parsed.text,
        customer_email=parsed.from_email,
        subject=parsed.subject or None,
        external_id=parsed.message_id,
        received_at=parsed.sent_at,
        ai_opt_in=settings.ai_opt_in_default,
    )
    inbound = cut_to_limits(inbound)  # the raw mail, kept below, holds every character
    result = deliver(
        session,
        inbound,
        conversation_key=parsed.conversation_key,
        thread_keys=parsed.thread_keys,
        ticket_id=_own_ticket_id(parsed.thread_keys),
    )
    if result.duplicate:
        return result, []
    if result.created_ticket:
        start_clocks(session, SlaSettings.lenient(settings), [result.ticket_id])
    save_attachment(
        session,
        settings,
        ticket_id=result.ticket_id,
        message_id=result.message_id,
        filename=RAW_MAIL_NAME,
        content_type="message/rfc822",
        data=raw,
        status=AttachmentStatus.STORED,
    )
    files = ((item.name, item.content_type, item.data) for item in parsed.attachments)
    return result, save_attachments(session, settings, result, files)


def ingest_email(engine: Engine, raw: bytes, *, source: str) -> IntakeResult | None:
    """Store one raw e-mail (and extract its attachments); a failure is kept as a dead letter and gives None.

    A bounce report about a reply the desk sent marks that reply not delivered and is kept as a dead letter (not
    a customer message), so it never reopens the ticket as if the customer had written.
    """
    bounce = bounce_of(raw)
    if bounce is not None:
        with engine.transaction() as session:
            ticket_id = record_bounce(session, *bounce)
            if ticket_id is not None:
                error = f"bounce report for the reply on ticket {ticket_id}: {bounce[1]}"
                record_dead_letter(session, source=source, raw=raw, error=error, unique=True)
        if ticket_id is not None:
            engine.changed()
            return None
    try:
        parsed = parse_email(raw)
        with engine.transaction() as session:
            result, ids = store_email(session, engine.settings, parsed, raw)
    except Exception as exc:  # anything a mail can make fail is kept raw for review and retry
        with engine.transaction() as session:
            record_dead_letter(session, source=source, raw=raw, error=_reason(exc), unique=True)
        return None
    engine.notify()
    extract_attachments(engine, ids)
    return result


def reprocess(engine: Engine, source: str, raw: str) -> None:
    """Dead-letter retry: parse and store the raw e-mail again."""
    data = unpack_raw(raw)
    with engine.transaction() as session:
        _, ids = store_email(session, engine.settings, parse_email(data), data)
    engine.notify()
    extract_attachments(engine, ids)


def import_eml(engine: Engine, path: Path) -> IntakeResult | None:
    """Import one .eml file; None when it was kept as a dead letter."""
    return ingest_email(engine, path.read_bytes(), source=source_name(DEAD_LETTER_KIND, f"eml:{path.name}"))


def poll_imap(engine: Engine) -> int:
    """Fetch unseen mail from the configured IMAP mailbox, store it, then flag it seen; returns how many were taken."""
    server = MailServer.from_table(engine.settings.imap, "imap")
    source = source_name(DEAD_LETTER_KIND, f"imap:{server.mailbox}")
    taken = 0
    with _imap(server) as imap:
        imap.login(server.user, server.password)
        _ok(imap.select(_quoted(server.mailbox)), f"select {server.mailbox}")
        uids = _ok(imap.uid("SEARCH", "UNSEEN"), "search")[0].split()[: server.batch]
        for uid in uids:
            raw = _fetched_bytes(_ok(imap.uid("FETCH", uid, "(BODY.PEEK[])"), "fetch"))
            if raw is None:
                log.warning("IMAP message %s vanished before it could be fetched", uid)
                continue
            ingest_email(engine, raw, source=source)  # stored or dead-lettered: both keep it
            _ok(imap.uid("STORE", uid, "+FLAGS", "(\\Seen)"), "store flags")
            taken += 1
    if taken:
        log.info("took %d messages from IMAP %s/%s", taken, server.host, server.mailbox)
    return taken


def new_message_id(settings: Settings, ticket_id: int) -> str:
    """A Message-ID for a reply that names its ticket, so the customer's answer threads back to it."""
    domain = settings.smtp.get("domain", "caredesk.local")
    return f"<caredesk.{ticket_id}.{uuid.uuid4().hex}@{domain}>"


def _own_ticket_id(keys: Sequence[str]) -> int | None:
    for key in keys:
        match = OWN_MESSAGE_ID.match(key)
        if match:
            return int(match.group(1))
    return None


def _imap(server: MailServer) -> imaplib.IMAP4:
    if server.ssl:
        return imaplib.IMAP4_SSL(server.host, server.port, timeout=server.timeout)
    imap = imaplib.IMAP4(server.host, server.port, timeout=server.timeout)
    if server.starttls:
        imap.starttls()
    return imap


def _ok(response: tuple[str, list[Any]], what: str) -> list[Any]:
    status, data = response
    if status != "OK":
        raise OSError(f"IMAP {what} failed: {data!r}")
    return data


def _fetched_bytes(data: list[Any]) -> bytes | None:
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
