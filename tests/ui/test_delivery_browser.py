"""Headless Chromium: an agent approves a reply and the test's own SMTP server on loopback receives it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from sqlmodel import col, select

from engine.bench.servers.mail import SmtpServer
from engine.store.models import Customer, Ticket
from tests.ui.conftest import sign_in_browser, wait_for
from ui.state import engine


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A real SMTP server, named in the caredesk.toml the app reads."""
    server = SmtpServer()
    config = tmp_path / "caredesk.toml"
    config.write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nfrom = "help@shop.example"\ndomain = "shop.example"\n'
        "[outbox]\npoll_seconds = 0.1\n"
    )
    monkeypatch.setenv("CAREDESK_CONFIG", str(config))
    yield server
    server.close()


def open_email_ticket() -> tuple[int, str]:
    with engine().session() as s:
        ticket, email = s.exec(
            select(Ticket, Customer.email)
            .join(Customer, col(Customer.id) == col(Ticket.customer_id))
            .where(Ticket.channel == "email", col(Ticket.status) != "resolved", col(Customer.email).is_not(None))
            .order_by(col(Ticket.id))
        ).first() or (None, None)
    assert ticket is not None and ticket.id is not None and email
    return ticket.id, email


def test_an_approved_reply_reaches_the_customer_by_smtp_and_the_page_says_sent(
    smtp: SmtpServer, screen: Screen, artifacts: Path
) -> None:
    sign_in_browser(screen)
    ticket_id, address = open_email_ticket()
    screen.open(f"/ticket/{ticket_id}")
    screen.should_contain("Approve & send")
    editor = screen.find_by_tag("textarea")
    editor.clear()
    editor.send_keys("Your parcel left our warehouse today. Best regards, Ann")
    screen.click("Approve & send")
    wait_for(lambda: len(smtp.mailbox.messages) == 1, 30, "the SMTP server to receive the reply")
    (sent,) = smtp.mailbox.parsed()
    assert sent["To"] == address and sent["From"] == "help@shop.example"
    assert "Your parcel left our warehouse today." in sent.get_content()
    assert str(sent["Message-ID"]).startswith(f"<caredesk.{ticket_id}.")
    chip = "//*[contains(@class, 'q-chip') and contains(., 'Sent')]"
    wait_for(lambda: bool(screen.selenium.find_elements(By.XPATH, chip)), 30, "the page to say Sent")
    screen.selenium.save_screenshot(str(artifacts / "reply-sent.png"))
    with engine().session() as s:
        ticket = s.get(Ticket, ticket_id)
    assert ticket is not None and (ticket.handle_seconds or 0) > 0, "the time on the page counts as handle time"
