"""Raw e-mail bytes to what intake needs: sender, thread ids, readable text (any charset, HTML stripped), files."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from engine.ingest.dead_letter_store import IngestError
from engine.ingest.html_text import html_to_text
from engine.ingest.text_decode import decode_text

log = logging.getLogger(__name__)

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
QUOTE_HEADER = re.compile(r"^(On .{0,300}wrote:|-{2,} ?Original Message ?-{2,}|_{10,})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedAttachment:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str
    from_name: str
    from_email: str
    subject: str
    text: str
    sent_at: datetime | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)

    @property
    def conversation_key(self) -> str:
        """The thread's root Message-ID: the first reference, else the replied-to id, else this message's id."""
        return (self.references or self.in_reply_to or [self.message_id])[0]

    @property
    def thread_keys(self) -> list[str]:
        """Every Message-ID this one answers, newest first."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one RFC 5322 message; raises IngestError when it has no sender or no content."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    names = getaddresses([_header(message, "From")])
    from_name, from_email = next(((n, a) for n, a in names if "@" in a), ("", ""))
    if not from_email:
        raise IngestError("the e-mail has no sender address (From header)")
    plain, html, attachments = _walk(message)
    text = strip_quoted(plain if plain.strip() else html_to_text(html))
    if not text.strip() and not attachments:
        raise IngestError("the e-mail has no text and no attachments")
    own_id = _ids(_header(message, "Message-ID"))
    return ParsedEmail(
        message_id=own_id[0] if own_id else f"<sha256-{hashlib.sha256(raw).hexdigest()[:40]}@caredesk.invalid>",
        from_name=from_name.strip() or from_email,
        from_email=from_email.strip().lower(),
        subject=_header(message, "Subject").strip(),
        text=text.strip(),
        sent_at=_date(_header(message, "Date")),
        in_reply_to=_ids(_header(message, "In-Reply-To")),
        references=_ids(_header(message, "References")),
        attachments=attachments,
    )


def strip_quoted(text: str) -> str:
    """The new part of a reply: quoted lines (`>`) and everything after an `On … wrote:` line are dropped."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if QUOTE_HEADER.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _walk(message: Message) -> tuple[str, str, list[ParsedAttachment]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[ParsedAttachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        filename = _filename(part)
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_content_disposition() == "attachment" or filename or not content_type.startswith("text/"):
            attachments.append(ParsedAttachment(filename or "attachment", content_type, data))
        elif content_type == "text/html":
            html.append(decode_text(data, part.get_content_charset()))
        else:
            plain.append(decode_text(data, part.get_content_charset()))
    return "\n\n".join(plain), "\n".join(html), attachments


def _filename(part: Message) -> str:
    try:
        return part.get_filename() or ""
    except (ValueError, LookupError, TypeError):  # malformed RFC 2231 parameters
        return ""


def _header(message: Message, name: str) -> str:
    """A header as text: RFC 2047 words decoded; raw 8-bit bytes decoded as UTF-8, else cp1252."""
    raw = next((str(v) for k, v in message.raw_items() if k.lower() == name.lower()), None)
    if raw is None:
        return ""
    if _has_raw_bytes(raw):
        return " ".join(decode_text(raw.encode("utf-8", errors="surrogateescape")).split())
    try:
        return str(message.get(name, ""))
    except (ValueError, LookupError, TypeError, IndexError, AttributeError):  # a malformed header: keep it raw
        return " ".join(raw.split())


def _has_raw_bytes(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def _ids(value: str) -> list[str]:
    return MESSAGE_ID.findall(value or "")


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
