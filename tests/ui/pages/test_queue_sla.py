"""The queue's SLA column: time left in colour, sorting by it, and the supervisors' breach badge in the header."""

from __future__ import annotations

import re
from datetime import timedelta

from nicegui.testing import User
from sqlmodel import col, select

from engine.sla_watch import watch_sla
from engine.store.models import Ticket, utcnow
from tests.ui.conftest import sign_in, wait_for_async
from ui.state import engine


def triaged() -> bool:
    if not engine().ready:
        return False
    with engine().session() as s:
        # triage sets the dues again for the priority it finds, so the test's clocks wait until it is done
        waiting = s.exec(
            select(Ticket.id).where(col(Ticket.first_response_due).is_(None) | col(Ticket.triaged_at).is_(None))
        ).all()
    return not waiting


def set_clock(ticket_id: int, *, created_minutes_ago: float, due_in_minutes: float) -> None:
    """Give an open ticket a first response due (an unanswered one) relative to now."""
    now = utcnow()
    with engine().transaction() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.created_at = now - timedelta(minutes=created_minutes_ago)
        ticket.first_response_due = now + timedelta(minutes=due_in_minutes)
        ticket.resolution_due = now + timedelta(hours=8)
        ticket.first_response_breached = ticket.resolution_breached = None
        ticket.first_response_at, ticket.sla_alerted_at = None, None
        s.add(ticket)


def shown_rows(user: User) -> list[dict]:
    return list(user.find(marker="queue").elements.pop().rows)


async def test_time_left_in_colour_sorted_by_it_and_the_breach_badge(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(triaged, 300, "every demo ticket to be triaged, with its SLA dues")
    with engine().session() as s:
        open_ids = list(s.exec(select(Ticket.id).where(Ticket.status != "resolved").order_by(col(Ticket.id))).all())
    relaxed, tight, late = open_ids[:3]
    for ticket_id in open_ids:  # every other open ticket: due in a day
        set_clock(ticket_id, created_minutes_ago=10, due_in_minutes=24 * 60)
    set_clock(relaxed, created_minutes_ago=10, due_in_minutes=180)
    set_clock(tight, created_minutes_ago=100, due_in_minutes=10)
    set_clock(late, created_minutes_ago=300, due_in_minutes=-125)
    watch_sla(engine())  # the SLA job: records the breach, counts it for the badge
    engine().changed()  # the clocks above were set behind the desk's back: tell the pages, as every write does
    expected = {relaxed: "green", tight: "amber", late: "red"}
    await wait_for_async(
        lambda: {r["id"]: r["sla_colour"] for r in shown_rows(user) if r["id"] in expected} == expected,
        120,
        "the queue to reload",
    )
    rows = {r["id"]: r for r in shown_rows(user)}
    # the minutes move on while a busy machine runs the test
    assert re.fullmatch(r"2 h 5\d m to first response", rows[relaxed]["sla_text"])
    assert re.fullmatch(r"\d m to first response", rows[tight]["sla_text"])
    assert re.fullmatch(r"breached 2 h \d+ m ago", rows[late]["sla_text"])

    user.find(marker="queue-sort").elements.pop().set_value("sla")
    ordered = [r["id"] for r in shown_rows(user)]
    assert ordered[:3] == [late, tight, relaxed]
    lefts = [r["sla_left"] for r in shown_rows(user)]
    assert lefts == sorted(lefts)

    assert engine().sla_breached >= 1
    await user.should_see(marker="sla-breached", retries=20)
    await wait_for_async(
        lambda: any(
            e.text == f"{engine().sla_breached} SLA breached" for e in user.find(marker="sla-breached").elements
        ),
        120,
        "the badge to show the open breached tickets",
    )
    user.find(marker="sla-breached").click()  # the badge opens the queue sorted by time left
    await user.should_see(marker="queue")
    assert user.find(marker="queue-sort").elements.pop().value == "sla"


async def test_agents_see_time_left_but_not_the_supervisors_badge(user: User) -> None:
    await sign_in(user, "agent", "agent-demo")
    await user.open("/")
    await wait_for_async(triaged, 300, "every demo ticket to be triaged, with its SLA dues")
    with engine().session() as s:
        first = s.exec(select(Ticket.id).where(Ticket.status != "resolved").order_by(col(Ticket.id))).first()
    assert first is not None
    set_clock(first, created_minutes_ago=300, due_in_minutes=-60)
    watch_sla(engine())
    engine().changed()
    await wait_for_async(
        lambda: {r["id"]: r["sla_colour"] for r in shown_rows(user)}.get(first) == "red", 20, "the queue to reload"
    )
    await user.should_not_see(marker="sla-breached")
    await user.open(f"/ticket/{first}")  # the ticket page says it too
    await user.should_see("SLA: breached 1 h")
