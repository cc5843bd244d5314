"""Admins set the SLA policy on the Settings page: bad values are refused with a reason, good ones apply to the next
ticket that arrives and are audited; supervisors do not see the card."""

from __future__ import annotations

from datetime import timedelta

from nicegui.testing import User
from sqlmodel import select

from engine.ingest.webhook import store_message
from engine.ingest.webhook_schema import MessageIn
from engine.store.audit_models import AuditEntry
from engine.store.models import Ticket
from tests.ui.conftest import sign_in
from tests.ui.pages.test_admin_webhook_source import sign_in_admin
from ui.state import engine


async def test_an_admin_sets_the_sla_policy_and_the_next_ticket_follows_it(user: User) -> None:
    await sign_in_admin(user)
    await user.open("/settings")
    await user.should_see(marker="sla-settings")
    user.find(marker="sla-timezone").elements.pop().set_value("Mars/Olympus")
    user.find(marker="save-sla").click()
    await user.should_see("Not saved: unknown timezone 'Mars/Olympus'")
    assert engine().settings.sla == {}  # nothing changed

    for name, value in (("timezone", "Europe/Berlin"), ("days", "mon-sun"), ("open", "00:00"), ("close", "24:00")):
        user.find(marker=f"sla-{name}").elements.pop().set_value(value)
    user.find(marker="sla-chat-normal-first-response").elements.pop().set_value(7)
    user.find(marker="save-sla").click()
    await user.should_see("SLA policy saved (mon-sun 00:00-24:00 Europe/Berlin)")
    assert engine().settings.sla["targets"]["chat"]["normal"]["first_response"] == 7
    with engine().session() as s:
        audit = s.exec(select(AuditEntry).where(AuditEntry.subject == "setting:sla")).one()
    assert audit.actor == "admin"

    message = MessageIn(channel="chat", external_id="sla-1", customer_handle="@new", text="Where is my parcel?")
    with engine().transaction() as s:
        result, _ = store_message(s, engine().settings, "demo", message)
    with engine().session() as s:
        ticket = s.get(Ticket, result.ticket_id)
    assert ticket is not None and ticket.sla_policy == "chat/normal"
    assert ticket.first_response_due is not None
    assert ticket.first_response_due - ticket.created_at == timedelta(minutes=7)


async def test_supervisors_do_not_see_the_sla_card(user: User) -> None:
    await sign_in(user)
    await user.open("/settings")
    await user.should_see(marker="routing-settings")
    await user.should_not_see(marker="sla-settings")
