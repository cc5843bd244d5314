"""What the agent does with a draft is stored as feedback with the edit distance."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from engine.feedback.capture import FeedbackError, edit_distance, override_intent, reject_draft, send_reply
from engine.feedback.reopen import reopen_ticket
from engine.ingest.intake import InboundMessage, intake
from engine.store.models import Draft, Feedback, Message, Ticket


@pytest.fixture
def drafted(session: Session) -> tuple[int, int]:
    result = intake(session, InboundMessage(channel="email", customer_name="Bo", text="How do I return a jacket?"))
    ticket = session.get(Ticket, result.ticket_id)
    assert ticket is not None
    ticket.intent = "get_refund"
    draft = Draft(ticket_id=result.ticket_id, text="Hi Bo, you can return it within 30 days [1].")
    session.add(draft)
    session.flush()
    assert draft.id is not None
    return result.ticket_id, draft.id


def test_edit_distance_counts_character_edits() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("same", "same") == 0
    assert edit_distance("", "abc") == 3


def test_unchanged_draft_is_an_approval_and_resolves(session: Session, drafted: tuple[int, int]) -> None:
    ticket_id, draft_id = drafted
    feedback = send_reply(
        session,
        ticket_id=ticket_id,
        draft_id=draft_id,
        text="Hi Bo, you can return it within 30 days [1].",
        agent="ann",
    )
    assert feedback.kind == "approve" and feedback.edit_distance == 0
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.status == "resolved"
    sent = session.exec(select(Message).where(Message.ticket_id == ticket_id, Message.direction == "outbound")).all()
    assert [m.body for m in sent] == ["Hi Bo, you can return it within 30 days [1]."]


def test_edited_reply_records_distance_and_a_double_send_is_refused(session: Session, drafted: tuple[int, int]) -> None:
    ticket_id, draft_id = drafted
    feedback = send_reply(
        session, ticket_id=ticket_id, draft_id=draft_id, text="Hi Bo, returns are free for 30 days [1].", agent="ann"
    )
    assert feedback.kind == "edit" and feedback.edit_distance > 0 and feedback.old_intent == "get_refund"
    with pytest.raises(FeedbackError, match="already sent"):
        send_reply(
            session,
            ticket_id=ticket_id,
            draft_id=draft_id,
            text="Hi Bo, returns are free for 30 days [1].",
            agent="ann",
        )


def test_reject_needs_a_reason_and_override_stores_a_correction(session: Session, drafted: tuple[int, int]) -> None:
    ticket_id, draft_id = drafted
    with pytest.raises(FeedbackError):
        reject_draft(session, ticket_id=ticket_id, draft_id=draft_id, reason="  ", agent="ann")
    assert (
        reject_draft(session, ticket_id=ticket_id, draft_id=draft_id, reason="wrong policy", agent="ann").kind
        == "reject"
    )
    correction = override_intent(session, ticket_id=ticket_id, new_intent="check_refund_policy", agent="ann")
    assert (correction.old_intent, correction.new_intent) == ("get_refund", "check_refund_policy")
    assert session.exec(select(Feedback).where(Feedback.kind == "override_intent")).one().ticket_id == ticket_id


def test_only_a_resolved_ticket_reopens_and_the_reopen_is_stored_with_its_reason(
    session: Session, drafted: tuple[int, int]
) -> None:
    ticket_id, draft_id = drafted
    with pytest.raises(FeedbackError, match="only a resolved ticket"):
        reopen_ticket(session, ticket_id=ticket_id, reason="not fixed", agent="ann")
    send_reply(session, ticket_id=ticket_id, draft_id=draft_id, text="Hi Bo, returns are free [1].", agent="ann")
    with pytest.raises(FeedbackError, match="say why"):
        reopen_ticket(session, ticket_id=ticket_id, reason="  ", agent="ann")
    feedback = reopen_ticket(session, ticket_id=ticket_id, reason="the label never came", agent="ann")
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.status == "open" and ticket.resolved_at is None
    assert (feedback.kind, feedback.reason, feedback.old_intent) == ("reopen", "the label never came", "get_refund")
