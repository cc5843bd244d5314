"""Dashboard, survey and weekly report pages through NiceGUI's simulated user (fast fake models)."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import Screen, User
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from sqlmodel import col, select

from engine.accounts.users import create_user
from engine.ingest.intake import InboundMessage, intake
from engine.kpi.tiles import DEFINITIONS
from engine.store.models import Survey, Ticket
from engine.surveys import create_survey
from tests.ui.conftest import sign_in, sign_in_browser, wait_for, wait_for_async
from ui.pages.dashboard import QUALITY_KEYS
from ui.state import engine

TILES = [d for d in DEFINITIONS if d.key not in QUALITY_KEYS]


def loaded(user: User) -> bool:
    status = user.find(kind=ui.label, marker="dashboard-status").elements.pop()
    return "updated" in status.text


def figure(user: User, key: str) -> dict:
    return user.find(kind=ui.plotly, marker=f"chart-{key}").elements.pop().figure


def tile_text(user: User, key: str) -> str:
    return user.find(kind=ui.label, marker=f"kpi-value-{key}").elements.pop().text


@pytest.fixture
def empty_desk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No demo data: the app starts on an empty database (request it before `user`)."""
    monkeypatch.setenv("CAREDESK_DEMO", "false")
    yield


async def test_dashboard_shows_every_tile_and_the_charts_of_the_demo_desk(user: User) -> None:
    await sign_in(user)
    await user.open("/dashboard")
    for definition in TILES:
        await user.should_see(definition.label)
    await wait_for_async(lambda: loaded(user), timeout=30, what="the first refresh")
    texts = [tile_text(user, d.key) for d in TILES]
    assert all(t != "…" and "nan" not in t.lower() for t in texts)
    volume = figure(user, "volume")
    with engine().session() as session:
        tickets = len(session.exec(select(Ticket.id)).all())  # the demo spreads them over the last 30 days
    assert volume["data"] and sum(sum(trace["y"]) for trace in volume["data"]) == tickets
    assert figure(user, "volume")["config"]["displayModeBar"] is True  # the PNG download button
    assert figure(user, "volume")["config"]["toImageButtonOptions"]["format"] == "png"


async def test_channel_filter_narrows_the_charts(user: User) -> None:
    await sign_in(user)
    await user.open("/dashboard")
    await wait_for_async(lambda: loaded(user), timeout=30, what="the first refresh")
    user.find(kind=ui.select, marker="channel-filter").elements.pop().set_value(["chat"])
    await wait_for_async(
        lambda: {t["name"] for t in figure(user, "volume")["data"]} == {"chat"}, timeout=30, what="chat only"
    )
    user.find(kind=ui.select, marker="range").elements.pop().set_value("7")
    await wait_for_async(
        lambda: "updated" in user.find(kind=ui.label, marker="dashboard-status").elements.pop().text, timeout=30
    )


async def test_new_tickets_refresh_the_dashboard(user: User) -> None:
    await sign_in(user)
    await user.open("/dashboard")
    await wait_for_async(lambda: loaded(user), timeout=30, what="the first refresh")

    def total() -> int:
        return sum(sum(trace["y"]) for trace in figure(user, "volume")["data"])

    before = total()
    with engine().transaction() as session:
        intake(session, InboundMessage(channel="sms", customer_name="New Person", text="Where is my refund?"))
    engine().changed()
    await wait_for_async(lambda: total() == before + 1, timeout=30, what="the new ticket on the chart")


async def test_clicking_a_sentiment_point_lists_its_tickets(user: User) -> None:
    await sign_in(user)
    await user.open("/dashboard")

    def scored() -> Ticket | None:
        with engine().session() as session:
            return session.exec(select(Ticket).where(col(Ticket.valence).is_not(None))).first()

    await wait_for_async(lambda: scored() is not None, timeout=60, what="triage to score sentiment")
    ticket = scored()
    assert ticket is not None
    await wait_for_async(lambda: loaded(user) and figure(user, "sentiment")["data"], timeout=30, what="sentiment")
    day = ticket.created_at.strftime("%Y-%m-%d")
    user.find(marker="chart-sentiment").trigger(
        "plotly_click", {"points": [{"x": day, "customdata": [day, ticket.channel]}]}
    )
    await wait_for_async(lambda: bool(user.find(kind=ui.table, marker="point-tickets").elements.pop().rows), timeout=10)
    rows = user.find(kind=ui.table, marker="point-tickets").elements.pop().rows
    assert ticket.id in {r["id"] for r in rows} and {r["channel"] for r in rows} == {ticket.channel}


async def test_tables_download_as_csv(user: User) -> None:
    await sign_in(user)
    await user.open("/dashboard")
    await wait_for_async(lambda: loaded(user), timeout=30, what="the first refresh")
    user.find(marker="csv-kpis").click()
    response = await user.download.next(timeout=5)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["kpi"] for r in rows} == {d.label for d in DEFINITIONS}


async def test_an_empty_desk_says_no_data(empty_desk: None, user: User) -> None:
    create_user(engine().db, username="supervisor", password="supervisor-demo", role="supervisor", actor="test")
    await sign_in(user)
    await user.open("/dashboard")
    await wait_for_async(lambda: loaded(user), timeout=30, what="the first refresh")
    assert all(tile_text(user, d.key) == "no data" for d in TILES)
    annotations = figure(user, "volume")["layout"]["annotations"]
    assert annotations[0]["text"] == "no data"


