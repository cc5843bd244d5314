"""The public survey page at /survey/<token>: plain HTML forms, no sign-in, no script, readable on a phone.

GET shows the CSAT (1-10) and effort (1-5) questions, POST records one answer per token. /survey/<token>/person
asks for a person (AI-resolved replies link to it). A forged, used or expired link gets a page that says which.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Engine as SAEngine

from engine.config import Settings
from engine.surveys.answers import CES_RANGE, CSAT_RANGE, SurveyError
from engine.surveys.links import ask_for_person, submit_answer, token_state

log = logging.getLogger(__name__)

EFFORT_LABELS = {1: "Very easy", 2: "Easy", 3: "Neither", 4: "Difficult", 5: "Very difficult"}
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f6f9;color:#1b2733}
main{max-width:34rem;margin:0 auto;padding:1.25rem}
.card{background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:.2rem 0 .8rem}
fieldset{border:0;padding:0;margin:1rem 0}
legend{font-weight:600;margin-bottom:.5rem}
.scale{display:flex;flex-wrap:wrap;gap:.35rem}
.scale label{flex:1 0 2.6rem;text-align:center;border:1px solid #b8c4d0;border-radius:8px;padding:.6rem 0;
  font-size:1.05rem;min-height:2.75rem;box-sizing:border-box}
.scale.words label{flex:1 0 100%;text-align:left;padding:.6rem .8rem}
.scale input{position:absolute;opacity:0}
.scale label:has(input:checked){background:#1f4e79;color:#fff;border-color:#1f4e79}
textarea{width:100%;min-height:5rem;box-sizing:border-box;border:1px solid #b8c4d0;border-radius:8px;padding:.6rem;
  font:inherit}
button{background:#1f4e79;color:#fff;border:0;border-radius:8px;padding:.8rem 1.4rem;font-size:1.05rem;width:100%}
.error{color:#c62828;font-weight:600}
.muted{color:#5a6b7b}
"""
PAGES = {
    "invalid": ("This survey link is not valid", "It may have been mistyped or shortened. Please use the full link."),
    "expired": ("This survey link has expired", "Thank you all the same. If something is still wrong, reply to us."),
    "answered": ("Thank you!", "We already have your answer for this request."),
}


def build_survey_router(db: SAEngine, settings: Callable[[], Settings]) -> APIRouter:
    """The survey pages; mount with `app.include_router(...)`. They need no sign-in."""
    router = APIRouter(include_in_schema=False)

    @router.get("/survey/{token}", response_class=HTMLResponse)
    async def survey(token: str) -> HTMLResponse:
        state = await run_in_threadpool(token_state, db, token, settings=settings())
        if state != "open":
            return _message(state, status=404 if state == "invalid" else 200)
        return _page("How did we do?", _form(token))

    @router.post("/survey/{token}", response_class=HTMLResponse)
    async def answer(
        token: str,
        csat: Annotated[str, Form()] = "",
        ces: Annotated[str, Form()] = "",
        comment: Annotated[str, Form(max_length=5000)] = "",
    ) -> HTMLResponse:
        state = await run_in_threadpool(token_state, db, token, settings=settings())
        if state != "open":
            return _message(state, status=404 if state == "invalid" else 409 if state == "answered" else 410)
        if not csat or not ces:
            return _page("How did we do?", _form(token, "Please answer both questions."), status=422)
        try:
            await run_in_threadpool(submit_answer, db, token, settings=settings(), csat=csat, ces=ces, comment=comment)
        except SurveyError as exc:
            log.warning("survey answer not recorded: %s", exc)
            return _page("How did we do?", _form(token, str(exc)), status=422)
        return _page("Thank you!", "<p>Your answer helps us improve.</p>")

    @router.get("/survey/{token}/person", response_class=HTMLResponse)
    async def person(token: str) -> HTMLResponse:
        state = await run_in_threadpool(token_state, db, token, settings=settings())
        if state == "invalid":
            return _message(state, status=404)
        body = (
            "<p>We will hand your request to a person on our team, who will write to you.</p>"
            f'<form method="post" action="/survey/{html.escape(token)}/person"><button type="submit">'
            "Ask a person to look at this</button></form>"
        )
        return _page("Not right?", body)

    @router.post("/survey/{token}/person", response_class=HTMLResponse)
    async def hand_over(token: str) -> HTMLResponse:
        try:
            await run_in_threadpool(ask_for_person, db, token, settings=settings())
        except SurveyError as exc:
            return _page("We could not do that", f'<p class="error">{html.escape(str(exc))}</p>', status=410)
        return _page("A person will look at this", "<p>Thank you. Someone from our team will write to you soon.</p>")

    return router


def _form(token: str, error: str = "") -> str:
    low, high = CSAT_RANGE
    easy, hard = CES_RANGE
    csat = "".join(
        f'<label><input type="radio" name="csat" value="{n}" required>{n}</label>' for n in range(low, high + 1)
    )
    ces = "".join(
        f'<label><input type="radio" name="ces" value="{n}" required>{n} · {EFFORT_LABELS[n]}</label>'
        for n in range(easy, hard + 1)
    )
    problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return (
        f'<p class="muted">Two quick questions about your recent support request.</p>{problem}'
        f'<form method="post" action="/survey/{html.escape(token)}">'
        f"<fieldset><legend>How satisfied are you with the help you got? ({low} = not at all, {high} = completely)"
        f'</legend><div class="scale">{csat}</div></fieldset>'
        f'<fieldset><legend>How easy was it to get your issue resolved?</legend><div class="scale words">{ces}</div>'
        '</fieldset><fieldset><legend>Anything else? (optional)</legend><textarea name="comment"></textarea>'
        '</fieldset><button type="submit">Send</button></form>'
    )


def _message(state: str, *, status: int) -> HTMLResponse:
    title, text = PAGES[state]
    return _page(title, f"<p>{html.escape(text)}</p>", status=status)


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · CareDesk</title><style>{STYLE}</style></head>"
        f'<body><main><div class="card"><h1>{html.escape(title)}</h1>{body}</div></main></body></html>'
    )
    return HTMLResponse(page, status_code=status)
