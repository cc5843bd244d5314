"""The outbox against real servers on loopback: aiosmtpd, scripted faulty SMTP servers, an HTTP callback receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from sqlmodel import select

from engine.app import build_engine
from engine.bench.servers.callbacks import CallbackReceiver
from engine.bench.servers.mail import FaultySmtp, Mailbox, SmtpServer, free_port
from engine.config import Settings
from engine.desk import approve_or_edit
from engine.feedback.capture import FeedbackError
from engine.ingest.dead_letters import list_dead_letters
from engine.ingest.email_channel import ingest_email
from engine.ingest.webhook import store_message
from engine.ingest.webhook_auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from engine.ingest.webhook_schema import MessageIn
from engine.outbox import Courier, enqueue_reply, failed_deliveries, recover, retry_delivery, ticket_deliveries
from engine.runtime import Engine
from engine.store.models import Direction, Message, Ticket
from engine.store.outbox_models import DeliveryState, OutboundReply, SendStage
from tests.waiting import wait_for

SECRET = "chat-secret"
S = TypeVar("S", bound="Closable")
FAST = {"backoff_seconds": 0.05, "backoff_max_seconds": 0.2, "poll_seconds": 0.05, "callback_timeout": 1.0}


def make_engine(data_dir: Path, **extra: Any) -> Engine:
    extra = {"outbox": FAST | extra.pop("outbox", {}), "webhook_secrets": {"chatwidget": SECRET}} | extra
    return build_engine(Settings.load(data_dir=data_dir, model_backend="fake", demo=False, **extra))


@pytest.fixture
def courier_for() -> Iterator[Callable[[Engine], Courier]]:
    started: list[Courier] = []

    def start(engine: Engine) -> Courier:
        courier = Courier(engine.db, lambda: engine.settings)
        courier.start()
        started.append(courier)
        return courier

    yield start
    for courier in started:
        courier.stop()


class Closable(Protocol):
    def close(self) -> None: ...


@pytest.fixture
def serve() -> Iterator[Callable[[S], S]]:
    """Keep each loopback server a test starts, and close it when the test ends."""
    servers: list[Closable] = []

    def keep(server: S) -> S:
        servers.append(server)
        return server

    yield keep
    for server in servers:
        server.close()


@pytest.fixture
def email_reply(tmp_path: Path, courier_for: Callable[[Engine], Courier]) -> Callable[..., tuple[Engine, int]]:
    """A desk whose replies go through the SMTP server `smtp`, an e-mailed ticket answered with `reply`, its courier
    started."""

    def send(smtp: dict[str, Any], reply: str, **extra: Any) -> tuple[Engine, int]:
        engine = make_engine(tmp_path / "data", smtp=smtp, **extra)
        ticket_id = email_ticket(engine)
        approve_or_edit(engine, ticket_id, None, reply, agent="sam")
        courier_for(engine)
        return engine, ticket_id

    return send


def mail(message_id: str, text: str, **headers: str) -> bytes:
    head = {"From": "Jörg Müller <jorg@example.de>", "To": "help@shop.example", "Subject": "Refund for order 1234"}
    head |= {"Message-ID": message_id, "Date": "Tue, 01 Jul 2025 10:00:00 +0200"} | headers
    lines = [f"{k}: {v}" for k, v in head.items() if v]
    return ("\r\n".join(lines) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n").encode()


def email_ticket(engine: Engine, message_id: str = "<q-1@example.de>", **headers: str) -> int:
    result = ingest_email(engine, mail(message_id, "Where is my parcel?", **headers), source="email:test")
    assert result is not None
    return result.ticket_id


def chat_ticket(engine: Engine, external_id: str = "m-1", channel: str = "chat") -> int:
    message = MessageIn(
        channel=channel,  # type: ignore[arg-type]
        external_id=external_id,
        customer_handle="@amelia",
        customer_name="Amelia Garcia",
        text="My parcel has not arrived.",
        conversation_id=f"conv-{external_id}",
    )
    with engine.transaction() as session:
        result, _ = store_message(session, engine.settings, "chatwidget", message)
    return result.ticket_id


def delivery(engine: Engine, ticket_id: int) -> Any:
    (only,) = ticket_deliveries(engine.db, ticket_id).values()
    return only


def state_is(engine: Engine, ticket_id: int, state: str) -> Callable[[], bool]:
    return lambda: bool(ticket_deliveries(engine.db, ticket_id)) and delivery(engine, ticket_id).state == state


def test_an_approved_reply_reaches_the_customer_by_smtp_and_the_answer_threads_back(
    tmp_path: Path, courier_for: Callable[[Engine], Courier], serve: Callable[[SmtpServer], SmtpServer]
) -> None:
    smtp = serve(SmtpServer())
    engine = make_engine(tmp_path / "data", smtp=smtp.settings())
    ticket_id = email_ticket(engine)
    approve_or_edit(engine, ticket_id, None, "It ships tomorrow, Jörg.", agent="sam")
    assert delivery(engine, ticket_id).state == DeliveryState.QUEUED, "not sent before the channel accepts it"
    courier_for(engine)
    wait_for(state_is(engine, ticket_id, DeliveryState.SENT), what="the reply to be sent")
    (sent,) = smtp.mailbox.parsed()
    assert sent["To"] == "jorg@example.de" and sent["From"] == "help@shop.example"
    assert sent["In-Reply-To"] == "<q-1@example.de>" and sent["References"] == "<q-1@example.de>"
    assert sent.get_content().strip() == "It ships tomorrow, Jörg."
    key = delivery(engine, ticket_id).key
    assert sent["Message-ID"] == key and key.startswith(f"<caredesk.{ticket_id}.")
    with engine.session() as session:
        reply = session.exec(select(Message).where(Message.direction == Direction.OUTBOUND)).one()
    assert reply.external_id == key, "the desk keeps the Message-ID it sent"

    answer = mail("<q-2@example.de>", "Thanks, got it!", **{"In-Reply-To": key, "References": key})
    result = ingest_email(engine, answer, source="email:test")
    assert result is not None and result.ticket_id == ticket_id


def test_a_refusing_server_is_retried_with_backoff_and_the_reply_arrives_once(
    serve: Callable[[SmtpServer], SmtpServer], email_reply: Callable[..., tuple[Engine, int]]
) -> None:
    smtp = serve(SmtpServer(Mailbox(refuse=lambda n: "451 4.3.0 try again later" if n <= 2 else None)))
    engine, ticket_id = email_reply(smtp.settings(), "Refund sent.")
    wait_for(state_is(engine, ticket_id, DeliveryState.SENT), what="delivery after two refusals")
    assert smtp.mailbox.attempts == 3 and len(smtp.mailbox.messages) == 1
    assert delivery(engine, ticket_id).attempts == 3


@pytest.mark.parametrize("fault", ["greet_421", "hang_greeting", "drop_mid_data"])
def test_a_fault_before_the_end_of_data_is_retried_and_delivered_once(
    serve: Callable[[Any], Any], email_reply: Callable[..., tuple[Engine, int]], fault: str
) -> None:
    faulty, good = serve(FaultySmtp(fault)), serve(SmtpServer())
    engine, ticket_id = email_reply(faulty.settings(timeout=0.5), "Your parcel left today.")
    wait_for(lambda: delivery(engine, ticket_id).attempts >= 1 and faulty.connections >= 1, what="a first try")
    wait_for(state_is(engine, ticket_id, DeliveryState.QUEUED), what="the failed attempt to be recorded")
    assert delivery(engine, ticket_id).reason, "the ticket says why it is not sent yet"
    engine.settings = engine.settings._with({"smtp": good.settings()})  # the server is fixed
    wait_for(state_is(engine, ticket_id, DeliveryState.SENT), what="delivery to the fixed server")
    assert len(good.mailbox.messages) == 1


def test_no_answer_after_the_end_of_data_is_unconfirmed_and_never_resent(
    serve: Callable[[FaultySmtp], FaultySmtp], email_reply: Callable[..., tuple[Engine, int]]
) -> None:
    faulty = serve(FaultySmtp("hang_after_data", hang_seconds=2.0))  # then it hangs up without having answered
    engine, ticket_id = email_reply(faulty.settings(timeout=0.5), "Done.")
    wait_for(state_is(engine, ticket_id, DeliveryState.FAILED), what="the unconfirmed attempt")
    found = delivery(engine, ticket_id)
    assert found.reason.startswith("unconfirmed:") and "may have been delivered" in found.reason
    time.sleep(0.5)  # several poll rounds: nothing claims it again
    assert faulty.connections == 1 and delivery(engine, ticket_id).attempts == 1


def test_a_restart_requeues_what_cannot_have_arrived_and_holds_what_may_have(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    first, second, third = email_ticket(engine, "<a@x>"), email_ticket(engine, "<b@x>"), chat_ticket(engine)
    for ticket_id in (first, second, third):
        approve_or_edit(engine, ticket_id, None, "Sorted.", agent="sam")
    with engine.transaction() as session:
        for row in session.exec(select(OutboundReply)):
            row.state, row.attempts = DeliveryState.SENDING, 1
            row.stage = SendStage.DATA_END if row.ticket_id == second else SendStage.NONE
            session.add(row)
    assert len(recover(engine.db)) == 3
    assert delivery(engine, first).state == DeliveryState.QUEUED
    assert delivery(engine, third).state == DeliveryState.QUEUED, "a webhook retry carries the same key"
    held = delivery(engine, second)
    assert held.state == DeliveryState.FAILED and held.reason.startswith("unconfirmed:")


def test_a_bounced_address_fails_at_once_and_a_dead_server_becomes_a_dead_letter_that_can_be_retried(
    tmp_path: Path, courier_for: Callable[[Engine], Courier], serve: Callable[[SmtpServer], SmtpServer]
) -> None:
    smtp = serve(SmtpServer(Mailbox(reject_rcpt="jorg@example.de")))
    down = smtp.settings(port=free_port(), timeout=0.5)
    engine = make_engine(tmp_path / "data", smtp=down, outbox={"max_attempts": 3})
    dead = email_ticket(engine, "<dead@x>")
    approve_or_edit(engine, dead, None, "We are on it.", agent="sam")
    courier_for(engine)
    wait_for(state_is(engine, dead, DeliveryState.FAILED), what="the dead letter")
    assert delivery(engine, dead).reason.startswith("gave up after 3 attempts")
    assert [d.ticket_id for d in failed_deliveries(engine.db)] == [dead]

    engine.settings = engine.settings._with({"smtp": smtp.settings()})
    bounced = email_ticket(engine, "<bounce@x>", From="Jörg <jorg@example.de>")
    approve_or_edit(engine, bounced, None, "Hello again.", agent="sam")
    wait_for(state_is(engine, bounced, DeliveryState.FAILED), what="the bounce")
    found = delivery(engine, bounced)
    assert found.attempts == 1 and "550" in found.reason and "refused it for good" in found.reason

    smtp.mailbox.reject_rcpt = ""  # the address works again; a person retries both
    retry_delivery(engine.db, delivery(engine, dead).id, actor="admin")
    retry_delivery(engine.db, found.id, actor="admin")
    wait_for(state_is(engine, dead, DeliveryState.SENT), what="the retried dead letter")
    wait_for(state_is(engine, bounced, DeliveryState.SENT), what="the retried bounce")
    assert len(smtp.mailbox.messages) == 2 and failed_deliveries(engine.db) == []


def test_a_webhook_reply_is_posted_signed_and_retried_with_the_same_key_after_500_hang_and_garbage(
    tmp_path: Path, courier_for: Callable[[Engine], Courier], serve: Callable[[CallbackReceiver], CallbackReceiver]
) -> None:
    faults = {1: "status:500", 2: "hang", 3: "garbage"}
    receiver = serve(CallbackReceiver(SECRET, fault=faults.get))
    engine = make_engine(tmp_path / "data", webhook_callbacks={"chatwidget": receiver.url})
    ticket_id = chat_ticket(engine, "m-5")
    approve_or_edit(engine, ticket_id, None, "Your parcel arrives on Friday.", agent="sam")
    courier_for(engine)
    wait_for(state_is(engine, ticket_id, DeliveryState.SENT), what="the callback to accept")
    assert len(receiver.received) == 4 and receiver.bad_signatures == 0
    keys = {headers["Idempotency-Key"] for headers, _ in receiver.received}
    assert keys == {delivery(engine, ticket_id).key}, "every attempt carries one idempotency key"
    headers, body = receiver.received[-1]
    assert headers[SIGNATURE_HEADER] == sign(SECRET, body, headers[TIMESTAMP_HEADER])
    sent = json.loads(body)
    assert sent["conversation_id"] == "conv-m-5" and sent["in_reply_to"] == "m-5"
    assert sent["customer_handle"] == "@amelia" and sent["text"] == "Your parcel arrives on Friday."
    (copy,) = receiver.delivered.values()
    assert copy["copies"] == 2, "the hung request and its retry: one key, so the customer sees it once"


def test_a_refused_callback_and_a_missing_url_are_dead_letters_with_their_reason(
    tmp_path: Path, courier_for: Callable[[Engine], Courier], serve: Callable[[CallbackReceiver], CallbackReceiver]
) -> None:
    receiver = serve(CallbackReceiver(SECRET, fault=lambda n: "status:400"))
    engine = make_engine(tmp_path / "data", webhook_callbacks={"chatwidget": receiver.url})
    refused = chat_ticket(engine, "m-7")
    approve_or_edit(engine, refused, None, "OK.", agent="sam")
    courier_for(engine)
    wait_for(state_is(engine, refused, DeliveryState.FAILED), what="the refusal")
    assert "HTTP 400" in delivery(engine, refused).reason and len(receiver.received) == 1
    engine.settings = engine.settings._with({"webhook_callbacks": {}})
    nowhere = chat_ticket(engine, "m-8")
    approve_or_edit(engine, nowhere, None, "OK.", agent="sam")
    wait_for(state_is(engine, nowhere, DeliveryState.FAILED), what="the missing URL")
    assert "no callback URL" in delivery(engine, nowhere).reason


def test_a_reply_over_the_sms_limit_is_refused_before_sending_and_an_automatic_one_is_kept_failed(
    tmp_path: Path,
) -> None:
    engine = make_engine(tmp_path / "data")
    ticket_id = chat_ticket(engine, "s-1", channel="sms")
    with pytest.raises(FeedbackError, match="too long for SMS: 1,601 characters"):
        approve_or_edit(engine, ticket_id, None, "x" * 1601, agent="sam")
    with engine.transaction() as session:
        assert session.get(Ticket, ticket_id).status != "resolved"  # type: ignore[union-attr]
        message = Message(ticket_id=ticket_id, direction=Direction.OUTBOUND, author="CareDesk AI", body="y" * 1700)
        session.add(message)
        row = enqueue_reply(session, message)
    assert row.state == DeliveryState.FAILED and "too long for SMS" in row.reason


def test_a_ticket_without_a_channel_to_answer_says_so(tmp_path: Path) -> None:
    engine = build_engine(Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo_ticket_count=5))
    with engine.session() as session:
        ticket = session.exec(select(Ticket).where(Ticket.channel == "chat")).first()
    assert ticket is not None and ticket.id is not None
    approve_or_edit(engine, ticket.id, None, "Hello!", agent="sam")
    found = delivery(engine, ticket.id)
    assert found.state == DeliveryState.FAILED and "did not arrive through a channel" in found.reason


def delivery_report(returned_id: str, to: str) -> bytes:
    """A mail server's delivery-status report (RFC 3464) returning the headers of a message it could not deliver."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.de>\r\nTo: help@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.example.de>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.de\r\n\r\n"
        f"Final-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {returned_id}\r\nTo: {to}\r\n\r\n--b1--\r\n"
    ).encode()


def test_a_bounce_report_marks_the_reply_not_delivered_and_does_not_reopen_the_ticket(
    serve: Callable[[SmtpServer], SmtpServer], email_reply: Callable[..., tuple[Engine, int]]
) -> None:
    smtp = serve(SmtpServer())
    engine, ticket_id = email_reply(smtp.settings(), "Refund sent.")
    wait_for(state_is(engine, ticket_id, DeliveryState.SENT), what="the reply to be sent")
    key = delivery(engine, ticket_id).key
    assert ingest_email(engine, delivery_report(key, "jorg@example.de"), source="email:test") is None
    bounced = delivery(engine, ticket_id)
    assert (
        bounced.state == DeliveryState.FAILED and "bounced: status 5.1.1" in bounced.reason and "550" in bounced.reason
    )
    with engine.session() as session:
        ticket = session.get(Ticket, ticket_id)
        inbound = session.exec(select(Message).where(Message.direction == Direction.INBOUND)).all()
    assert ticket is not None and ticket.status == "resolved" and len(inbound) == 1, "not a customer message"
    (letter,) = list_dead_letters(engine)
    assert f"bounce report for the reply on ticket {ticket_id}" in letter.error
