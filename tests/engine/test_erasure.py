"""Right to erasure and access: after erasing a customer no table, index file or training set holds their text."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from engine.accounts.users import ensure_demo_accounts
from engine.app import build_engine
from engine.config import Settings
from engine.feedback.training_data import confirmed_rows
from engine.ingest.attachments import save_attachment
from engine.ingest.dead_letter_store import pack_raw
from engine.ingest.intake import InboundMessage, intake
from engine.knowledge.similar_tickets import SimilarTickets
from engine.nlp.embedder import DIM, HashingEmbedder, MiniLMEmbedder
from engine.privacy import audit, cli_ops
from engine.privacy.crypto import KEY_FILE, Cipher, set_cipher
from engine.privacy.erasure import CustomerNotFound, erase_customer, export_customer
from engine.privacy.redaction import redact
from engine.runtime import Engine, Services
from engine.store.account_models import User
from engine.store.audit_models import AuditEntry
from engine.store.models import (
    DeadLetter,
    Direction,
    Draft,
    Feedback,
    FeedbackKind,
    Message,
    Survey,
    Ticket,
    TriageResult,
)

MARKER = "zanzibar-quill-4471"  # appears only in the erased customer's data
KEEP = "otter-lantern-2290"  # appears only in the other customer's data
ERASED_TEXT = f"My parcel never arrived although tracking says it was delivered yesterday, reference {MARKER}."


@dataclass
class Seeded:
    customer_id: int
    ticket_ids: list[int]
    other_ticket_id: int


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    set_cipher(Cipher([Cipher.generate_key()]))
    yield build_engine(Settings.load(data_dir=tmp_path, model_backend="fake", demo=True, demo_ticket_count=20))
    set_cipher(None)


def _ticket(engine: Engine, *, name: str, email: str, body: str, external_id: str) -> tuple[int, int, int]:
    with engine.transaction() as session:
        result = intake(
            session,
            InboundMessage(
                channel="email", customer_name=name, customer_email=email, text=body, external_id=external_id
            ),
        )
        ticket = session.get(Ticket, result.ticket_id)
        assert ticket is not None and result.message_id is not None
        return ticket.customer_id, result.ticket_id, result.message_id


def seed_customer_everywhere(engine: Engine, embedder: HashingEmbedder | MiniLMEmbedder) -> Seeded:
    """One customer with the marker in every place CareDesk keeps text, and another customer to keep."""
    email = "erin.marsh@example.org"
    customer_id, ticket_id, message_id = _ticket(
        engine, name="Erin Marsh", email=email, body=ERASED_TEXT, external_id="erase-1"
    )
    _, second_ticket, _ = _ticket(
        engine, name="Erin Marsh", email=email, body=f"Still waiting about {MARKER}, please call me.", external_id="e2"
    )
    _, other_ticket, _ = _ticket(
        engine,
        name="Olly Other",
        email="olly@example.org",
        body=f"My card was charged twice for one order, case {KEEP}.",
        external_id="keep-1",
    )
    with engine.transaction() as session:
        session.add(Message(ticket_id=ticket_id, direction=Direction.OUTBOUND, body=f"We are on it ({MARKER})."))
        session.add(TriageResult(ticket_id=ticket_id, message_id=message_id, intent="track_order", confidence=0.93))
        draft = Draft(ticket_id=ticket_id, text=f"Sorry about parcel {MARKER}; a replacement is on its way.")
        session.add(draft)
        session.flush()
        session.add(
            Feedback(
                ticket_id=ticket_id,
                draft_id=draft.id,
                kind=FeedbackKind.EDIT,
                draft_text=draft.text,
                final_text=f"Edited reply about {MARKER}.",
                old_intent="track_order",
            )
        )
        session.add(Survey(ticket_id=ticket_id, token="survey-erase-1", comment=f"slow answer on {MARKER}"))
        save_attachment(
            session,
            engine.settings,
            ticket_id=ticket_id,
            message_id=message_id,
            filename="receipt.txt",
            content_type="text/plain",
            data=f"Receipt for {MARKER}".encode(),
        )
        session.add(
            DeadLetter(source="email:inbox#9", raw=f"From: {email}\nSubject: {MARKER}\n\n(bad MIME)", error="x")
        )
        binary = b"\xff\xfe garbled " + email.upper().encode() + b" \x00"  # stored base64-packed, as ingest does
        session.add(DeadLetter(source="email:inbox#10", raw=pack_raw(binary), error="not UTF-8"))
    ids = [ticket_id, second_ticket, other_ticket]
    vectors = embedder.encode([ERASED_TEXT, f"Still waiting about {MARKER}", f"charged twice {KEEP}"])
    similar = SimilarTickets(engine.settings.data_dir / "index" / "tickets", DIM)
    similar.add_many(ids[:2], vectors[:2])
    similar.save()  # the erased vectors are in the snapshot file ...
    similar.add(ids[2], vectors[2])  # ... and the journal holds a later change
    engine.services = Services(embedder=embedder, similar=similar, vectors=dict(zip(ids, vectors, strict=True)))
    return Seeded(customer_id, ids[:2], other_ticket)


def files_holding(root: Path, needle: str) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()
    )


def test_after_erasure_no_table_index_file_or_training_set_holds_the_customers_text(engine: Engine) -> None:
    seeded = seed_customer_everywhere(engine, HashingEmbedder())
    data_dir = engine.settings.data_dir
    with engine.session() as session:
        texts, _ = confirmed_rows(session)
    assert redact(ERASED_TEXT).text in texts  # an agent-confirmed ticket is intent training data (redacted)
    assert files_holding(data_dir, "erin.marsh@example.org")  # the grep can see the customer before erasure ...
    assert files_holding(data_dir, MARKER) == []  # ... but no file holds their text in the clear: it is encrypted
    erased_vectors = [engine.services.vectors[t].tobytes() for t in seeded.ticket_ids]  # type: ignore[union-attr]

    report = erase_customer(engine, seeded.customer_id, actor="admin")

    assert files_holding(data_dir, MARKER) == []  # database, WAL, index snapshot/journal, attachments, models
    assert files_holding(data_dir, "erin.marsh@example.org") == []
    with engine.session() as session:
        kept = session.exec(select(Message.body).where(Message.ticket_id == seeded.other_ticket_id)).all()
        assert any(KEEP in body for body in kept)  # others' data stays, and stays readable
        texts, _ = confirmed_rows(session)
        assert redact(ERASED_TEXT).text not in texts and not any(MARKER in t for t in texts)
        assert session.exec(select(Ticket).where(col(Ticket.id).in_(seeded.ticket_ids))).first() is None
        assert session.get(Ticket, seeded.other_ticket_id) is not None
    assert report.complete and report.leftover_files == []
    assert report.rows["customer"] == 1 and report.rows["ticket"] == 2 and report.rows["message"] == 3
    assert {report.rows[t] for t in ("draft", "feedback", "triageresult", "survey", "attachment")} == {1}
    assert report.rows["deadletter"] == 2
    assert report.vectors == 2 and report.attachment_files == 1

    reopened = SimilarTickets(data_dir / "index" / "tickets", DIM)
    assert seeded.other_ticket_id in reopened and not any(t in reopened for t in seeded.ticket_ids)
    index_bytes = b"".join(p.read_bytes() for p in (data_dir / "index").rglob("*") if p.is_file())
    assert not any(vector in index_bytes for vector in erased_vectors)
    assert not set(seeded.ticket_ids) & set(engine.services.vectors)  # type: ignore[union-attr]


def test_erasure_leaves_a_tombstone_without_personal_data_and_the_chain_verifies(engine: Engine) -> None:
    seeded = seed_customer_everywhere(engine, HashingEmbedder())
    report = erase_customer(engine, seeded.customer_id, actor="admin")
    with engine.session() as session:
        tombstone = session.get(AuditEntry, report.audit_entry_id)
        assert audit.verify(session).ok
    assert tombstone is not None
    assert (tombstone.actor, tombstone.action, tombstone.subject) == (
        "admin",
        "erase_customer",
        f"customer:{seeded.customer_id}",
    )
    assert tombstone.details["rows"]["message"] == 3
    assert MARKER not in json.dumps(tombstone.details) and "erin" not in json.dumps(tombstone.details).lower()
    assert f"Erased customer {seeded.customer_id}" in report.summary() and "3 message" in report.summary()
    with pytest.raises(CustomerNotFound):
        erase_customer(engine, seeded.customer_id)


def test_leftover_scan_names_a_model_file_that_kept_training_texts(engine: Engine) -> None:
    seeded = seed_customer_everywhere(engine, HashingEmbedder())
    saved = engine.settings.models_dir / "intent" / "v1" / "training.jsonl"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps({"text": ERASED_TEXT, "label": "track_order"}) + "\n", encoding="utf-8")
    report = erase_customer(engine, seeded.customer_id)
    assert report.leftover_files == ["models/intent/v1/training.jsonl"] and not report.complete
    assert "models/intent/v1/training.jsonl" in report.summary()


def test_leftover_scan_names_an_index_file_that_kept_an_erased_vector(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed_customer_everywhere(engine, HashingEmbedder())
    monkeypatch.setattr(SimilarTickets, "save", lambda self: None)  # like a graph file that only marks deletions
    report = erase_customer(engine, seeded.customer_id)
    assert report.leftover_files == ["index/tickets/tickets.npz"] and not report.complete


def test_export_holds_everything_about_the_customer_as_json(engine: Engine) -> None:
    seeded = seed_customer_everywhere(engine, HashingEmbedder())
    data = json.loads(json.dumps(export_customer(engine, seeded.customer_id, actor="admin")))
    assert data["customer"]["email"] == "erin.marsh@example.org"
    records = data["records"]
    assert sorted(t["id"] for t in records["ticket"]) == sorted(seeded.ticket_ids)
    assert ERASED_TEXT in [m["body"] for m in records["message"]]
    assert all(len(records[t]) == 1 for t in ("draft", "feedback", "triageresult", "survey", "attachment"))
    assert MARKER.encode() in base64.b64decode(data["attachment_files"][0]["content_base64"])
    assert len(data["dead_letters"]) == 2 and data["derived"]["ticket_vectors"] == 2
    assert KEEP not in json.dumps(data)
    with engine.session() as session:
        last = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
    assert last is not None and last.action == "export_customer"


def test_cli_erase_export_verify_and_key_rotation(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> None:
    seeded = seed_customer_everywhere(engine, HashingEmbedder())
    engine.services = None  # the CLI runs without the app: the index is read from disk
    settings = engine.settings
    out = tmp_path_factory.mktemp("exports") / "customer.json"  # outside the data dir
    assert "3 message" in cli_ops.export(settings, seeded.customer_id, out)
    assert out.stat().st_mode & 0o777 == 0o600 and MARKER in out.read_text(encoding="utf-8")
    summary = cli_ops.erase(settings, seeded.customer_id)
    assert "2 ticket" in summary and "Removed 2 ticket vectors" in summary
    assert files_holding(settings.data_dir, MARKER) == []
    assert seeded.ticket_ids[0] not in SimilarTickets(settings.data_dir / "index" / "tickets", DIM)

    ok, message = cli_ops.audit_verify(settings)
    assert ok, message
    with engine.db.begin() as conn:
        conn.execute(text("UPDATE auditentry SET actor = 'someone-else' WHERE action = 'erase_customer'"))
    ok, message = cli_ops.audit_verify(settings)
    with engine.session() as session:
        broken = session.exec(select(AuditEntry.id).where(AuditEntry.action == "erase_customer")).one()
    assert not ok and f"row {broken}" in message

    ensure_demo_accounts(engine.db)
    with engine.db.connect() as conn:
        before = conn.execute(text("SELECT totp_secret FROM user WHERE username = 'admin'")).scalar_one()
    message = cli_ops.rotate_key(settings)
    assert "1 user.totp_secret" in message and "1 older key(s) kept" in message
    assert len((settings.data_dir / KEY_FILE).read_bytes().split()) == 2
    with engine.db.connect() as conn:
        after = conn.execute(text("SELECT totp_secret FROM user WHERE username = 'admin'")).scalar_one()
    assert after != before
    newest_only = Cipher([(settings.data_dir / KEY_FILE).read_bytes().split()[0]])
    assert newest_only.decrypt(after) == "CAREDESKDEMOADMINTOTPSECRET23456"
    with engine.session() as session:
        assert session.exec(select(User).where(User.username == "admin")).one().totp_secret is not None


def test_erase_keeps_an_attachment_file_another_ticket_shares(engine: Engine) -> None:
    seeded = seed_customer_everywhere(engine, HashingEmbedder())
    with engine.transaction() as session:
        shared = save_attachment(
            session,
            engine.settings,
            ticket_id=seeded.other_ticket_id,
            message_id=None,
            filename="same.txt",
            content_type="text/plain",
            data=f"Receipt for {MARKER}".encode(),
        )
    report = erase_customer(engine, seeded.customer_id)
    assert report.attachment_files == 0 and (engine.settings.data_dir / shared.path).is_file()


def test_text_another_customer_also_wrote_is_kept_and_reported(engine: Engine) -> None:
    seeded = seed_customer_everywhere(engine, HashingEmbedder())
    common = "My parcel never arrived although tracking says it was delivered yesterday"
    _ticket(engine, name="Pat Same", email="pat@example.org", body=f"{common}, what now?", external_id="same-1")
    report = erase_customer(engine, seeded.customer_id)
    assert any("also occur in other customers' messages" in note for note in report.notes)
    with engine.session() as session:
        assert any(common in body for body in session.exec(select(Message.body)))


@pytest.mark.real_models
def test_erased_tickets_are_no_longer_found_by_similar_ticket_search_with_the_real_embedder(engine: Engine) -> None:
    embedder = MiniLMEmbedder()
    embedder.load()
    seeded = seed_customer_everywhere(engine, embedder)
    query = embedder.encode(["my package was marked delivered but never came"])[0]
    similar = engine.services.similar  # type: ignore[union-attr]
    assert similar is not None and similar.search(query, k=1)[0][0] == seeded.ticket_ids[0]
    erase_customer(engine, seeded.customer_id)
    hits = SimilarTickets(engine.settings.data_dir / "index" / "tickets", DIM).search(query, k=5)
    assert [ticket_id for ticket_id, _ in hits] == [seeded.other_ticket_id]
    assert np.isfinite(hits[0][1])
