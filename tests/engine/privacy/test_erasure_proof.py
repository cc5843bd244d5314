"""Proof of erasure: a customer's unique strings (with digits) planted everywhere their data can reach, then erased;
the raw bytes of every file of the data dir (database, WAL, attachments, indexes, model versions, embedding cache,
a log file) hold none of them. The audit log kept only references all along."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from engine.app import build_engine
from engine.config import Settings
from engine.demo import DemoStoreServer, StoreData
from engine.feedback.capture import override_intent
from engine.feedback.embedding_cache import DiskEmbeddingCache
from engine.feedback.retrain import retrain
from engine.feedback.training_data import confirmed_rows, demo_training_rows
from engine.ingest.attachments import save_attachment
from engine.ingest.intake import InboundMessage, intake
from engine.knowledge.similar_tickets import SimilarTickets
from engine.nlp.embedder import DIM, HashingEmbedder
from engine.nlp.intent import IntentModelRegistry
from engine.privacy import audit
from engine.privacy.crypto import Cipher, set_cipher
from engine.privacy.erasure import _fragments, erase_customer
from engine.privacy.log_redaction import install_log_redaction
from engine.routing.actions.base import ActionContext
from engine.routing.actions.runner import ActionRunner
from engine.runtime import Engine, Services
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
from tests.engine.routing.test_actions import _order, store_client

NAME = "Quorra Zentelwick"
EMAIL = "quorra.zentelwick8841@example.org"
HANDLE = "quorra_z8841"
CODE = "zentelquill4471"  # survives redaction: it reaches the training text and a model's vocabulary
ADDRESS = "12 Zentelwick Lane, Leeds LS1 4AP"
PLANTED = {
    "name": NAME,
    "email": EMAIL,
    "handle": HANDLE,
    "message": CODE,
    "attachment": "zqreceipt5512",
    "attachment name": "zqinvoice6623.txt",
    "draft": "zqdraft6613",
    "reply": "zqedit7714",
    "survey": "zqsurvey8815",
    "address": "Zentelwick Lane",
    "dead letter": "zqdead9916",
}
OTHER = "otterlantern2290"  # another customer's, kept


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    set_cipher(Cipher([Cipher.generate_key()]))
    yield build_engine(Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo=False))
    set_cipher(None)


def _intake(engine: Engine, name: str, email: str, text: str, handle: str | None = None) -> tuple[int, int, int]:
    with engine.transaction() as session:
        inbound = InboundMessage(
            channel="email", customer_name=name, customer_email=email, customer_handle=handle, text=text
        )
        result = intake(session, inbound)
        assert result.message_id is not None
        ticket_id = result.ticket_id
        override_intent(session, ticket_id=ticket_id, new_intent="track_order", agent="ann")  # a training label
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket.customer_id, ticket_id, result.message_id


def _plant(engine: Engine, store: DemoStoreServer) -> tuple[int, int]:
    body = f"Where is my parcel {CODE}? Please ship it to {ADDRESS} instead, thanks."
    customer_id, ticket_id, message_id = _intake(engine, NAME, EMAIL, body, HANDLE)
    _, other_ticket, _ = _intake(engine, "Olly Other", "olly@example.org", f"Where is my parcel {OTHER}?")
    with engine.transaction() as session:
        session.add(TriageResult(ticket_id=ticket_id, message_id=message_id, intent="track_order", confidence=0.9))
        draft = Draft(ticket_id=ticket_id, text=f"Dear {NAME}, parcel {PLANTED['draft']} is on its way.")
        session.add(draft)
        session.flush()
        final = f"Dear {NAME}, parcel {PLANTED['reply']} is on its way to {ADDRESS}."
        session.add(Feedback(ticket_id=ticket_id, draft_id=draft.id, kind=FeedbackKind.EDIT, final_text=final))
        session.add(Message(ticket_id=ticket_id, direction=Direction.OUTBOUND, body=final))
        session.add(Survey(ticket_id=ticket_id, token="t-proof", comment=f"slow {PLANTED['survey']}"))
        session.add(DeadLetter(source="email:inbox#1", raw=f"From: {EMAIL}\n\n{PLANTED['dead letter']}", error="x"))
        save_attachment(
            session,
            engine.settings,
            ticket_id=ticket_id,
            message_id=message_id,
            filename=PLANTED["attachment name"],
            content_type="text/plain",
            data=f"receipt {PLANTED['attachment']} for {NAME}".encode(),
        )
    _order(store, EMAIL, level="gold", age_days=1, status="order received")
    runner = ActionRunner(store_client(store, timeout=2.0))  # an action: its summary and answer hold the address
    context = ActionContext(ticket_id, EMAIL, NAME, body, {"address": ADDRESS})
    assert runner.preview(engine.db, "shipping_address", context, actor="ann").check.ok
    assert ADDRESS in runner.execute(engine.db, "shipping_address", context, actor="ann").customer_text
    embedder = HashingEmbedder()
    vectors = embedder.encode([body, f"Where is my parcel {OTHER}?"])
    similar = SimilarTickets(engine.settings.data_dir / "index" / "tickets", DIM)
    similar.add_many([ticket_id, other_ticket], vectors)
    similar.save()
    engine.services = Services(embedder=embedder, similar=similar, vectors={ticket_id: vectors[0]})
    registry = IntentModelRegistry(engine.settings.models_dir / "intent")
    cache = DiskEmbeddingCache(engine.settings.models_dir / "training_embeddings.npz", embedder)
    base = demo_training_rows(Path(__file__).resolve().parents[3] / "data", 300, 20)
    with engine.session() as session:
        confirmed = confirmed_rows(session)
    for trigger in ("first", "second"):  # two versions trained on the customer's text, the newest active
        _, result = retrain(registry, base=base, confirmed=confirmed, embed=cache.encode, trigger=trigger)
        registry.activate(result.version)
    return customer_id, ticket_id


def _hits(data_dir: Path, value: str) -> list[str]:
    needles = {value.encode(), value.lower().encode(), json.dumps(value)[1:-1].encode()}
    return sorted(
        p.relative_to(data_dir).as_posix()
        for p in data_dir.rglob("*")
        if p.is_file() and any(n in p.read_bytes() for n in needles)
    )


def test_after_erasure_no_byte_of_the_data_dir_holds_the_customers_strings(
    engine: Engine, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    data_dir = engine.settings.data_dir
    log_file = logging.FileHandler(data_dir / "caredesk.log", encoding="utf-8")  # a log kept in the data dir
    logging.getLogger().addHandler(log_file)
    install_log_redaction()
    caplog.set_level(logging.INFO)
    store = DemoStoreServer(StoreData(engine.db, tmp_path / "store" / "demo_store.sqlite3"))  # another system
    store.start()
    try:
        customer_id, ticket_id = _plant(engine, store)
        before = {what: _hits(data_dir, value) for what, value in PLANTED.items()}
        assert before["name"] and before["email"] and before["message"]  # the scan sees them before erasure
        assert any(p.startswith("models/intent/") for p in before["message"])  # a model's vocabulary kept the code
        with engine.session() as session:  # the audit log only ever held references
            rows = session.exec(select(AuditEntry)).all()
        written = json.dumps([[r.actor, r.action, r.subject, r.details] for r in rows])
        assert not [what for what, value in PLANTED.items() if value.lower() in written.lower()]
        assert any(r.action.startswith("action_") and "action_id" in r.details for r in rows)

        report = erase_customer(engine, customer_id, actor="admin")
        with engine.db.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        log_file.flush()
    finally:
        store.stop()
        logging.getLogger().removeHandler(log_file)
        log_file.close()

    after = {what: _hits(data_dir, value) for what, value in PLANTED.items()}
    assert after == {what: [] for what in PLANTED}
    assert report.complete, report.summary()
    assert report.models.retrained is not None and report.models.dropped == ["v0001", "v0002"]
    assert report.models.cache_rows >= 1
    with engine.session() as session:
        assert audit.verify(session).ok
        assert session.exec(select(Message).where(Message.ticket_id == ticket_id)).first() is None
    active = IntentModelRegistry(engine.settings.models_dir / "intent").active()
    assert active is not None and active[1]["version"] == report.models.retrained[1]


def test_the_leftover_scan_looks_for_strings_with_digits() -> None:
    fragments = _fragments([f"Where is my parcel {CODE}? Order ORD-77120 of 2024, call 555-0142 or 5550142999."])
    assert CODE in fragments and "ORD-77120" in fragments and "5550142999" in fragments
    assert "2024," not in fragments and "2024" not in fragments
