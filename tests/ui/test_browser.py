"""Real headless Chromium against the real app with the real embedding and GGUF models."""

from __future__ import annotations

from pathlib import Path

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlmodel import col, select

from engine.store.models import Draft, Feedback, Ticket
from tests.ui.conftest import sign_in_browser, wait_for
from ui.state import engine


def best_drafted_ticket() -> int:
    """A drafted open ticket, one drafted from a past reply when there is one."""
    with engine().session() as s:
        rows = s.exec(select(Draft.ticket_id, Draft.basis).join(Ticket).where(col(Ticket.status) != "resolved")).all()
    return next((t for t, basis in rows if basis == "past_reply"), rows[0][0])


def drafted_ticket_ids() -> list[int]:
    with engine().session() as s:
        return list(s.exec(select(Draft.ticket_id).join(Ticket).where(col(Ticket.status) != "resolved")))


@pytest.mark.real_models
def test_agent_opens_a_ticket_edits_the_draft_from_a_past_reply_and_sends_it(screen: Screen, artifacts: Path) -> None:
    sign_in_browser(screen)
    screen.open("/")
    wait_for(lambda: engine().ready, timeout=900, what="the real models to load")
    wait_for(lambda: len(drafted_ticket_ids()) >= 1, timeout=300, what="a first real draft")
    screen.open("/")
    screen.should_contain("Needs review only")
    screen.selenium.save_screenshot(str(artifacts / "queue.png"))

    ticket_id = best_drafted_ticket()
    screen.open(f"/ticket/{ticket_id}")
    screen.should_contain("AI draft")
    with engine().session() as s:
        draft = s.exec(select(Draft).where(Draft.ticket_id == ticket_id).order_by(col(Draft.id).desc())).first()
    assert draft is not None
    if draft.basis == "past_reply":  # the panel says which past reply the draft starts from, linked
        screen.should_contain("Based on the reply to")
        screen.should_contain(f"#{draft.based_on}")
    else:
        screen.should_contain("Holding reply")
    if draft.guidance:  # the demo manual is internal guidance: shown beside the draft, never in it
        screen.should_contain("Steps for this case")
    editor = screen.find_by_tag("textarea")
    assert "{{" not in (editor.get_attribute("value") or "")
    screen.selenium.save_screenshot(str(artifacts / "ticket.png"))
    for name in draft.fields:  # Send stays disabled until each field is filled
        screen.selenium.find_element(By.XPATH, f"//input[@aria-label='{name}']").send_keys("filled in")

    editor = screen.find_by_tag("textarea")
    editor.send_keys(Keys.END, "\nThank you for your patience.")
    screen.click("Approve & send")
    wait_for(lambda: "resolved" in screen.selenium.page_source, 60, "the ticket to show as resolved")
    screen.should_contain("Thank you for your patience.")  # the sent reply is now part of the conversation
    with engine().session() as s:
        feedback = s.exec(select(Feedback).where(Feedback.ticket_id == ticket_id, Feedback.agent == "supervisor")).one()
        ticket = s.get(Ticket, ticket_id)
    assert feedback.kind == "edit" and feedback.edit_distance == len("\nThank you for your patience.")
    assert (
        feedback.final_text.endswith("Thank you for your patience.")
        and ticket is not None
        and ticket.status == "resolved"
    )
