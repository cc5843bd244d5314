"""Issue 19 in a real browser (headless Chromium, fake models): what the agent sees on the queue and ticket pages."""

from __future__ import annotations

from pathlib import Path

from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from sqlmodel import col, select

from engine.store.models import Outcome, Ticket, TicketStatus
from tests.ui.conftest import sign_in_browser, wait_for
from tests.ui.test_screens_say_what_they_mean import all_triaged, make_unknown, open_ticket
from ui.state import engine


def queue_row(screen: Screen, subject: str) -> str:
    """The text of the queue row whose subject starts like `subject` ('' while it is not shown)."""
    for row in screen.selenium.find_elements(By.CSS_SELECTOR, ".cd-queue tbody tr"):
        if subject[:20] in row.text:
            return str(row.text)
    return ""


def test_unknown_shows_no_confidence_bar_and_every_review_flag_says_why(screen: Screen, artifacts: Path) -> None:
    sign_in_browser(screen)
    wait_for(all_triaged, what="the demo queue to be triaged and routed")
    unknown = open_ticket()
    make_unknown(unknown.id or 0)
    with engine().session() as s:
        flagged = s.exec(
            select(Ticket).where(
                col(Ticket.needs_review), col(Ticket.intent) != "unknown", col(Ticket.status) != TicketStatus.RESOLVED
            )
        ).first()
    screen.open("/")
    wait_for(lambda: "no intent fits" in queue_row(screen, unknown.subject), 30, "the unknown row")
    rows = screen.selenium.find_elements(By.CSS_SELECTOR, ".cd-queue tbody tr")
    row = next(r for r in rows if unknown.subject[:20] in r.text)
    assert not row.find_elements(By.CSS_SELECTOR, ".q-linear-progress")  # no bar for the rejected guess
    assert "%" not in row.text and "the message is unlike past tickets" in row.text
    if flagged is not None:
        assert flagged.review_reason in queue_row(screen, flagged.subject)
    screen.selenium.save_screenshot(str(artifacts / "queue-review-reasons.png"))

    screen.open(f"/ticket/{unknown.id}")
    screen.should_contain("No known intent fits")
    screen.should_contain("the message is unlike past tickets")
    triage = screen.selenium.find_element(By.XPATH, "//div[contains(@class,'cd-card')][.//div[text()='Triage']]")
    assert "%" not in triage.text  # neither the rejected guess's 99 % nor any alternative's share
    screen.selenium.save_screenshot(str(artifacts / "ticket-unknown.png"))


def test_a_resolved_ticket_has_no_enabled_send_button_and_offers_reopen(screen: Screen, artifacts: Path) -> None:
    sign_in_browser(screen)
    wait_for(all_triaged, what="the demo queue to be triaged and routed")
    with engine().session() as s:
        ticket = s.exec(
            select(Ticket).where(Ticket.status == TicketStatus.RESOLVED, Ticket.outcome == Outcome.RESOLVED_BY_AI)
        ).first()
    assert ticket is not None
    screen.open(f"/ticket/{ticket.id}")
    screen.should_contain("Reply sent by")
    assert "Drafting" not in screen.selenium.find_element(By.TAG_NAME, "body").text
    assert not screen.selenium.find_elements(By.TAG_NAME, "textarea")  # no reply editor
    labels = [b.text.strip().lower() for b in screen.selenium.find_elements(By.TAG_NAME, "button") if b.is_enabled()]
    assert not [t for t in labels if "send" in t or "approve" in t or t == "reject" or "execute" in t]
    assert any("reopen" in t for t in labels)
    routing = "//div[contains(@class,'cd-card')][.//div[text()='Routing']]//div[contains(@class,'q-badge')]"
    badges = [b.text for b in screen.selenium.find_elements(By.XPATH, routing)]
    assert len(badges) == 1 and badges[0].startswith("Resolved")  # one state badge, no second "resolved by ai"
    screen.selenium.save_screenshot(str(artifacts / "ticket-resolved.png"))
