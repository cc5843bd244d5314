"""Guidance beside the draft: a step the desk can carry out is a button that runs the action's preview."""

from __future__ import annotations

from dataclasses import asdict

from nicegui.testing import User
from sqlmodel import col, select

from engine.config import DEMO_DATA_DIR
from engine.drafting import steps_of
from engine.knowledge.demo_kb import abcd_documents
from engine.store.audit_models import AuditEntry
from engine.store.models import Draft
from tests.ui.conftest import sign_in, wait_for_async
from tests.ui.pages.test_queue_and_ticket import all_drafted, first_open_ticket
from ui.state import engine


async def test_a_guidance_step_the_desk_can_do_is_a_button_that_previews_the_action(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_drafted, what="drafts")
    ticket = first_open_ticket()
    refund = next(d for d in abcd_documents(DEMO_DATA_DIR / "abcd_guidelines") if d.title == "Initiate Refund")
    steps = steps_of(refund.key, refund.title, refund.text)
    assert "Offer Refund" in steps.actions and "Pull up Account" in steps.actions
    with engine().transaction() as s:  # the case's guidance, as drafting shows it for a refund request
        draft = s.exec(select(Draft).where(Draft.ticket_id == ticket.id)).one()
        draft.guidance = [asdict(steps)]
        s.add(draft)

    await user.open(f"/ticket/{ticket.id}")
    await user.should_see("Steps for this case")
    await user.should_see("Pull up Account")  # done outside the desk: a label, not a button
    assert not [e for e in user.find("Pull up Account").elements if e.tag == "q-btn"]
    user.find(marker="step-action-refund").click()
    result = user.find(marker="action-result").elements.pop()
    await wait_for_async(lambda: result.text.startswith(("Dry run", "Store not available")), 60, "the preview")
    assert user.find(marker="action-choice").elements.pop().value == "refund"
    with engine().session() as s:
        kinds = ("action_preview", "action_preview_failed")
        previews = s.exec(select(AuditEntry).where(col(AuditEntry.action).in_(kinds)))
        assert [(p.subject, p.details["action"]) for p in previews] == [(f"ticket:{ticket.id}", "refund")]
    assert "Dry run: would" in result.text, result.text  # the demo shop answers on loopback
