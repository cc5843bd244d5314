"""Customer surveys after resolution: a link token per ticket, CSAT (1-10) and CES (1-5) answers, CSV import."""

from __future__ import annotations

import csv
import io
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from engine.store.models import Survey, Ticket, TicketStatus, utcnow

log = logging.getLogger(__name__)

CSAT_RANGE = (1, 10)
CES_RANGE = (1, 5)


class SurveyError(ValueError):
    """A survey cannot be created or answered; the message says why."""


@dataclass(frozen=True)
class RowError:
    row: int  # the CSV line's row number, the header being row 1
    message: str


@dataclass
class ImportReport:
    """What a CSV import did: answers recorded, and the rows that were skipped with why."""

    imported: int = 0
    errors: list[RowError] = field(default_factory=list)


def new_token() -> str:
    """An unguessable, URL-safe survey token."""
    return secrets.token_urlsafe(12)


def create_survey(session: Session, *, ticket_id: int, now: datetime | None = None, via: str = "link") -> Survey:
    """The survey for a resolved ticket: its pending one if it was already sent, else a new token sent `via`."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise SurveyError(f"ticket {ticket_id} does not exist")
    if ticket.status != TicketStatus.RESOLVED:
        raise SurveyError(f"ticket {ticket_id} is not resolved yet")
    pending = _pending(session, ticket_id)
    if pending is not None:
        return pending
    survey = Survey(ticket_id=ticket_id, token=new_token(), sent_at=now or utcnow(), via=via)
    session.add(survey)
    session.flush()
    return survey


def find_survey(session: Session, token: str) -> Survey | None:
    """The survey behind a link token, or None."""
    return session.exec(select(Survey).where(Survey.token == token.strip())).first()


def _score(value: object, name: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise SurveyError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return number


def answer(survey: Survey, *, csat: object, ces: object, comment: str = "", now: datetime | None = None) -> Survey:
    """Record CSAT and CES on a survey that has not been answered yet."""
    if survey.answered_at is not None:
        raise SurveyError("this survey was already answered")
    survey.csat, survey.ces = _score(csat, "CSAT", CSAT_RANGE), _score(ces, "Effort (CES)", CES_RANGE)
    survey.comment = comment.strip()
    survey.answered_at = now or utcnow()
    return survey


def record_answer(
    session: Session, *, token: str, csat: object, ces: object, comment: str = "", now: datetime | None = None
) -> Survey:
    """Record a customer's answer given through the survey link."""
    survey = find_survey(session, token)
    if survey is None:
        raise SurveyError("this survey link is not valid")
    answer(survey, csat=csat, ces=ces, comment=comment, now=now)
    session.add(survey)
    session.flush()
    return survey


def _pending(session: Session, ticket_id: int) -> Survey | None:
    query = (
        select(Survey)
        .where(Survey.ticket_id == ticket_id, col(Survey.answered_at).is_(None))
        .order_by(col(Survey.id).desc())
    )
    return session.exec(query).first()


def _survey_for_row(session: Session, row: dict[str, str], now: datetime) -> Survey:
    token = (row.get("token") or "").strip()
    if token:
        survey = find_survey(session, token)
        if survey is None:
            raise SurveyError(f"unknown token {token!r}")
        return survey
    raw_id = (row.get("ticket_id") or "").strip()
    if not raw_id:
        raise SurveyError("needs a token or a ticket_id")
    try:
        ticket_id = int(raw_id)
    except ValueError as exc:
        raise SurveyError(f"ticket_id must be a number, got {raw_id!r}") from exc
    ticket = session.get(Ticket, ticket_id)
    if ticket is not None and ticket.status == TicketStatus.RESOLVED and _pending(session, ticket_id) is None:
        answered = session.exec(select(Survey.id).where(Survey.ticket_id == ticket_id)).first()
        if answered is not None:
            raise SurveyError(f"ticket {ticket_id} already has a survey answer")
    return create_survey(session, ticket_id=ticket_id, now=now)


def import_answers(session: Session, content: str, *, now: datetime | None = None) -> ImportReport:
    """Record answers from CSV text (columns token or ticket_id, csat, ces, optional comment); bad rows are reported."""
    now = now or utcnow()
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = {(name or "").strip().lower() for name in reader.fieldnames or []}
    missing = [name for name in ("csat", "ces") if name not in header]
    if missing or not header & {"token", "ticket_id"}:
        needed = missing + ([] if header & {"token", "ticket_id"} else ["token or ticket_id"])
        raise SurveyError(f"the CSV needs the columns {', '.join(needed)}; found {sorted(header) or 'no header'}")
    report = ImportReport()
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "") for k, v in raw.items() if isinstance(v, str)}
        try:
            csat = _score(row.get("csat", ""), "CSAT", CSAT_RANGE)  # validate before a survey row may be created
            ces = _score(row.get("ces", ""), "Effort (CES)", CES_RANGE)
            survey = answer(
                _survey_for_row(session, row, now), csat=csat, ces=ces, comment=row.get("comment", ""), now=now
            )
            session.add(survey)
            session.flush()
            report.imported += 1
        except SurveyError as exc:
            report.errors.append(RowError(number, str(exc)))
    log.info("imported %d survey answers, skipped %d rows", report.imported, len(report.errors))
    return report


def import_answers_csv(session: Session, path: Path, *, now: datetime | None = None) -> ImportReport:
    """Record answers from a CSV file (UTF-8, header row)."""
    raw = Path(path).read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SurveyError(f"{path}: line {line} is not valid UTF-8") from exc
    return import_answers(session, content, now=now)
