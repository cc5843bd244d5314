"""Surveys from live work: the link rides on the delivered reply, one answer per token, expiry, ask for a person."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from engine.bench.servers.mail import SmtpServer
from engine.desk import approve_or_edit
from engine.outbox import Courier, enqueue_reply
from engine.routing.auto_resolve import AI_AUTHOR
from engine.runtime import Engine
from engine.store.models import Direction, Feedback, Message, Outcome, Survey, Ticket, TicketStatus
from engine.surveys import build_survey_router, with_links
from tests.engine.outbox.test_outbox import email_ticket, make_engine, state_is
from tests.waiting import wait_for

LINK = re.compile(r"http://[^/\s]+/survey/([\w-]+)(/person)?")


def deliver_one(engine: Engine, smtp: SmtpServer, ticket_id: int) -> str:
    courier = Courier(engine.db, lambda: engine.settings, links=with_links)
    courier.start()
    try:
        wait_for(state_is(engine, ticket_id, "sent"), what="the reply to be sent")
    finally:
        courier.stop()
    (sent,) = smtp.mailbox.parsed()
    return str(sent.get_content())


def client(engine: Engine) -> TestClient:
    app = FastAPI()
    app.include_router(build_survey_router(engine.db, lambda: engine.settings))
    return TestClient(app)


def test_the_resolution_reply_carries_a_survey_that_takes_one_answer(tmp_path: Path) -> None:
    smtp = SmtpServer()
    try:
        engine = make_engine(tmp_path / "data", smtp=smtp.settings(), surveys={"base_url": "https://help.shop.example"})
        ticket_id = email_ticket(engine)
        approve_or_edit(engine, ticket_id, None, "It ships tomorrow.", agent="sam")
        text = deliver_one(engine, smtp, ticket_id)
    finally:
        smtp.close()
    assert "It ships tomorrow." in text and "https://help.shop.example/survey/" in text
    assert "/person" not in text, "only AI-resolved replies offer a person"
    links = LINK.findall(text.replace("https://help.shop.example", "http://x"))
    token = links[0][0]
    web = client(engine)
    assert "How did we do?" in web.get(f"/survey/{token}").text
    assert web.post(f"/survey/{token}", data={"csat": "9", "ces": "1"}).status_code == 200
    reused = web.post(f"/survey/{token}", data={"csat": "2", "ces": "5"})
    assert reused.status_code == 409 and "already have your answer" in reused.text
    forged = web.get(f"/survey/{token[:-2]}xx")
    assert forged.status_code == 404 and "not valid" in forged.text
    with engine.session() as session:
        survey = session.exec(select(Survey).where(Survey.token == token)).one()
    assert (survey.ticket_id, survey.csat, survey.ces) == (ticket_id, 9, 1)


def test_an_expired_link_says_so_and_records_nothing(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data", surveys={"expire_days": 7})
    ticket_id = email_ticket(engine)
    approve_or_edit(engine, ticket_id, None, "Done.", agent="sam")
    with engine.transaction() as session:
        message = session.exec(select(Message).where(Message.direction == Direction.OUTBOUND)).one()
        with_links(session, engine.settings, message)
        survey = session.exec(select(Survey)).one()
        survey.sent_at = survey.sent_at - timedelta(days=8)
        session.add(survey)
    web = client(engine)
    assert "has expired" in web.get(f"/survey/{survey.token}").text
    late = web.post(f"/survey/{survey.token}", data={"csat": "9", "ces": "1"})
    assert late.status_code == 410
    with engine.session() as session:
        assert session.exec(select(Survey)).one().answered_at is None


def test_an_ai_resolved_reply_offers_a_person_who_gets_the_ticket_back_as_an_ai_error(tmp_path: Path) -> None:
    smtp = SmtpServer()
    try:
        engine = make_engine(tmp_path / "data", smtp=smtp.settings())
        ticket_id = email_ticket(engine)
        with engine.transaction() as session:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            ticket.status, ticket.outcome, ticket.route = TicketStatus.RESOLVED, Outcome.RESOLVED_BY_AI, "auto_resolve"
            session.add(ticket)
            reply = Message(ticket_id=ticket_id, direction=Direction.OUTBOUND, author=AI_AUTHOR, body="Refunded.")
            session.add(reply)
            session.flush()
            enqueue_reply(session, reply)
        text = deliver_one(engine, smtp, ticket_id)
    finally:
        smtp.close()
    assert "Not right? Ask a person to look at this:" in text
    token = next(t for t, person in LINK.findall(text) if person)
    web = client(engine)
    assert "Ask a person to look at this" in web.get(f"/survey/{token}/person").text
    assert web.post(f"/survey/{token}/person").status_code == 200
    with engine.session() as session:
        ticket = session.get(Ticket, ticket_id)
        reopened = session.exec(select(Feedback).where(Feedback.ticket_id == ticket_id)).one()
    assert ticket is not None and ticket.status == TicketStatus.OPEN and ticket.needs_review
    assert ticket.outcome == Outcome.FAILED, "counted as an AI error on the dashboard"
    assert reopened.kind == "reopen" and "asked for a person" in reopened.reason
