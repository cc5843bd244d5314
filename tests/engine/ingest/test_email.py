"""E-mail against real servers on loopback: Dovecot IMAP (Debian dovecot-imapd) and an aiosmtpd SMTP server."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from engine.app import build_engine
from engine.bench.servers.imap import Dovecot, dovecot_missing
from engine.bench.servers.mail import Mailbox, SmtpServer
from engine.config import Settings
from engine.desk import approve_or_edit
from engine.ingest.attachments import attachment_file, ticket_attachments
from engine.ingest.dead_letters import list_dead_letters
from engine.ingest.email_channel import import_eml, poll_imap
from engine.outbox import Courier, ticket_deliveries
from engine.runtime import Engine
from engine.store.attachment_models import AttachmentStatus
from engine.store.models import Customer, Message, Ticket
from tests.engine.ingest.test_attachments import text_pdf
from tests.waiting import wait_for


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot on a loopback port with one passwd-file user and a temp maildir."""
    missing = dovecot_missing()
    if missing:
        pytest.fail(missing)
    server = Dovecot()
    yield server
    server.close()


@pytest.fixture
def imap_server(dovecot: Dovecot) -> dict[str, Any]:
    return dovecot.settings


@pytest.fixture
def smtp_server() -> Iterator[tuple[dict[str, Any], Mailbox]]:
    server = SmtpServer()
    yield server.settings(), server.mailbox
    server.close()


def make_engine(data_dir: Path, **extra: Any) -> Engine:
    return build_engine(Settings.load(data_dir=data_dir, model_backend="fake", demo=False, **extra))


def deliver(server: dict[str, Any], *raws: bytes) -> None:
    """Put messages into the mailbox through IMAP APPEND, as a mail server would."""
    with imaplib.IMAP4(server["host"], server["port"], timeout=10) as imap:
        imap.login(server["user"], server["password"])
        for raw in raws:
            status, _ = imap.append("INBOX", None, None, raw)
            assert status == "OK"


def mail(message_id: str, text: str, **headers: str) -> bytes:
    head = {"From": "Jörg Müller <jorg@example.de>", "To": "help@shop.example", "Subject": "Refund for order 1234"}
    head |= {"Message-ID": message_id, "Date": "Tue, 01 Jul 2025 10:00:00 +0200"} | headers
    lines = [f"{k}: {v}" for k, v in head.items() if v]
    body = "\r\n".join(lines) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n"
    return body.encode()


def tickets_and_messages(engine: Engine) -> list[tuple[int, str]]:
    with engine.session() as session:
        rows = session.exec(select(Message.ticket_id, Message.body).order_by(col(Message.id))).all()
    return [(ticket_id, body) for ticket_id, body in rows]


def test_imap_poll_stores_threads_and_flags_mail(tmp_path: Path, imap_server: dict[str, Any]) -> None:
    engine = make_engine(tmp_path / "data", imap=imap_server)
    latin1 = (
        b"From: =?iso-8859-1?q?Ren=E9e_Dupont?= <renee@example.fr>\r\nSubject: Facture erron\xe9e\r\n"
        b"Message-ID: <fr-1@example.fr>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nMa facture est erron\xe9e, merci de corriger.\r\n"
    )
    html_only = (
        b"From: dana@example.com\r\nSubject: Login\r\nMessage-ID: <html-1@example.com>\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{color:red}</style></head><body><p>I cannot&nbsp;log in.</p>"
        b"<script>alert('x')</script></body></html>\r\n"
    )
    first = mail("<order-1@example.de>", "Grüße, I want a refund for order 1234.")
    reply = mail(
        "<order-2@example.de>",
        "Any news?\r\n\r\nOn Tue, 1 Jul 2025 you wrote:\r\n> Grüße, I want a refund",
        **{"In-Reply-To": "<order-1@example.de>", "References": "<order-1@example.de>", "Subject": "Re: Refund"},
    )
    deliver(imap_server, first, reply, latin1, html_only)

    assert poll_imap(engine) == 4
    assert poll_imap(engine) == 0, "fetched mail is flagged seen and not taken twice"

    rows = tickets_and_messages(engine)
    by_text = {body: ticket_id for ticket_id, body in rows}
    assert by_text["Grüße, I want a refund for order 1234."] == by_text["Any news?"], "the reply threads"
    assert "Ma facture est erronée, merci de corriger." in by_text
    assert "I cannot log in." in by_text and not any("alert" in body for body in by_text)
    with engine.session() as session:
        customer = session.exec(select(Customer).where(Customer.email == "renee@example.fr")).one()
        ticket = session.exec(select(Ticket).where(Ticket.customer_id == customer.id)).one()
    assert customer.name == "Renée Dupont" and ticket.subject == "Facture erronée" and ticket.channel == "email"
    with engine.session() as session:
        (original,) = ticket_attachments(session, ticket.id or 0)
    assert original.filename == "original.eml" and original.status == AttachmentStatus.STORED
    assert attachment_file(engine, original.id or 0)[0] == latin1  # type: ignore[index]


