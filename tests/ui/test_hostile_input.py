"""Ticket text with HTML and JavaScript is shown as text in a real browser, never executed."""

from __future__ import annotations

from nicegui.testing import Screen

from engine.ingest.intake import InboundMessage, intake
from tests.ui.conftest import sign_in_browser, wait_for
from ui.state import engine

PAYLOAD = (
    'Hi <script>window.__caredesk_pwned = "script"</script> my order '
    "<img src=x onerror=\"window.__caredesk_pwned = 'onerror'\"> is late. "
    "[click me](javascript:alert(1)) " + "x" * 3000
)


def test_script_and_onerror_in_a_ticket_do_not_run(screen: Screen) -> None:
    sign_in_browser(screen)
    with engine().transaction() as session:
        ticket_id = intake(
            session, InboundMessage(channel="chat", customer_name="Mallory", text=PAYLOAD, external_id="hostile-1")
        ).ticket_id
    screen.open("/")
    screen.find_by_tag("input").send_keys("Mallory")  # the queue's search box
    wait_for(lambda: "Mallory" in screen.selenium.page_source, 30, "the queue to show the hostile ticket")
    assert screen.selenium.execute_script("return window.__caredesk_pwned === undefined")
    screen.open(f"/ticket/{ticket_id}")
    wait_for(lambda: "Mallory" in screen.selenium.page_source, 30, "the ticket page")
    assert screen.selenium.execute_script("return window.__caredesk_pwned === undefined")
    screen.should_contain("<script>")  # shown literally, as the customer typed it
    assert not screen.selenium.find_elements("css selector", "img[src='x']")
