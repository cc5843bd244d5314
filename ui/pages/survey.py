"""The public survey page a customer opens from the link sent after resolution: CSAT (1-10) and effort (1-5)."""

from __future__ import annotations

import logging

from nicegui import run, ui

from engine.customer import answer_survey, survey_state
from engine.surveys import CES_RANGE, CSAT_RANGE, SurveyError
from ui.state import engine

log = logging.getLogger(__name__)

EFFORT_LABELS = {1: "Very easy", 2: "Easy", 3: "Neither", 4: "Difficult", 5: "Very difficult"}


def _shell() -> ui.card:
    ui.add_head_html('<link rel="stylesheet" href="/assets/caredesk.css">')
    ui.page_title("Your feedback · CareDesk")
    ui.colors(primary="#1f4e79", positive="#2e7d32", negative="#c62828")
    with ui.column().classes("w-full items-center p-6"):
        card = ui.card().classes("cd-card w-full max-w-xl p-6 gap-4")
    return card


def _thanks(card: ui.card, text: str) -> None:
    card.clear()
    with card:
        ui.icon("favorite", color="primary", size="40px")
        ui.label("Thank you!").classes("text-2xl font-semibold")
        ui.label(text).mark("survey-thanks")


async def survey_page(token: str) -> None:
    state = await run.io_bound(survey_state, engine(), token) or "invalid"
    card = _shell()
    if state == "invalid":
        with card:
            ui.label("This survey link is not valid").classes("text-xl font-semibold")
            ui.label("It may have been mistyped or shortened. Please use the full link from our message.").mark(
                "survey-invalid"
            )
        return
    if state == "answered":
        _thanks(card, "We already have your answer for this request.")
        return
    low, high = CSAT_RANGE
    easy, hard = CES_RANGE
    with card:
        ui.label("How did we do?").classes("text-2xl font-semibold")
        ui.label("Two quick questions about your recent support request.").classes("cd-muted")
        ui.label(f"How satisfied are you with the help you got? ({low} = not at all, {high} = completely)")
        csat = ui.toggle(list(range(low, high + 1))).props("spread no-caps unelevated").classes("w-full").mark("csat")
        ui.label("How easy was it to get your issue resolved?")
        ces = (
            ui.toggle({n: f"{n} · {EFFORT_LABELS[n]}" for n in range(easy, hard + 1)})
            .props("spread no-caps unelevated")
            .classes("w-full")
            .mark("ces")
        )
        comment = ui.textarea("Anything else? (optional)").props("outlined autogrow").classes("w-full").mark("comment")
        error = ui.label("").classes("text-negative").mark("survey-error")

        async def submit() -> None:
            if csat.value is None or ces.value is None:
                error.text = "Please answer both questions."
                return
            try:
                await run.io_bound(
                    answer_survey,
                    engine(),
                    token,
                    csat=int(csat.value),
                    ces=int(ces.value),
                    comment=comment.value or "",
                )
            except SurveyError as exc:
                log.warning("survey %s not recorded: %s", token[:6], exc)
                error.text = str(exc)
                return
            _thanks(card, "Your answer helps us improve.")

        ui.button("Send", on_click=submit).props("unelevated").classes("self-end").mark("survey-submit")
