"""The queue and ticket pages, driven through NiceGUI's simulated user with the fast fake models."""

from __future__ import annotations

import pyotp
from nicegui.testing import User
from sqlmodel import col, select

from engine.routing.actions.runner import EXECUTED
from engine.routing.policy import POLICY_AUDIT
from engine.store.account_models import User as StaffUser
from engine.store.audit_models import AuditEntry
from engine.store.models import Direction, Draft, Feedback, Message, Ticket
from tests.ui.conftest import sign_in, wait_for_async
from ui.state import engine


def all_drafted() -> bool:
    if not engine().ready:
        return False
    with engine().session() as s:
        open_ids = s.exec(select(Ticket.id).where(col(Ticket.status) != "resolved")).all()
        drafted = set(s.exec(select(Draft.ticket_id)).all())
    return bool(open_ids) and set(open_ids) <= drafted


def first_open_ticket() -> Ticket:
    with engine().session() as s:
        ticket = s.exec(
            select(Ticket)
            .where(col(Ticket.status) != "resolved", col(Ticket.gold_intent).is_not(None))
            .order_by(col(Ticket.id))
        ).first()
    assert ticket is not None
    return ticket


async def test_queue_lists_triaged_tickets_and_filters_them(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_drafted, what="the demo queue to be triaged and drafted")
    ticket = first_open_ticket()
    await user.should_see(marker="queue")
    table = user.find(marker="queue").elements.pop()
    await wait_for_async(lambda: bool(table.rows) and all(r["intent"] for r in table.rows), 30, "the queue to refresh")
    rows = table.rows
    assert ticket.id in {r["id"] for r in rows}
    known = [r for r in rows if r["intent"] != "unknown"]
    assert known and all(0.0 <= r["confidence"] <= 1.0 for r in known)
    assert all(r["confidence"] is None for r in rows if r["intent"] == "unknown")  # no bar for a rejected guess
    user.find(marker="channel-filter").elements.pop().set_value("sms")
    assert {r["channel"] for r in user.find(marker="queue").elements.pop().rows} == {"sms"}


async def test_ticket_page_shows_the_drafts_basis_and_records_an_edit(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_drafted, what="drafts")
    ticket = first_open_ticket()
    await user.open(f"/ticket/{ticket.id}")
    await user.should_see(marker="intent")
    await user.should_see(marker="draft-basis")
    with engine().session() as s:
        draft = s.exec(select(Draft).where(Draft.ticket_id == ticket.id)).one()
    assert draft.basis in {"past_reply", "holding"}  # the demo knowledge base is internal guidance: never quoted
    if draft.basis == "past_reply":
        await user.should_see(f"#{draft.based_on}")
    editor = user.find(marker="draft").elements.pop()
    editor.set_value(editor.value + "\nKind regards, Ann")
    for number in range(1, len(draft.fields) + 1):  # Send waits until every field is filled
        user.find(marker=f"field-{number}").elements.pop().set_value(f"value {number}")
    user.find(marker="approve").click()
    await user.should_see("Edited", retries=20)
    with engine().session() as s:
        feedback = s.exec(select(Feedback).where(Feedback.ticket_id == ticket.id, Feedback.agent == "supervisor")).one()
        assert feedback.kind == "edit" and feedback.edit_distance == len("\nKind regards, Ann")
        assert "[[" not in feedback.final_text
        assert s.get(Ticket, ticket.id).status == "resolved"  # type: ignore[union-attr]


async def test_changing_the_intent_stores_a_correction(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_drafted, what="drafts")
    ticket = first_open_ticket()
    await user.open(f"/ticket/{ticket.id}")
    picker = user.find(marker="intent-picker").elements.pop()
    new_intent = next(label for label in picker.options if label != ticket.intent)
    picker.set_value(new_intent)
    user.find(marker="override").click()
    await user.should_see("stored as a correction")
    with engine().session() as s:
        feedback = s.exec(
            select(Feedback).where(Feedback.kind == "override_intent", Feedback.agent == "supervisor")
        ).one()
    assert (feedback.ticket_id, feedback.old_intent, feedback.new_intent) == (ticket.id, ticket.intent, new_intent)


async def test_unknown_ticket_says_so(user: User) -> None:
    await sign_in(user)
    await user.open("/ticket/999999")
    await user.should_see("Ticket 999999 does not exist.")


def resolved_ticket() -> Ticket:
    with engine().session() as s:
        ticket = s.exec(select(Ticket).where(Ticket.status == "resolved").order_by(col(Ticket.id))).first()
    assert ticket is not None
    return ticket


def audit_rows(action: str) -> list[AuditEntry]:
    with engine().session() as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action)))


