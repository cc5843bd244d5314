"""Surveys: a link per resolved ticket, validated CSAT / CES answers, CSV import that keeps the good rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.store.models import Customer, Survey, Ticket
from engine.surveys import SurveyError, create_survey, find_survey, import_answers, import_answers_csv, record_answer

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def ticket(session: Session, status: str = "resolved") -> int:
    customer = Customer(name="Ana Lima")
    session.add(customer)
    session.flush()
    assert customer.id is not None
    row = Ticket(customer_id=customer.id, status=status, resolved_at=NOW if status == "resolved" else None)
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def test_a_resolved_ticket_gets_one_pending_survey_link(session: Session) -> None:
    ticket_id = ticket(session)
    survey = create_survey(session, ticket_id=ticket_id, now=NOW)
    assert len(survey.token) >= 16 and survey.answered_at is None
    assert create_survey(session, ticket_id=ticket_id).token == survey.token  # sending again reuses the link
    assert find_survey(session, survey.token) is survey


def test_no_survey_for_an_open_or_unknown_ticket(session: Session) -> None:
    with pytest.raises(SurveyError, match="not resolved"):
        create_survey(session, ticket_id=ticket(session, status="open"))
    with pytest.raises(SurveyError, match="does not exist"):
        create_survey(session, ticket_id=999)


def test_an_answer_is_recorded_once(session: Session) -> None:
    token = create_survey(session, ticket_id=ticket(session)).token
    survey = record_answer(session, token=token, csat=9, ces="2", comment=" quick, thanks ", now=NOW)
    assert (survey.csat, survey.ces, survey.comment) == (9, 2, "quick, thanks")
    assert survey.answered_at is not None
    with pytest.raises(SurveyError, match="already answered"):
        record_answer(session, token=token, csat=1, ces=5)
    assert find_survey(session, token).csat == 9  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("csat", "ces", "message"),
    [(0, 2, "CSAT must be a whole number from 1 to 10"), (11, 2, "CSAT"), ("x", 2, "CSAT"), (True, 2, "CSAT"),
     (5, 6, "Effort \\(CES\\) must be a whole number from 1 to 5"), (5, 0, "CES"), (5, 2.5, "CES")],
)  # fmt: skip
def test_out_of_range_scores_are_refused_and_nothing_is_stored(
    session: Session, csat: object, ces: object, message: str
) -> None:
    token = create_survey(session, ticket_id=ticket(session)).token
    with pytest.raises(SurveyError, match=message):
        record_answer(session, token=token, csat=csat, ces=ces)
    survey = find_survey(session, token)
    assert survey is not None and survey.answered_at is None and survey.csat is None


def test_an_unknown_link_is_refused(session: Session) -> None:
    with pytest.raises(SurveyError, match="not valid"):
        record_answer(session, token="nope", csat=5, ces=2)


def test_csv_import_keeps_good_rows_and_names_the_bad_ones(session: Session) -> None:
    sent = create_survey(session, ticket_id=ticket(session)).token
    no_survey_yet = ticket(session)
    open_ticket = ticket(session, status="open")
    content = (
        "token,ticket_id,csat,ces,comment\n"
        f"{sent},,9,1,great\n"  # row 2: by token
        f",{no_survey_yet},7,2,\n"  # row 3: by ticket id, the survey is created
        f",{open_ticket},7,2,\n"  # row 4: ticket not resolved
        "nope,,7,2,\n"  # row 5: unknown token
        f"{sent},,8,1,\n"  # row 6: answered above
        f",{no_survey_yet},12,2,\n"  # row 7: CSAT out of range
        ",,5,3,\n"  # row 8: neither token nor ticket
    )
    report = import_answers(session, content, now=NOW)
    assert report.imported == 2
    assert [(e.row, e.message.split(" ")[0]) for e in report.errors] == [
        (4, "ticket"),
        (5, "unknown"),
        (6, "this"),
        (7, "CSAT"),
        (8, "needs"),
    ]
    answered = session.exec(select(Survey).where(Survey.csat.is_not(None))).all()  # type: ignore[union-attr]
    assert sorted((s.ticket_id, s.csat) for s in answered) == sorted([(no_survey_yet, 7), (answered[0].ticket_id, 9)])
    assert session.exec(select(Survey).where(Survey.ticket_id == open_ticket)).first() is None


def test_csv_without_the_needed_columns_is_refused(session: Session) -> None:
    with pytest.raises(SurveyError, match="csat"):
        import_answers(session, "token,score\nabc,5\n")
    with pytest.raises(SurveyError, match="token or ticket_id"):
        import_answers(session, "csat,ces\n5,2\n")


def test_csv_file_that_is_not_utf8_names_the_line(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "answers.csv"
    path.write_bytes(b"token,csat,ces\nabc,5,2\n\xff\xfe,5,2\n")
    with pytest.raises(SurveyError, match="line 3"):
        import_answers_csv(session, path)
