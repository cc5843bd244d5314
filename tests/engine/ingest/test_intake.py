"""Intake of a batch of messages: the same rows as one message at a time, duplicates skipped, replies threaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from engine.ingest.intake import REOPEN_REASON, InboundMessage, intake, intake_many
from engine.store.db import make_db, session_scope
from engine.store.models import Customer, Feedback, FeedbackKind, Message, Ticket, TicketStatus


def message(text: str, external_id: str | None, handle: str = "@ana", **fields: Any) -> InboundMessage:
    return InboundMessage(
        channel="chat", customer_name="Ana", text=text, customer_handle=handle, external_id=external_id, **fields
    )


def count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_batch_dedupes_threads_and_reuses_customers_within_itself(tmp_path: Path) -> None:
    db = make_db(f"sqlite:///{tmp_path / 'd.db'}")
    with session_scope(db) as session:
        results = intake_many(
            session,
            [
                message("My card was charged twice.", "m1"),
                message("My card was charged twice.", "m1"),  # the same message sent again
                message("Any news on the charge?", "m2", thread_external_id="m1"),
                message("Where is my parcel?", "m3", handle="@bo"),
                message("Also, can I change my address?", "m4"),  # Ana again, a new question
            ],
        )
    first, again, reply, other, fourth = results
    assert first.created_ticket and not first.duplicate
    assert again.duplicate and (again.ticket_id, again.message_id) == (first.ticket_id, first.message_id)
    assert reply.ticket_id == first.ticket_id and not reply.created_ticket and reply.message_id != first.message_id
    assert other.created_ticket and other.ticket_id not in (first.ticket_id, fourth.ticket_id)
    with session_scope(db) as session:
        assert count(session, Ticket) == 3 and count(session, Message) == 4 and count(session, Customer) == 2
        ana = session.get(Ticket, first.ticket_id)
        assert ana is not None and ana.subject == "My card was charged twice."
        assert ana.customer_id == session.get(Ticket, fourth.ticket_id).customer_id  # type: ignore[union-attr]
        bodies = session.exec(select(Message.body).where(Message.ticket_id == first.ticket_id)).all()
        assert bodies == ["My card was charged twice.", "Any news on the charge?"]


def test_a_later_batch_sees_what_an_earlier_one_stored(tmp_path: Path) -> None:
    db = make_db(f"sqlite:///{tmp_path / 'd.db'}")
    with session_scope(db) as session:
        (first,) = intake_many(session, [message("Refund please", "r1", customer_email="ana@example.org")])
    with session_scope(db) as session:
        again, reply, new = intake_many(
            session,
            [
                message("Refund please", "r1"),
                message("Hello?", "r2", thread_external_id="r1"),
                message("Different handle, same e-mail", "r3", handle="@other", customer_email="ana@example.org"),
            ],
        )
        assert again.duplicate and again.message_id == first.message_id
        assert reply.ticket_id == first.ticket_id and not reply.duplicate
        assert new.created_ticket
        assert count(session, Customer) == 1


def test_a_customer_writing_again_reopens_a_resolved_ticket_with_a_reopen_feedback(tmp_path: Path) -> None:
    db = make_db(f"sqlite:///{tmp_path / 'd.db'}")
    with session_scope(db) as session:
        first = intake(session, message("My card was charged twice.", "c1"))
        ticket = session.get(Ticket, first.ticket_id)
        assert ticket is not None
        ticket.status = TicketStatus.RESOLVED
        ticket.triaged_at = ticket.created_at
        session.add(ticket)
    with session_scope(db) as session:
        loaded = session.get(Ticket, first.ticket_id)  # loaded before intake: must not keep the old status
        reply = intake(session, message("It happened again!", "c2", thread_external_id="c1"))
        assert reply.ticket_id == first.ticket_id
        assert loaded is not None and loaded.status == TicketStatus.OPEN and loaded.triaged_at is None
    with session_scope(db) as session:
        feedback = session.exec(select(Feedback).where(col(Feedback.ticket_id) == first.ticket_id)).all()
        assert [(f.kind, f.reason, f.agent) for f in feedback] == [(FeedbackKind.REOPEN, REOPEN_REASON, "")]
        intake(session, message("Still waiting.", "c3", thread_external_id="c1"))  # open already: no second one
    with session_scope(db) as session:
        assert count(session, Feedback) == 1


def test_an_open_ticket_getting_a_reply_writes_no_feedback(tmp_path: Path) -> None:
    db = make_db(f"sqlite:///{tmp_path / 'd.db'}")
    with session_scope(db) as session:
        intake(session, message("Where is my parcel?", "p1"))
        intake(session, message("Hello?", "p2", thread_external_id="p1"))
    with session_scope(db) as session:
        assert count(session, Feedback) == 0
        assert session.exec(select(Ticket.status)).one() == TicketStatus.NEW
