"""Intake, demo seeding and schema upgrades on a real SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlmodel import Session, func, select

from engine.config import DEMO_DATA_DIR, Settings
from engine.demo.seed import seed_demo_queue
from engine.ingest.intake import InboundMessage, intake
from engine.store.db import make_db
from engine.store.migrate import upgrade_schema
from engine.store.models import Customer, Message, Ticket


def message(text: str, **kw: object) -> InboundMessage:
    base = {"channel": "chat", "customer_name": "Ana Lima", "customer_email": "ana@example.com", "text": text}
    base.update(kw)
    return InboundMessage(**base)  # type: ignore[arg-type]


def test_intake_creates_customer_ticket_and_message(session: Session) -> None:
    result = intake(session, message("Where is my parcel? It was due Monday.", external_id="m1"))
    ticket = session.get(Ticket, result.ticket_id)
    assert result.created_ticket and not result.duplicate
    assert ticket is not None and ticket.subject.startswith("Where is my parcel?")
    assert ticket.triaged_at is None


def test_intake_skips_a_message_delivered_twice(session: Session) -> None:
    first = intake(session, message("Refund please", external_id="dup-1"))
    again = intake(session, message("Refund please", external_id="dup-1"))
    assert again.duplicate and again.ticket_id == first.ticket_id
    assert session.exec(select(func.count()).select_from(Message)).one() == 1


def test_reply_threads_onto_its_ticket_and_reopens_triage(session: Session) -> None:
    first = intake(session, message("My card was charged twice", external_id="t-1"))
    ticket = session.get(Ticket, first.ticket_id)
    assert ticket is not None
    ticket.triaged_at = ticket.created_at
    reply = intake(session, message("Any news?", external_id="t-2", thread_external_id="t-1"))
    assert reply.ticket_id == first.ticket_id and not reply.created_ticket
    assert ticket.triaged_at is None
    assert session.exec(select(func.count()).select_from(Customer)).one() == 1


def test_demo_queue_is_seeded_once_across_channels(session: Session) -> None:
    created = seed_demo_queue(session, DEMO_DATA_DIR, count=60)
    assert created >= 60
    assert seed_demo_queue(session, DEMO_DATA_DIR, count=60) == 0
    channels = set(session.exec(select(Ticket.channel)))
    assert {"email", "chat", "sms", "social"} <= channels
    intents = set(session.exec(select(Ticket.gold_intent)))
    assert len(intents) >= 25  # stratified over Bitext's 27 intents (plus CFPB complaints without one)


def test_older_schema_is_upgraded_without_losing_tickets(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL)")
        con.execute("CREATE TABLE ticket (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, subject VARCHAR)")
        con.execute("INSERT INTO customer VALUES (1, 'Old Customer')")
        con.execute("INSERT INTO ticket VALUES (7, 1, 'kept from the old version')")
    db = make_db(f"sqlite:///{path}")
    added = upgrade_schema(db)
    assert "ticket.priority" in added and "customer.vip" in added
    assert "index ix_ticket_triaged_at" in added  # the worker finds untriaged tickets without a scan
    assert upgrade_schema(db) == []  # nothing left to do the second time
    with Session(db) as s:
        ticket = s.get(Ticket, 7)
        assert ticket is not None and ticket.subject == "kept from the old version" and ticket.priority == 0.0


def test_settings_read_env_and_overrides(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CAREDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CAREDESK_REVIEW_THRESHOLD", "0.75")
    monkeypatch.setenv("CAREDESK_GGUF_PATH", "/models/llama.gguf")
    settings = Settings.load(toml_path=tmp_path / "none.toml")
    assert settings.data_dir == tmp_path and settings.review_threshold == 0.75
    assert str(settings.llm_path) == "/models/llama.gguf"
    assert settings.db_url == f"sqlite:///{tmp_path / 'caredesk.db'}"
