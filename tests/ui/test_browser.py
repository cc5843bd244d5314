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


def drafted_ticket_ids() -> list[int]:
    with engine().session() as s:
        return list(s.exec(select(Draft.ticket_id).join(Ticket).where(col(Ticket.status) != "resolved")))


@pytest.mark.real_models
def test_agent_opens_a_ticket_edits_the_grounded_draft_and_sends_it(screen: Screen, artifacts: Path) -> None:
    sign_in_browser(screen)
    screen.open("/")
    wait_for(lambda: engine().ready, timeout=900, what="the real models to load")
    wait_for(lambda: len(drafted_ticket_ids()) >= 1, timeout=300, what="a first real draft")
    screen.open("/")
    screen.should_contain("Needs review only")
    screen.selenium.save_screenshot(str(artifacts / "queue.png"))

    ticket_id = drafted_ticket_ids()[0]
    screen.open(f"/ticket/{ticket_id}")
    screen.should_contain("AI draft")
    screen.should_contain("Sources")
    editor = screen.find_by_tag("textarea")
    draft_text = editor.get_attribute("value") or ""
    assert "[" in draft_text  # the draft cites a numbered source
    screen.selenium.save_screenshot(str(artifacts / "ticket.png"))
    cite = screen.selenium.find_elements(By.XPATH, "//button[starts-with(normalize-space(.), '[')]")
    assert cite, "the draft check shows a clickable [n] citation"
    cite[0].click()
    close = "//div[contains(@class, 'q-dialog')]//button[normalize-space(.)='Close']"
    wait_for(lambda: bool(screen.selenium.find_elements(By.XPATH, close)), 30, "the source dialog")
    screen.selenium.save_screenshot(str(artifacts / "source.png"))
    screen.selenium.find_element(By.XPATH, close).click()

    editor = screen.find_by_tag("textarea")
    editor.send_keys(Keys.END, "\nBest regards, Ann")
    screen.click("Approve & send")
    wait_for(lambda: "resolved" in screen.selenium.page_source, 60, "the ticket to show as resolved")
    screen.should_contain("Best regards, Ann")  # the sent reply is now part of the conversation
    with engine().session() as s:
        feedback = s.exec(select(Feedback).where(Feedback.ticket_id == ticket_id, Feedback.agent == "supervisor")).one()
        ticket = s.get(Ticket, ticket_id)
    assert feedback.kind == "edit" and feedback.edit_distance == len("\nBest regards, Ann")
    assert feedback.final_text.endswith("Best regards, Ann") and ticket is not None and ticket.status == "resolved"
