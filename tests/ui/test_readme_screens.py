"""The README's screenshots, taken from the real app with the real models once the demo queue is triaged, routed and
drafted; on the way, what the screens say is checked against the data (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from sqlmodel import col, select

from engine.store.models import Draft, Ticket, TicketStatus
from tests.ui.conftest import sign_in_browser, wait_for
from ui.state import engine


def open_tickets() -> list[Ticket]:
    with engine().session() as s:
        return list(s.exec(select(Ticket).where(col(Ticket.status) != TicketStatus.RESOLVED)))


def all_drafted() -> bool:
    if not engine().ready:
        return False
    with engine().session() as s:
        drafted = set(s.exec(select(Draft.ticket_id)))
    tickets = open_tickets()
    return bool(tickets) and all(t.route is not None and t.id in drafted for t in tickets)


def showcase_ticket() -> int:
    """An open ticket with a known intent and a draft from a past reply; an uncertain one first, to show its reason."""
    with engine().session() as s:
        rows = s.exec(
            select(Ticket, Draft.basis)
            .join(Draft, col(Draft.ticket_id) == col(Ticket.id))
            .where(col(Ticket.status) != TicketStatus.RESOLVED, col(Ticket.intent) != "unknown")
        ).all()
    ranked = sorted(rows, key=lambda r: (r[1] != "past_reply", not r[0].needs_review, r[0].id))
    return ranked[0][0].id or 0


@pytest.fixture
def fuller_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enough resolved demo history that the confidence line has checked tickets to speak of."""
    monkeypatch.setenv("CAREDESK_DEMO_TICKET_COUNT", "40")


@pytest.mark.real_models
def test_readme_screens_show_review_reasons_no_bar_for_unknown_and_calibration(
    fuller_demo: None, screen: Screen, artifacts: Path
) -> None:
    sign_in_browser(screen)
    wait_for(lambda: engine().ready, timeout=900, what="the real models to load")
    wait_for(all_drafted, timeout=600, what="the demo queue to be triaged, routed and drafted")
    screen.open("/")
    tickets = open_tickets()
    wait_for(lambda: all(t.subject[:20] in screen.selenium.page_source for t in tickets[:5]), 60, "the queue")
    rows = screen.selenium.find_elements(By.CSS_SELECTOR, ".cd-queue tbody tr")
    checked = 0
    for ticket in tickets:
        row = next((r for r in rows if ticket.subject[:20] in r.text), None)
        if row is None:
            continue
        checked += 1
        flag = row.find_elements(By.XPATH, ".//div[contains(@class,'q-badge')][normalize-space(.)='review']")
        assert bool(flag) == ticket.needs_review == bool(ticket.review_reason)
        if ticket.needs_review:
            assert ticket.review_reason in row.text  # the reason in words next to the flag
        if ticket.intent == "unknown":
            assert "no intent fits" in row.text and "%" not in row.text  # no confidence for a rejected guess
    assert checked >= 5
    screen.selenium.save_screenshot(str(artifacts / "readme-queue.png"))

    ticket_id = showcase_ticket()
    screen.open(f"/ticket/{ticket_id}")
    wait_for(lambda: "past tickets" in screen.selenium.page_source, 30, "the calibration line")
    screen.should_contain("Routing")
    screen.selenium.save_screenshot(str(artifacts / "readme-ticket.png"))