def test_a_mail_that_cannot_be_parsed_is_dead_lettered_and_the_rest_flow(
    tmp_path: Path, imap_server: dict[str, Any]
) -> None:
    engine = make_engine(tmp_path / "data", imap=imap_server)
    no_sender = b"Subject: who am I\r\nMessage-ID: <anon@x>\r\n\r\nThere is no From header here.\r\n"
    deliver(imap_server, no_sender, mail("<ok-1@example.de>", "Please cancel my subscription."))
    assert poll_imap(engine) == 2
    assert [body for _, body in tickets_and_messages(engine)] == ["Please cancel my subscription."]
    (letter,) = list_dead_letters(engine)
    assert letter.source == "email:imap:INBOX" and "no sender address" in letter.error
    assert "There is no From header here." in letter.preview


def test_an_approved_reply_goes_out_over_smtp_and_the_answer_threads_back_through_imap(
    tmp_path: Path, imap_server: dict[str, Any], smtp_server: tuple[dict[str, Any], Mailbox]
) -> None:
    smtp, inbox = smtp_server
    engine = make_engine(tmp_path / "data", imap=imap_server, smtp=smtp, outbox={"poll_seconds": 0.05})
    deliver(imap_server, mail("<q-1@example.de>", "Where is my parcel?"))
    poll_imap(engine)
    ticket_id = tickets_and_messages(engine)[0][0]

    approve_or_edit(engine, ticket_id, None, "It ships tomorrow.", agent="sam")
    courier = Courier(engine.db, lambda: engine.settings)
    courier.start()
    try:
        wait_for(lambda: len(inbox.messages) == 1)
    finally:
        courier.stop()
    reply = message_from_bytes(inbox.messages[0])
    assert reply["To"] == "jorg@example.de" and reply["In-Reply-To"] == "<q-1@example.de>"
    (sent,) = ticket_deliveries(engine.db, ticket_id).values()
    assert sent.state == "sent" and reply["Message-ID"] == sent.key and "It ships tomorrow." in reply.get_payload()

    answer = mail("<q-2@example.de>", "Thanks!", **{"In-Reply-To": sent.key, "References": sent.key})
    deliver(imap_server, answer)
    poll_imap(engine)
    assert [t for t, _ in tickets_and_messages(engine)] == [ticket_id, ticket_id, ticket_id]


def test_eml_with_a_pdf_attachment_keeps_both_and_extracts_the_pdf(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "Ola Nordmann <ola@example.no>"
    message["Subject"] = "Wrong amount"
    message["Message-ID"] = "<inv-1@example.no>"
    message.set_content("The attached invoice shows the wrong amount.")
    message.add_attachment(
        text_pdf(["Invoice 311 amount 99 NOK"]), maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    path = tmp_path / "wrong-amount.eml"
    path.write_bytes(message.as_bytes())
    engine = make_engine(tmp_path / "data")
    result = import_eml(engine, path)
    assert result is not None
    with engine.session() as session:
        kept = {a.filename: a for a in ticket_attachments(session, result.ticket_id)}
    assert set(kept) == {"original.eml", "invoice.pdf"}
    assert kept["invoice.pdf"].status == AttachmentStatus.DONE and "Invoice 311" in kept["invoice.pdf"].extracted_text
    assert tickets_and_messages(engine) == [(result.ticket_id, "The attached invoice shows the wrong amount.")]
