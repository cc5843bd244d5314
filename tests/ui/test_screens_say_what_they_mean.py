"""Issue 19: what the queue and ticket pages tell an agent (confidence, review flag, alternatives, resolved tickets,
one state badge, risk factors, calibration) is true and does not contradict itself. Simulated user, fake models."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User
from sqlmodel import col, select

from engine.kpi import Calibration, all_time, dashboard
from engine.review import UNLIKE_PAST
from engine.store.models import Customer, Feedback, Outcome, Route, Ticket, TicketStatus, TriageResult
from tests.ui.conftest import sign_in, wait_for_async
from ui.state import engine


def all_triaged() -> bool:
    if not engine().ready:
        return False
    with engine().session() as s:
        return not s.exec(select(Ticket.id).where(col(Ticket.triaged_at).is_(None))).first() and bool(
            s.exec(select(Ticket.route).where(col(Ticket.route).is_not(None))).first()
        )


def open_ticket(*, flagged: bool | None = None, intent_known: bool = True) -> Ticket:
    with engine().session() as s:
        query = select(Ticket).where(col(Ticket.status) != TicketStatus.RESOLVED, col(Ticket.triaged_at).is_not(None))
        if flagged is not None:
            query = query.where(col(Ticket.needs_review) == flagged)
        if intent_known:
            query = query.where(col(Ticket.intent) != "unknown")
        ticket = s.exec(query.order_by(col(Ticket.id))).first()
    assert ticket is not None
    return ticket


def texts(user: User, marker: str) -> list[str]:
    return [e.text for e in user.find(kind=ui.label, marker=marker).elements]


def make_unknown(ticket_id: int) -> None:
    """Store what triage stores for a message unlike any training example: a confident guess, rejected."""
    with engine().transaction() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.intent, ticket.intent_confidence = "unknown", 0.99
        ticket.needs_review, ticket.review_reason = True, UNLIKE_PAST
        s.add(ticket)
        latest = s.exec(
            select(TriageResult).where(TriageResult.ticket_id == ticket_id).order_by(col(TriageResult.id).desc())
        ).first()
        assert latest is not None
        latest.intent, latest.confidence, latest.is_unknown = "unknown", 0.99, True
        latest.alternatives = [{"label": "payment_issue", "p": 0.99}, {"label": "create_account", "p": 0.004}]
        s.add(latest)
    engine().changed()


async def test_an_unknown_ticket_shows_no_confidence_for_the_rejected_guess(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_triaged, what="the demo queue to be triaged and routed")
    ticket = open_ticket()
    make_unknown(ticket.id or 0)
    await user.open("/")
    table = user.find(marker="queue").elements.pop()
    await wait_for_async(lambda: any(r["id"] == ticket.id for r in table.rows), 30, "the queue")
    row = next(r for r in table.rows if r["id"] == ticket.id)
    assert row["intent"] == "unknown" and row["confidence"] is None  # the slot then says "no intent fits", no bar
    await user.open(f"/ticket/{ticket.id}")
    await user.should_see("No known intent fits")
    await user.should_not_see(marker="confidence")
    assert texts(user, "closest-intent") == ["Closest known intent, not trusted: “payment_issue”"]
    assert texts(user, "review-reason") == [UNLIKE_PAST]
    assert not any("99" in t for t in texts(user, "closest-intent"))


async def test_the_review_flag_means_an_uncertain_intent_and_says_why(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_triaged, what="the demo queue to be triaged and routed")
    threshold = engine().settings.review_threshold
    with engine().session() as s:
        open_rows = s.exec(select(Ticket).where(col(Ticket.status) != TicketStatus.RESOLVED)).all()
    sure = [t for t in open_rows if not t.needs_review]
    handled_by_people = [t for t in sure if t.route != Route.AUTO_RESOLVE]
    assert handled_by_people, "some tickets go to a person although their intent is certain"
    for t in open_rows:  # the flag follows the intent's certainty, never the route
        assert t.needs_review == bool(t.review_reason)
        if t.needs_review and t.intent != "unknown" and "disagree" not in t.review_reason:
            assert (t.intent_confidence or 0) < threshold
    await user.open("/")
    await user.should_see(marker="count-needs-review")
    expected = str(sum(t.needs_review and t.intent is not None for t in open_rows))
    await wait_for_async(lambda: texts(user, "count-needs-review") == [expected], 30, "the needs-review count")
    certain = handled_by_people[0]
    await user.open(f"/ticket/{certain.id}")
    await user.should_see(marker="routing")
    await user.should_not_see(marker="needs-review")
    flagged = next(t for t in open_rows if t.needs_review and t.intent != "unknown")
    await user.open(f"/ticket/{flagged.id}")
    await user.should_see(marker="needs-review")
    assert texts(user, "review-reason") == [flagged.review_reason]


async def test_alternatives_without_real_probability_are_not_shown(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_triaged, what="the demo queue to be triaged and routed")
    ticket = open_ticket()
    with engine().transaction() as s:
        latest = s.exec(
            select(TriageResult).where(TriageResult.ticket_id == ticket.id).order_by(col(TriageResult.id).desc())
        ).first()
        assert latest is not None
        intent = latest.intent
        latest.alternatives = [
            {"label": intent, "p": 0.99},
            {"label": "create_account", "p": 0.004},
            {"label": "delete_account", "p": 0.002},
        ]
        s.add(latest)
    await user.open(f"/ticket/{ticket.id}")
    assert texts(user, "alternatives") == ["No close alternative"]
    with engine().transaction() as s:
        latest = s.get(TriageResult, latest.id)
        assert latest is not None
        latest.alternatives = [
            {"label": intent, "p": 0.7},
            {"label": "create_account", "p": 0.22},
            {"label": "delete_account", "p": 0.01},
        ]
        s.add(latest)
    await user.open(f"/ticket/{ticket.id}")
    assert texts(user, "alternatives") == ["Also possible: create_account 22%"]


async def test_an_intent_an_agent_set_shows_no_model_confidence(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_triaged, what="the demo queue to be triaged and routed")
    ticket = open_ticket()
    await user.open(f"/ticket/{ticket.id}")
    picker = user.find(marker="intent-picker").elements.pop()
    picker.set_value(next(label for label in picker.options if label != ticket.intent))
    user.find(marker="override").click()
    await user.should_see(marker="intent-set-by", retries=20)
    await user.should_not_see(marker="confidence")
    await user.should_not_see(marker="needs-review")


async def test_a_resolved_ticket_shows_what_was_sent_and_offers_reopen_but_nothing_that_sends(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_triaged, what="the demo queue to be triaged and routed")
    with engine().session() as s:
        ticket = s.exec(
            select(Ticket).where(Ticket.status == TicketStatus.RESOLVED, Ticket.outcome == Outcome.RESOLVED_BY_AI)
        ).first()
    assert ticket is not None
    await user.open(f"/ticket/{ticket.id}")
    await user.should_see(marker="resolved")
    await user.should_see(marker="reopen")
    for marker in ("approve", "reject", "regenerate", "draft", "draft-status", "actions"):
        await user.should_not_see(marker=marker)
    await user.should_not_see("Drafting")
    assert texts(user, "resolution-state")[0].startswith("Resolved")
    assert texts(user, "resolution-reply")[0].startswith("Reply sent by ")
    assert texts(user, "resolution-survey")[0].startswith(("Survey", "No survey sent"))
    with engine().session() as s:
        sent_before = len(s.exec(select(Feedback).where(Feedback.ticket_id == ticket.id)).all())
    user.find(marker="reopen").click()
    await user.should_see(marker="reopen-reason")
    with engine().session() as s:
        assert len(s.exec(select(Feedback).where(Feedback.ticket_id == ticket.id)).all()) == sent_before


async def test_the_routing_card_shows_one_state_badge(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_triaged, what="the demo queue to be triaged and routed")
    with engine().session() as s:
        escalated = s.exec(select(Ticket).where(Ticket.route == Route.ESCALATE)).first()
        auto = s.exec(
            select(Ticket).where(Ticket.outcome == Outcome.RESOLVED_BY_AI, Ticket.route == Route.AUTO_RESOLVE)
        ).first()
    for ticket, state in ((escalated, "Escalated"), (auto, "Resolved by the AI")):
        if ticket is None:
            continue
        await user.open(f"/ticket/{ticket.id}")
        await user.should_see(marker="routing")
        badges = user.find(kind=ui.badge, marker="route").elements
        assert [b.text for b in badges] == [state]
        await user.should_not_see(marker="outcome")
    assert escalated is not None or auto is not None


async def test_risk_reads_the_account_age_from_the_store_or_says_unknown(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_triaged, what="the demo queue to be triaged and routed")
    with engine().session() as s:
        routed = s.exec(
            select(Ticket, Customer)
            .join(Customer, col(Customer.id) == col(Ticket.customer_id))
            .where(col(Ticket.route).is_not(None), col(Ticket.status) != TicketStatus.RESOLVED)
            .order_by(col(Ticket.id))
        ).all()
    with_email = next((t for t, c in routed if c.email), None)
    assert with_email is not None
    await user.open(f"/ticket/{with_email.id}")
    await user.should_see(marker="risk-factors")
    shown = texts(user, "risk-value-account_age")
    assert len(shown) == 1 and shown[0].endswith(" days")
    assert int(shown[0].split()[0]) >= 20  # the demo store's accounts are 20 to 1500 days old, not "0 days"
    without = next((t for t, c in routed if not c.email), None)
    if without is not None:
        await user.open(f"/ticket/{without.id}")
        await user.should_see(marker="risk-factors")
        assert texts(user, "risk-value-account_age") == ["unknown"]


async def test_the_confidence_says_how_often_it_was_right_on_past_checked_tickets(user: User) -> None:
    await sign_in(user)
    await user.open("/")
    await wait_for_async(all_triaged, what="the demo queue to be triaged and routed")
    ticket = open_ticket()
    confidence = ticket.intent_confidence or 0.0
    bins = dashboard(engine().db, all_time(engine().db)).confidence  # the dashboard's reliability chart's data
    shown = next(b for b in bins if b.low <= confidence < b.high or (confidence >= 1.0 and b.high == 1.0))
    expected = Calibration(shown.low, shown.high, shown.reviewed, shown.correct)
    assert expected.checked > 0
    await user.open(f"/ticket/{ticket.id}")
    await wait_for_async(lambda: bool(texts(user, "calibration") and texts(user, "calibration")[0]), 30, "calibration")
    assert texts(user, "calibration") == [expected.text()]
    assert str(expected.checked) in expected.text() and f"{expected.low:.0%}" in expected.text()
    await user.open("/")
    table = user.find(marker="queue").elements.pop()
    await wait_for_async(lambda: any(r["id"] == ticket.id and r["calibration"] for r in table.rows), 30, "the queue")
    assert next(r for r in table.rows if r["id"] == ticket.id)["calibration"] == expected.text()