async def test_reopening_a_resolved_ticket_asks_why_and_puts_it_back_in_the_queue(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(lambda: engine().ready, what="the models")
    ticket = resolved_ticket()
    await user.open(f"/ticket/{ticket.id}")
    user.find(marker="reopen").click()
    user.find(marker="confirm-reopen").click()
    await user.should_see("say why the ticket is reopened")
    user.find(marker="reopen-reason").type("the refund never arrived")
    user.find(marker="confirm-reopen").click()
    await user.should_see("back in the queue")
    with engine().session() as s:
        assert s.get(Ticket, ticket.id).status == "open"  # type: ignore[union-attr]
        feedback = s.exec(select(Feedback).where(Feedback.ticket_id == ticket.id, Feedback.kind == "reopen")).one()
    assert (feedback.reason, feedback.agent) == ("the refund never arrived", "supervisor")
    assert [row.subject for row in audit_rows("ticket_reopened")] == [f"ticket:{ticket.id}"]


async def test_personal_data_stays_hidden_until_an_agent_reveals_it_and_the_reveal_is_audited(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(lambda: engine().ready, what="the models")
    ticket = first_open_ticket()
    with engine().transaction() as s:
        message = Message(
            ticket_id=ticket.id or 0,
            direction=Direction.INBOUND,
            author="Customer",
            body="Please write to jane.roe@example.org or call +44 20 7946 0958 instead. Regards, Klaas Hermann",
        )
        s.add(message)
        s.flush()
        message_id = message.id
    await user.open(f"/ticket/{ticket.id}")
    await user.should_see("Please write to [EMAIL_1] or call [PHONE_1] instead. Regards, [NAME_1]")
    await user.should_not_see("jane.roe@example.org")
    await user.should_not_see("Klaas Hermann")
    assert audit_rows("reveal_pii") == []
    user.find(marker=f"reveal-{message_id}").click()
    revealed = "Please write to jane.roe@example.org or call +44 20 7946 0958 instead. Regards, Klaas Hermann"
    await user.should_see(revealed, retries=100)  # the reveal redacts the original again for the audit row (NER)
    [row] = audit_rows("reveal_pii")
    kinds = ["EMAIL", "NAME", "PHONE"]
    assert (row.actor, row.subject, row.details["kinds"]) == ("supervisor", f"ticket:{ticket.id}", kinds)


async def test_a_sensitive_action_runs_only_with_a_fresh_authenticator_code(user: User) -> None:
    await sign_in(user)  # a supervisor: may approve sensitive actions, with a second factor
    await user.open("/")
    await wait_for_async(lambda: engine().ready, what="the models")
    ticket = first_open_ticket()
    await user.open(f"/ticket/{ticket.id}")
    user.find(marker="action-choice").elements.pop().set_value("password_reset")
    user.find(marker="action-execute").click()
    await user.should_see(marker="step-up-code", retries=50)
    user.find(marker="confirm").click()
    await user.should_see("set up an authenticator app first", retries=50)  # no second factor yet: nothing runs

    secret = pyotp.random_base32()
    with engine().transaction() as s:
        s.exec(select(StaffUser).where(StaffUser.username == "supervisor")).one().totp_secret = secret
    user.find(marker="step-up-code").type("000000")
    user.find(marker="confirm").click()
    await wait_for_async(lambda: bool(audit_rows("step_up_failed")), 30, "the refused code")
    await user.should_see("That code is not valid")
    assert audit_rows(EXECUTED) == []

    code = user.find(marker="step-up-code").elements.pop()
    code.set_value(pyotp.TOTP(secret).now())
    user.find(marker="confirm").click()
    await wait_for_async(lambda: bool(audit_rows("step_up")), 30, "the step-up")
    assert audit_rows("step_up")[0].details == {"for": "action:password_reset"}
    await wait_for_async(lambda: bool(user.find(marker="action-result").elements.pop().text), 30, "the result")


async def test_a_supervisor_changes_the_routing_policy_and_the_change_is_audited(user: User) -> None:
    await sign_in(user)
    await user.open("/settings")
    await user.should_see(marker="routing-settings")
    user.find(marker="policy-refund-limit").elements.pop().set_value(25)
    user.find(marker="policy-auto_threshold").elements.pop().set_value(0.97)
    user.find(marker="save-routing").click()
    await user.should_see("Routing policy saved")
    assert engine().routing.policy.refund_approval_limit == 25.0
    [change] = audit_rows(POLICY_AUDIT)
    assert change.actor == "supervisor"
    assert change.details["refund_approval_limit"]["to"] == 25.0 and change.details["auto_threshold"]["to"] == 0.97

    user.find(marker="policy-review_threshold").elements.pop().set_value(0.99)  # above the auto-resolve threshold
    user.find(marker="save-routing").click()
    await user.should_see("cannot be above the auto-resolve threshold")
    assert engine().routing.policy.review_threshold != 0.99
