"""Survey follow-ups: per channel and for AI-resolved tickets, sent after N hours through the outbox, once."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from engine.bench.servers.mail import SmtpServer
from engine.config import Settings
from engine.desk import approve_or_edit, reopen
from engine.outbox import Courier
from engine.routing.auto_resolve import AI_AUTHOR
from engine.runtime import Engine
from engine.store.models import SURVEY_AUTHOR, Direction, Message, Survey, Ticket
from engine.store.outbox_models import DeliveryState, OutboundReply
from engine.surveys import SurveySettings, send_follow_ups, survey_table, with_links
from tests.engine.outbox.test_outbox import email_ticket, make_engine
from tests.engine.surveys.test_links import client
from tests.waiting import wait_for

FOLLOW_UP = {"base_url": "https://help.shop.example", "channels": {"email": "follow_up"}, "follow_up_hours": 2}
TOKEN = re.compile(r"https://help\.shop\.example/survey/([\w-]+)")


def resolved_at(engine: Engine, ticket_id: int):  # type: ignore[no-untyped-def]
    with engine.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.resolved_at is not None
        return ticket.resolved_at


def outbox(engine: Engine) -> list[OutboundReply]:
    with engine.session() as session:
        return list(session.exec(select(OutboundReply).order_by(OutboundReply.id)))


def test_a_follow_up_goes_out_by_smtp_after_the_delay_exactly_once(tmp_path: Path) -> None:
    smtp = SmtpServer()
    courier: Courier | None = None
    try:
        engine = make_engine(tmp_path / "data", smtp=smtp.settings(), surveys=FOLLOW_UP)
        ticket_id = email_ticket(engine)
        approve_or_edit(engine, ticket_id, None, "It ships tomorrow.", agent="sam")
        courier = Courier(engine.db, lambda: engine.settings, links=with_links)
        courier.start()
        wait_for(lambda: len(smtp.mailbox.messages) == 1, what="the reply")
        (reply,) = smtp.mailbox.parsed()
        assert "/survey/" not in str(reply.get_content()), "the survey comes later, not in the reply"
        done = resolved_at(engine, ticket_id)
        assert send_follow_ups(engine.db, engine.settings, now=done + timedelta(hours=1)) == 0, "not due yet"
        assert send_follow_ups(engine.db, engine.settings, now=done + timedelta(hours=3)) == 1
        assert send_follow_ups(engine.db, engine.settings, now=done + timedelta(hours=4)) == 0, "once per ticket"
        wait_for(lambda: len(smtp.mailbox.messages) == 2, what="the follow-up")
        wait_for(lambda: all(r.state == DeliveryState.SENT for r in outbox(engine)), what="both marked sent")
        follow_up = smtp.mailbox.parsed()[1]
        assert follow_up["To"] == "jorg@example.de" and follow_up["In-Reply-To"] == "<q-1@example.de>"
        (token,) = TOKEN.findall(str(follow_up.get_content()))
        web = client(engine)
        assert web.post(f"/survey/{token}", data={"csat": "8", "ces": "2"}).status_code == 200
        reopen(engine, ticket_id, "the customer phoned", agent="sam")
        approve_or_edit(engine, ticket_id, None, "Fixed for good.", agent="sam")
        later = resolved_at(engine, ticket_id) + timedelta(hours=3)
        assert send_follow_ups(engine.db, engine.settings, now=later) == 0, "never a second survey for the ticket"
    finally:
        if courier is not None:
            courier.stop()
        smtp.close()
    with engine.session() as session:
        surveys = session.exec(select(Survey)).all()
        sent = session.exec(select(Message).where(Message.author == SURVEY_AUTHOR)).all()
    assert [(s.via, s.csat, s.ces) for s in surveys] == [("follow_up", 8, 2)] and len(sent) == 1


def test_an_ai_resolved_reply_keeps_its_ask_a_person_link_and_the_follow_up_carries_the_survey(tmp_path: Path) -> None:
    table = FOLLOW_UP | {"channels": {"email": "off"}, "ai_resolved": "follow_up"}
    engine = make_engine(tmp_path / "data", surveys=table)
    by_agent, by_ai = email_ticket(engine, "<a@x>"), email_ticket(engine, "<b@x>")
    approve_or_edit(engine, by_agent, None, "Done.", agent="sam")
    approve_or_edit(engine, by_ai, None, "Done by the AI.", agent="sam")
    with engine.transaction() as session:
        replies = {m.ticket_id: m for m in session.exec(select(Message).where(Message.direction == Direction.OUTBOUND))}
        replies[by_ai].author = AI_AUTHOR  # as auto-resolve sends it
        texts = {t: with_links(session, engine.settings, m) for t, m in replies.items()}
    assert texts[by_agent] == "Done.", "the channel's survey is off"
    assert "How did we do" not in texts[by_ai] and "Not right? Ask a person" in texts[by_ai]
    person_token = TOKEN.findall(texts[by_ai])[0]
    now = resolved_at(engine, by_ai) + timedelta(hours=3)
    assert send_follow_ups(engine.db, engine.settings, now=now) == 1, "only the AI-resolved ticket"
    with engine.session() as session:
        (message,) = session.exec(select(Message).where(Message.author == SURVEY_AUTHOR)).all()
    assert message.ticket_id == by_ai and TOKEN.findall(message.body) == [person_token]


def test_survey_settings_are_checked_and_old_lists_still_read() -> None:
    with pytest.raises(ValueError, match="one of link, follow_up, off"):
        survey_table({}, channels={"sms": "later"}, ai_resolved="link", hours=2)
    with pytest.raises(ValueError, match="follow-up delay"):
        survey_table({}, channels={"sms": "link"}, ai_resolved="link", hours="soon")
    table = survey_table({"expire_days": 7}, channels={"sms": "follow_up"}, ai_resolved="off", hours=6)
    assert table == {"expire_days": 7, "channels": {"sms": "follow_up"}, "ai_resolved": "off", "follow_up_hours": 6.0}
    old = SurveySettings.of(Settings(surveys={"channels": ["email"], "ai_resolved": False}))
    assert old.channels["email"] == "link" and old.channels["sms"] == "off" and old.ai_resolved == "off"
