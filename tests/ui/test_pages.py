"""The queue and ticket pages, driven through NiceGUI's simulated user with the fast fake models."""

from __future__ import annotations

import re

from nicegui.testing import User
from sqlmodel import col, select

from engine.store.models import Draft, Feedback, Ticket
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
    assert all(0.0 <= r["confidence"] <= 1.0 for r in rows)
    user.find(marker="channel-filter").elements.pop().set_value("sms")
    assert {r["channel"] for r in user.find(marker="queue").elements.pop().rows} == {"sms"}


async def test_ticket_page_shows_draft_and_sources_and_records_an_edit(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_drafted, what="drafts")
    ticket = first_open_ticket()
    await user.open(f"/ticket/{ticket.id}")
    await user.should_see(marker="intent")
    await user.should_see(marker="sources")
    editor = user.find(marker="draft").elements.pop()
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", editor.value)}
    with engine().session() as s:
        draft = s.exec(select(Draft).where(Draft.ticket_id == ticket.id)).one()
    assert cited and cited <= {source["n"] for source in draft.sources}  # every citation points at a shown source
    editor.set_value(editor.value + "\nKind regards, Ann")
    user.find(marker="approve").click()
    await user.should_see("Edited", retries=20)
    with engine().session() as s:
        feedback = s.exec(select(Feedback).where(Feedback.ticket_id == ticket.id, Feedback.agent == "supervisor")).one()
        assert feedback.kind == "edit" and feedback.edit_distance == len("\nKind regards, Ann")
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
