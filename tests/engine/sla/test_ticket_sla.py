"""Per-ticket SLA end to end on real loopback servers: dues at intake, met/breached when the first reply is sent and
on resolution, breaches swept as time passes, the alert e-mail, the queue's live priority and time left."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.app import build_engine
from engine.bench.servers.mail import SmtpServer, free_port
from engine.config import Settings
from engine.desk import approve_or_edit, queue_rows, reopen
from engine.ingest.email_channel import ingest_email
from engine.ingest.webhook import store_message
from engine.ingest.webhook_schema import MessageIn
from engine.kpi import all_time, dashboard
from engine.outbox import Courier
from engine.runtime import Engine
from engine.sla import SlaSettings, live_priority, standing, start_clock
from engine.sla_watch import watch_sla
from engine.store.models import Ticket, utcnow
from tests.waiting import wait_for

ALWAYS_OPEN = {"days": "mon-sun", "open": "00:00", "close": "24:00"}
TARGETS = {"email": {"normal": {"first_response": 30, "resolution": 60}}, "chat": {"normal": {"first_response": 10}}}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.close()


def make_engine(data_dir: Path, smtp: dict[str, Any], **sla: Any) -> Engine:
    settings = Settings.load(
        data_dir=data_dir,
        model_backend="fake",
        demo=False,
        smtp=smtp,
        webhook_secrets={"chatwidget": "s"},
        outbox={"backoff_seconds": 0.05, "poll_seconds": 0.05},
        sla=ALWAYS_OPEN | {"targets": TARGETS} | sla,
    )
    return build_engine(settings)


def email_in(engine: Engine, number: int, sent: datetime) -> int:
    raw = (
        f"From: Ann <ann{number}@example.org>\r\nTo: help@shop.example\r\nSubject: Parcel {number}\r\n"
        f"Message-ID: <q{number}@example.org>\r\nDate: {email.utils.format_datetime(sent)}\r\n\r\nWhere is it?\r\n"
    ).encode()
    result = ingest_email(engine, raw, source="email:test")
    assert result is not None
    return result.ticket_id


def chat_in(engine: Engine, number: int, sent: datetime) -> int:
    message = MessageIn(
        channel="chat",
        external_id=f"m{number}",
        customer_handle=f"@c{number}",
        text="My parcel has not arrived.",
        conversation_id=f"c{number}",
        timestamp=sent,
    )
    with engine.transaction() as session:
        result, _ = store_message(session, engine.settings, "chatwidget", message)
    return result.ticket_id


def ticket(engine: Engine, ticket_id: int) -> Ticket:
    with engine.session() as session:
        found = session.get(Ticket, ticket_id)
    assert found is not None
    return found


def test_dues_at_intake_and_verdicts_when_the_reply_is_sent(tmp_path: Path, smtp: SmtpServer) -> None:
    engine = make_engine(tmp_path, smtp.settings())
    now = utcnow().replace(microsecond=0)
    fresh = email_in(engine, 1, now)
    stale = email_in(engine, 2, now - timedelta(hours=2))  # the customer wrote two hours ago
    t = ticket(engine, fresh)
    assert t.sla_policy == "email/normal"
    assert t.first_response_due == now + timedelta(minutes=30)
    assert t.resolution_due == now + timedelta(minutes=60)
    for ticket_id in (fresh, stale):
        approve_or_edit(engine, ticket_id, None, "It is on its way.", agent="ann")
    assert ticket(engine, fresh).resolution_breached is False
    assert ticket(engine, stale).resolution_breached is True
    assert ticket(engine, fresh).first_response_breached is None  # not sent yet: nothing reached the customer
    courier = Courier(engine.db, lambda: engine.settings)
    courier.start()
    try:
        wait_for(lambda: len(smtp.mailbox.messages) == 2, what="both replies to reach the SMTP server")
        wait_for(lambda: ticket(engine, stale).first_response_breached is not None, what="the first responses")
    finally:
        courier.stop()
    assert ticket(engine, fresh).first_response_breached is False
    assert ticket(engine, stale).first_response_breached is True
    shown = {k.key: k.value for k in dashboard(engine.db, all_time(engine.db)).kpis}
    assert shown["sla_breaches"] == 1
    reopen(engine, fresh, "the parcel did not come", agent="ann")
    assert ticket(engine, fresh).resolution_breached is None  # the resolution did not hold: the next one decides
    assert ticket(engine, fresh).first_response_breached is False  # the first response stays as it was


def test_breaches_swept_as_time_passes_and_alerted_once(tmp_path: Path, smtp: SmtpServer) -> None:
    engine = make_engine(tmp_path, smtp.settings(), alert_email="leads@shop.example")
    now = utcnow()
    late = chat_in(engine, 1, now - timedelta(minutes=20))  # chat: first response due in 10 minutes
    on_time = chat_in(engine, 2, now)
    assert "0 new breaches" not in watch_sla(engine)
    assert ticket(engine, late).first_response_breached is True
    assert ticket(engine, on_time).first_response_breached is None
    assert engine.sla_breached == 1
    (alert,) = smtp.mailbox.parsed()
    assert alert["To"] == "leads@shop.example" and "1 ticket(s) breached" in str(alert["Subject"])
    assert f"ticket {late} (chat/normal): first response was due" in alert.get_content()
    assert "parcel" not in alert.get_content()  # no customer words in an alert
    watch_sla(engine)
    assert len(smtp.mailbox.messages) == 1  # each breach is alerted once
    rows = {r.id: r for r in queue_rows(engine)}
    assert rows[late].sla is not None and rows[late].sla.colour == "red"
    assert rows[late].sla.text.startswith("breached 10 m ago")
    assert rows[on_time].sla is not None and rows[on_time].sla.colour == "green"
    assert next(r.id for r in queue_rows(engine)) == late  # the breached ticket rose to the top


def test_an_alert_that_cannot_be_sent_is_tried_again(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, {"host": "127.0.0.1", "port": free_port(), "timeout": 2}, alert_email="l@x.io")
    late = chat_in(engine, 1, utcnow() - timedelta(hours=1))
    assert "alert e-mail not sent" in watch_sla(engine)
    assert ticket(engine, late).first_response_breached is True  # the breach is recorded all the same
    assert ticket(engine, late).sla_alerted_at is None  # and alerted when the server is back
    assert engine.sla_breached == 1


def test_triage_priority_sets_the_policy_and_what_is_decided_stays() -> None:
    sla = SlaSettings.parse({"timezone": "UTC", **ALWAYS_OPEN})
    created = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    t = Ticket(customer_id=1, channel="chat", created_at=created)
    assert start_clock(t, sla) and t.sla_policy == "chat/normal"
    assert t.first_response_due == created + timedelta(minutes=30)
    t.urgency = 0.9  # triage found it urgent
    assert start_clock(t, sla) and t.sla_policy == "chat/urgent"
    assert t.first_response_due == created + timedelta(minutes=5)
    assert not start_clock(t, sla)  # nothing changed
    t.first_response_breached, t.urgency, t.valence = False, 0.1, -0.6  # answered, then the customer grew unhappy
    start_clock(t, sla)
    assert t.sla_policy == "chat/high" and t.first_response_due == created + timedelta(minutes=5)  # decided: kept
    assert t.resolution_due == created + timedelta(minutes=240)


def test_standing_colours_and_priority_that_rises_with_waiting() -> None:
    created = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    t = Ticket(customer_id=1, channel="chat", created_at=created, priority=0.2)
    t.first_response_due, t.resolution_due = created + timedelta(hours=1), created + timedelta(hours=8)
    early, late, over = (standing(t, created + timedelta(minutes=m)) for m in (10, 50, 130))
    assert early is not None and (early.colour, early.text) == ("green", "50 m to first response")
    assert late is not None and (late.colour, late.text) == ("amber", "10 m to first response")
    assert over is not None and (over.colour, over.text) == ("red", "breached 1 h 10 m ago")
    priorities = [live_priority(t, created + timedelta(minutes=m)) for m in (0, 30, 60, 600)]
    assert priorities == sorted(priorities) and priorities[0] == 0.2 and priorities[-1] > priorities[1]