async def test_the_survey_link_records_csat_and_effort_over_plain_http(user: User) -> None:
    with engine().transaction() as session:
        resolved = session.exec(select(Ticket).where(Ticket.status == "resolved")).first()
        assert resolved is not None and resolved.id is not None
        token = create_survey(session, ticket_id=resolved.id).token
    page = await user.http_client.get(f"/survey/{token}")
    assert page.status_code == 200 and "How did we do?" in page.text and "<script" not in page.text
    assert 'name="viewport"' in page.text  # laid out for a phone
    missing = await user.http_client.post(f"/survey/{token}", data={"csat": "8"})
    assert missing.status_code == 422 and "Please answer both questions." in missing.text
    done = await user.http_client.post(f"/survey/{token}", data={"csat": "8", "ces": "2", "comment": "quick"})
    assert done.status_code == 200 and "Thank you!" in done.text
    with engine().session() as session:
        survey = session.exec(select(Survey).where(Survey.token == token)).one()
        assert (survey.csat, survey.ces) == (8, 2) and survey.answered_at is not None
    again = await user.http_client.post(f"/survey/{token}", data={"csat": "1", "ces": "5"})
    assert again.status_code == 409 and "We already have your answer" in again.text


async def test_an_unknown_survey_link_says_so(user: User) -> None:
    page = await user.http_client.get("/survey/not-a-token")
    assert page.status_code == 404 and "This survey link is not valid" in page.text


async def test_weekly_report_lists_every_kpi(user: User) -> None:
    await sign_in(user)
    await user.open("/report")
    await user.should_see(marker="report-kpis", retries=50)
    html = user.find(kind=ui.html, marker="report-kpis").elements.pop().content
    assert all(d.label in html for d in DEFINITIONS)


def test_dashboard_in_a_real_browser(screen: Screen, artifacts: Path) -> None:
    charts_drawn = "return document.querySelectorAll('.js-plotly-plot .main-svg').length"
    volume_total = (
        "const p = document.querySelectorAll('.js-plotly-plot')[0];"
        "return (p.data || []).reduce((n, t) => n + t.y.reduce((a, b) => a + b, 0), 0);"
    )

    def js(script: str) -> int:
        try:
            return int(screen.selenium.execute_script(script) or 0)
        except WebDriverException:  # a renderer busy drawing (slow shared machine): ask again
            return -1

    sign_in_browser(screen)
    screen.selenium.set_window_size(1500, 1000)
    screen.open("/report")  # loads the app's scripts and plotly once, as a returning supervisor has them cached
    screen.should_contain("Key performance indicators")
    started = time.perf_counter()
    screen.open("/dashboard")
    screen.should_contain("AI resolution rate")
    wait_for(lambda: js(charts_drawn) >= 2 * 8, timeout=30, what="eight charts drawn")
    wait_for(lambda: js(volume_total) > 0, timeout=30, what="volume data")
    logging.getLogger(__name__).info("dashboard drawn %.2f s after navigation", time.perf_counter() - started)
    assert "nan" not in screen.selenium.find_element(By.TAG_NAME, "body").text.lower().split()  # no NaN anywhere
    buttons = screen.selenium.find_elements(By.CSS_SELECTOR, ".modebar-btn[data-title='Download plot as a PNG']")
    assert len(buttons) == 8  # every chart downloads as PNG
    month = js(volume_total)
    screen.click("Last 30 days")
    screen.click("Last 7 days")
    wait_for(lambda: 0 <= js(volume_total) < month, timeout=30, what="the 7-day volume")
    screen.click("Last 7 days")
    screen.click("Last 30 days")
    wait_for(lambda: js(volume_total) == month, timeout=30, what="the 30-day volume")
    screen.selenium.set_window_size(1500, 3400)
    time.sleep(1.0)  # charts resize to the new width
    screen.selenium.save_screenshot(str(artifacts / "dashboard.png"))
    screen.open("/report")
    screen.should_contain("Key performance indicators")
    screen.selenium.set_window_size(1200, 2000)
    time.sleep(1.0)
    screen.selenium.save_screenshot(str(artifacts / "report.png"))


async def test_draft_acceptance_shows_what_agents_did_with_drafts(user: User) -> None:
    from engine.desk import approve_or_edit, draft_now

    await sign_in(user)
    await wait_for_async(lambda: engine().ready, what="the models to load")
    with engine().session() as session:
        ticket_id = session.exec(select(Ticket.id).where(col(Ticket.status) != "resolved")).first()
    assert ticket_id is not None
    draft = draft_now(engine(), ticket_id)
    fields = {name: "filled" for name in draft.fields}
    approve_or_edit(engine(), ticket_id, draft.id, draft.text, agent="supervisor", fields=fields)
    await user.open("/dashboard")
    await user.should_see("Draft acceptance")
    summary = user.find(kind=ui.label, marker="acceptance-summary").elements.pop()
    await wait_for_async(lambda: "drafts:" in summary.text, 30, "the acceptance figures")
    assert "100% sent unchanged" in summary.text  # the one draft was sent as drafted (its fields filled)
