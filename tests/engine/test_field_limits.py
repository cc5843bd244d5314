"""One length limit per field for every channel: e-mail cuts to it (the .eml keeps all), webhook and import refuse."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import select

from engine.ingest.attachments import attachment_file, ticket_attachments
from engine.ingest.bulk_import import import_tickets
from engine.ingest.dead_letters import list_dead_letters
from engine.ingest.email_channel import ingest_email
from engine.ingest.field_limits import FIELD_LIMITS
from engine.ingest.webhook import build_router
from engine.ingest.webhook_schema import MessageIn
from engine.store.models import Message, Ticket
from tests.engine.test_ingest_webhook import make_engine, payload, post

LONG_SUBJECT = "Refund " + "S" * 200_000


def test_an_email_subject_is_cut_to_the_limit_and_the_original_keeps_it_whole(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    mail = EmailMessage()
    mail["From"] = "Ada <ada@example.com>"
    mail["To"] = "support@example.com"
    mail["Subject"] = LONG_SUBJECT
    mail["Message-ID"] = "<long-subject@example.com>"
    mail.set_content("My refund has not arrived. " + "word " * 10_000)
    raw = mail.as_bytes()
    result = ingest_email(engine, raw, source="test")
    assert result is not None
    with engine.session() as session:
        ticket = session.get(Ticket, result.ticket_id)
        body = session.exec(select(Message.body).where(Message.ticket_id == result.ticket_id)).one()
        (original,) = ticket_attachments(session, result.ticket_id)
    assert ticket is not None and len(ticket.subject) <= FIELD_LIMITS["subject"]
    assert ticket.subject.startswith("Refund SSS")
    assert len(body) <= FIELD_LIMITS["text"]
    kept = attachment_file(engine, original.id or 0)
    assert kept is not None and kept[0] == raw, "the stored original is the mail as received"


def test_the_webhook_refuses_a_subject_over_the_same_limit(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    app = FastAPI()
    app.include_router(build_router(engine))
    client = TestClient(app)
    limit = FIELD_LIMITS["subject"]
    assert post(client, payload("s-1", subject="s" * limit)).status_code == 202
    refused = post(client, payload("s-2", subject="s" * (limit + 1)))
    assert refused.status_code == 422 and "subject" in refused.json()["detail"]


def test_an_import_row_over_a_limit_is_dead_lettered_with_the_field_named(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    path = tmp_path / "history.jsonl"
    rows = [{"text": "Where is my order?", "subject": LONG_SUBJECT}, {"text": "Fine row", "subject": "ok"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = import_tickets(engine, path)
    assert (report.imported, report.failed) == (1, 1)
    (letter,) = list_dead_letters(engine)
    assert "subject" in letter.error and f"{FIELD_LIMITS['subject']:,}" in letter.error
    assert LONG_SUBJECT[:1000] in letter.preview or len(letter.preview) > 1000


def test_every_channel_uses_one_limit_per_field() -> None:
    schema = MessageIn.model_json_schema()["properties"]
    for field, limit in FIELD_LIMITS.items():
        declared = schema[field].get("maxLength") or max(
            (option.get("maxLength", 0) for option in schema[field].get("anyOf", [])), default=0
        )
        assert declared == limit, field
