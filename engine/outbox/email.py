"""Send one reply by SMTP, marking the moment after which the server may have accepted it.

SMTP has no idempotency key. A message the server has not seen the end-of-data marker of is discarded by it, so a
failure before that point is safe to retry, and so is a connection reset after it (the server closed with our data
unread). Otherwise, after the marker only the server's answer tells. `on_data_end` is called (and
must persist that) just before the marker goes out, so neither a timeout nor a restart in that window sends twice.
"""

from __future__ import annotations

import logging
import re
import selectors
import smtplib
import socket
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import format_datetime

from engine.ingest.email_channel import MailServer
from engine.outbox.errors import Permanent, Transient, Unconfirmed
from engine.store.models import utcnow

log = logging.getLogger(__name__)

DATA_END_TIMEOUT = 120.0  # seconds to wait for the answer to the end of data (RFC 5321 allows 10 minutes)


def compose(
    server: MailServer,
    *,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> EmailMessage:
    """The reply as an e-mail from the support address, threaded to the customer's message."""
    message = EmailMessage()
    message["From"] = server.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    message.set_content(body, cte="quoted-printable")
    return message


def send(server: MailServer, message: EmailMessage, on_data_end: Callable[[], None] = lambda: None) -> None:
    """Deliver `message` to the server; raises Transient, Permanent or Unconfirmed when it was not accepted."""
    data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    try:
        smtp_class = smtplib.SMTP_SSL if server.ssl else smtplib.SMTP
        with smtp_class(server.host, server.port, timeout=server.timeout) as smtp:
            if server.starttls:
                smtp.starttls()
            if server.user:
                smtp.login(server.user, server.password)
            smtp.ehlo_or_helo_if_needed()
            _expect(smtp.mail(server.sender), (250,), "MAIL FROM")
            _expect(smtp.rcpt(str(message["To"])), (250, 251), f"RCPT TO {message['To']}")
            _expect(smtp.docmd("DATA"), (354,), "DATA")
            smtp.send(data)
            _still_listening(smtp)
            on_data_end()
            if smtp.sock is not None:  # RFC 5321 4.5.3.2.6: a server may take minutes to accept the data
                smtp.sock.settimeout(max(server.timeout, DATA_END_TIMEOUT))
            smtp.send(b".\r\n")
            try:
                code, reply = smtp.getreply()
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                if _reset(exc):  # the server closed with our data unread: it never took the end-of-data marker
                    raise Transient(f"the SMTP server hung up during the message ({_text(exc)})") from exc
                raise Unconfirmed(
                    f"the SMTP server got the whole message but did not answer ({_text(exc)}); it may have been "
                    "delivered, so it is not sent again by itself: retry only if the customer did not get it"
                ) from exc
            _expect((code, reply), (250,), "end of data")
    except (Permanent, Transient, Unconfirmed):
        raise
    except smtplib.SMTPResponseException as exc:
        _raise_for(exc.smtp_code, exc.smtp_error, "SMTP")
    except TimeoutError as exc:
        raise Transient(f"the SMTP server at {server.host}:{server.port} timed out ({_text(exc)})") from exc
    except (OSError, smtplib.SMTPException) as exc:  # refused, reset, disconnected before the end of data
        raise Transient(f"SMTP server {server.host}:{server.port}: {_text(exc)}") from exc
    log.info("sent e-mail %s to the SMTP server", message["Message-ID"])


def _still_listening(smtp: smtplib.SMTP) -> None:
    """Raise Transient if the server hung up (or spoke) during the data: it has not got the end-of-data marker."""
    sock = smtp.sock
    if sock is None or not _readable(sock):
        return
    try:
        early = sock.recv(1, socket.MSG_PEEK)
    except OSError as exc:
        raise Transient(f"the SMTP server hung up during the message ({_text(exc)})") from exc
    raise Transient(f"the SMTP server {'answered' if early else 'hung up'} before the end of the message")


def _readable(sock: socket.socket) -> bool:
    """Whether the socket has data or a hang-up waiting (poll-based: no 1,024-descriptor limit as in select())."""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(0))


def _reset(exc: BaseException) -> bool:
    """A connection reset: the peer closed with data of ours unread (a clean close or a timeout says nothing)."""
    return isinstance(exc, ConnectionResetError) or isinstance(exc.__context__, ConnectionResetError)


def _expect(answer: tuple[int, bytes], ok: tuple[int, ...], step: str) -> None:
    code, reply = answer
    if code not in ok:
        _raise_for(code, reply, step)


def _raise_for(code: int, reply: bytes | str, step: str) -> None:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    reason = f"{step} refused: {code} {text}".strip()
    if 500 <= code < 600:
        raise Permanent(f"the mail server refused it for good ({reason}); check the customer's address")
    raise Transient(reason)


def _text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
