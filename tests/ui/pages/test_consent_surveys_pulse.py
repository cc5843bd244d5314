"""Consent on the ticket, the survey, KPI and consent settings, the dashboard's demo marks and the agents' monthly
question, driven through NiceGUI's simulated user (fast fake models)."""

from __future__ import annotations

from nicegui.testing import User
from sqlmodel import col, select

from engine.agent_pulse import month_of
from engine.store.audit_models import AuditEntry
from engine.store.models import Customer, Ticket, utcnow
from engine.store.pulse_models import AgentPulse
from tests.ui.conftest import sign_in, wait_for_async
from tests.ui.test_permissions import _sign_in_as as sign_in_as
from ui.state import engine


def has(user: User, marker: str) -> bool:
    try:
        return bool(user.find(marker=marker).elements)
    except AssertionError:
        return False


def open_ticket() -> Ticket:
    with engine().session() as s:
        ticket = s.exec(select(Ticket).where(col(Ticket.status) != "resolved").order_by(col(Ticket.id))).first()
    assert ticket is not None
    return ticket


def customer(ticket: Ticket) -> Customer:
    with engine().session() as s:
        found = s.get(Customer, ticket.customer_id)
    assert found is not None
    return found


async def test_an_agent_sets_both_opt_outs_on_the_ticket_and_each_is_audited(user: User) -> None:
    await sign_in(user, "agent", "agent-demo")
    await wait_for_async(lambda: engine().ready, 300, "the models")
    ticket = open_ticket()
    await user.open(f"/ticket/{ticket.id}")
    await user.should_see(marker="customer-panel")
    user.find(marker="consent-ai").click()
    await wait_for_async(lambda: not customer(ticket).ai_opt_in, 20, "AI handling off")
    await user.should_see(marker="ai-opted-out")
    await user.should_see("opted out of AI handling")
    user.find(marker="consent-history").click()
    await wait_for_async(lambda: customer(ticket).ai_drafts_opt_out, 20, "earlier tickets off")
    with engine().session() as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.action == "consent_changed")).all()
    assert [(r.actor, r.details["choice"], r.details["allowed"]) for r in rows] == [
        ("agent", "ai_handling", False),
        ("agent", "earlier_tickets", False),
    ]
    await user.open(f"/ticket/{ticket.id}")  # the choice stays
    assert user.find(marker="consent-ai").elements.pop().value is False


async def test_supervisors_set_surveys_and_kpi_measures_admins_the_consent_default(user: User) -> None:
    await sign_in_as(user, "admin")  # with the admin's second factor
    await user.open("/settings")
    await user.should_see(marker="survey-settings")
    user.find(marker="survey-sms").elements.pop().set_value("follow_up")
    user.find(marker="survey-ai-resolved").elements.pop().set_value("off")
    user.find(marker="survey-follow-up-hours").elements.pop().set_value(6)
    user.find(marker="save-surveys").click()
    await user.should_see("applies to tickets resolved from now on")
    surveys = engine().settings.surveys
    assert surveys["channels"]["sms"] == "follow_up" and surveys["channels"]["email"] == "link"
    assert (surveys["ai_resolved"], surveys["follow_up_hours"]) == ("off", 6.0)
    user.find(marker="fcr-days").elements.pop().set_value(3)
    user.find(marker="agent-hourly-cost").elements.pop().set_value(45)
    user.find(marker="save-kpi-settings").click()
    await user.should_see("the dashboard uses it from its next refresh")
    assert (engine().settings.fcr_reopen_days, engine().settings.agent_hourly_cost) == (3.0, 45.0)
    user.find(marker="ai-opt-in-default").click()
    user.find(marker="save-consent-default").click()
    await user.should_see("applies to customers who write from now on")
    assert engine().settings.ai_opt_in_default is False
    with engine().session() as s:
        changed = {r.subject for r in s.exec(select(AuditEntry).where(AuditEntry.action == "setting_changed"))}
    assert {"setting:surveys", "setting:fcr_reopen_days", "setting:agent_hourly_cost"} <= changed
    assert "setting:ai_opt_in_default" in changed
    user.find(marker="survey-follow-up-hours").elements.pop().set_value(None)
    user.find(marker="save-surveys").click()
    await user.should_see("follow-up delay must be a number")


async def test_the_dashboard_marks_demo_figures_and_live_only_leaves_them_out(user: User) -> None:
    await sign_in(user)
    await user.open("/dashboard")
    await wait_for_async(lambda: has(user, "demo-note"), 300, "the demo data and the first refresh")
    assert has(user, "kpi-demo-csat"), "CSAT of the demo history is marked demo"
    user.find(marker="live-only").click()
    await wait_for_async(lambda: not has(user, "demo-note"), 30, "the live-only refresh")
    assert not has(user, "kpi-demo-csat")
    assert user.find(marker="kpi-value-csat").elements.pop().text == "no data", "no live survey answers yet"


async def test_agents_are_asked_once_a_month_and_the_answer_shows_as_agent_nps(user: User) -> None:
    await sign_in(user, "agent", "agent-demo")
    await user.should_see(marker="agent-pulse")
    await user.should_see("How likely are you to recommend the AI assist to a colleague?")
    user.find(marker="pulse-9").click()
    await user.should_see("Thank you")
    with engine().session() as s:
        (row,) = s.exec(select(AgentPulse)).all()
    assert (row.agent, row.month, row.score) == ("agent", month_of(utcnow()), 9)
    await user.open("/")
    await user.should_see(marker="queue")
    assert not has(user, "agent-pulse"), "answered: not asked again this month"
    await user.open("/logout")
    await sign_in(user)  # lands on the queue, where the question is asked
    await user.should_see(marker="agent-pulse")
    user.find(marker="pulse-dismiss").click()
    await user.should_see("We will ask again next month")
    await user.open("/dashboard")
    await wait_for_async(lambda: user.find(marker="kpi-value-agent_nps").elements.pop().text == "100", 60, "NPS")
    await user.should_see("target > 40")
