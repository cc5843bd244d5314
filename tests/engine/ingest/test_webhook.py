"""The webhook API on a real FastAPI app and SQLite database: signatures, idempotency, limits and dead letters."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import func, select

from engine.app import build_engine
from engine.config import Settings
from engine.ingest.attachments import attachment_file, extracted_texts, ticket_attachments
from engine.ingest.dead_letters import list_dead_letters, retry_dead_letter
from engine.ingest.webhook import build_router
from engine.ingest.webhook_auth import SIGNATURE_HEADER, SOURCE_HEADER, TIMESTAMP_HEADER, signed_headers
from engine.runtime import Engine
from engine.store.attachment_models import AttachmentStatus
from engine.store.models import Customer, DeadLetter, Message, Ticket
from engine.worker import Worker
from tests.engine.ingest.test_attachments import text_pdf
from tests.waiting import wait_for

SECRET = "chat-secret"


def make_engine(data_dir: Path, **extra: Any) -> Engine:
    extra = {"webhook_secrets": {"chatwidget": SECRET}} | extra
    settings = Settings.load(data_dir=data_dir, model_backend="fake", demo=False, **extra)
    return build_engine(settings)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(tmp_path / "data", webhook_max_bytes=20_000)


@pytest.fixture
def client(engine: Engine) -> TestClient:
    app = FastAPI()
    app.include_router(build_router(engine))
    return TestClient(app)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[Engine, TestClient]]:
    """A started engine (its background worker triages and drafts) and a client of its webhook API."""
    engine = make_engine(tmp_path / "data")
    engine.start()
    app = FastAPI()
    app.include_router(build_router(engine))
    yield engine, TestClient(app)
    engine.stop()


def payload(external_id: str = "m-1", **fields: Any) -> dict[str, Any]:
    base = {
        "channel": "chat",
        "external_id": external_id,
        "customer_handle": "@amelia",
        "customer_name": "Amelia Garcia",
        "text": "My parcel has not arrived and the tracking page shows nothing.",
        "timestamp": "2025-01-31T09:15:00Z",
    }
    return base | fields


def post(
    client: TestClient,
    body: bytes | dict[str, Any],
    *,
    source: str = "chatwidget",
    secret: str = SECRET,
    now: float | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = signed_headers(source, secret, raw, now=now) | {"Content-Type": "application/json"}
    return client.post("/api/v1/messages", content=raw, headers=headers)


def count(engine: Engine, table: type) -> int:
    with engine.session() as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def test_signed_message_is_accepted_and_becomes_a_ticket(engine: Engine, client: TestClient) -> None:
    assert isinstance(engine.worker, Worker) and not engine.worker.woken
    response = post(client, payload())
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["duplicate"] is False
    with engine.session() as session:
        ticket = session.get(Ticket, body["ticket_id"])
        assert ticket is not None and ticket.channel == "chat" and ticket.triaged_at is None
        customer = session.get(Customer, ticket.customer_id)
        assert customer is not None and customer.handle == "@amelia" and customer.name == "Amelia Garcia"
        message = session.get(Message, body["message_id"])
        assert message is not None and message.body.startswith("My parcel has not arrived")
    wait_for(lambda: engine.worker.woken, 10, "the triage worker to be woken")  # the writer wakes it after answering


def test_the_same_external_id_twice_stores_one_message(engine: Engine, client: TestClient) -> None:
    first = post(client, payload("m-7"))
    again = post(client, payload("m-7"))
    assert first.status_code == again.status_code == 202
    assert again.json()["duplicate"] is True and again.json()["ticket_id"] == first.json()["ticket_id"]
    assert count(engine, Message) == 1 and count(engine, Ticket) == 1


def test_messages_of_one_conversation_share_a_ticket(engine: Engine, client: TestClient) -> None:
    first = post(client, payload("m-1", conversation_id="conv-9"))
    second = post(client, payload("m-2", conversation_id="conv-9", text="Any news? It is urgent."))
    other = post(client, payload("m-3", conversation_id="conv-10"))
    assert first.json()["ticket_id"] == second.json()["ticket_id"] != other.json()["ticket_id"]
    assert count(engine, Message) == 3 and count(engine, Ticket) == 2


def test_concurrent_requests_written_in_batches_keep_threads_and_skip_repeats(
    engine: Engine, client: TestClient
) -> None:
    bodies = [
        payload(f"c-{i}", conversation_id=f"conv-{i % 5}", text=f"Message {i} about my order.") for i in range(40)
    ]
    bodies += bodies[:10]  # repeats, sent while the first copies may be in the same write batch
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda body: post(client, body).json(), bodies))
    assert sum(a["duplicate"] for a in answers) == 10
    assert count(engine, Message) == 40 and count(engine, Ticket) == 5
    for i, answer in enumerate(answers[:40]):
        assert answer["ticket_id"] == answers[i % 5]["ticket_id"]
    with engine.session() as session:
        keys = set(session.exec(select(Ticket.external_id)).all())
    assert keys == {f"wh:chatwidget:c:conv-{k}" for k in range(5)}


def test_bad_signature_is_refused_and_counted_on_the_address_dead_letter(engine: Engine, client: TestClient) -> None:
    response = post(client, payload(), secret="wrong")
    assert response.status_code == 401
    assert "bad signature" in response.json()["detail"]
    unknown = post(client, payload(), source="nobody")
    assert unknown.status_code == 401 and "unknown source" in unknown.json()["detail"]
    assert count(engine, Ticket) == 0
    (letter,) = list_dead_letters(engine)
    assert letter.source == "webhook:refused@testclient" and letter.received == 2
    assert "unknown source 'nobody'" in letter.error and "My parcel" in letter.preview


def test_oversized_body_gets_413_and_a_preview_is_kept(engine: Engine, client: TestClient) -> None:
    response = post(client, payload(text="x" * 19_000, attachments=[{"name": "a.txt", "data": "eHh4" * 2000}]))
    assert response.status_code == 413
    assert "limit is 20,000" in response.json()["detail"]
    assert count(engine, Ticket) == 0
    letter_id = response.json()["dead_letter_id"]
    outcome = retry_dead_letter(engine, letter_id)
    assert not outcome.ok and "send it again" in outcome.message


def test_malformed_json_gets_400_and_the_raw_body_is_kept(engine: Engine, client: TestClient) -> None:
    raw = b'{"channel": "chat", "external_id": "m-1", "text": "broken'
    response = post(client, raw)
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["detail"]
    with engine.session() as session:
        letter = session.get(DeadLetter, response.json()["dead_letter_id"])
    assert letter is not None and raw.decode() in letter.raw and not letter.resolved


def test_missing_fields_get_422_naming_them(engine: Engine, client: TestClient) -> None:
    body = payload()
    del body["customer_handle"]
    body["channel"] = "fax"
    response = post(client, body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "customer_handle" in detail and "channel" in detail
    assert count(engine, Ticket) == 0 and len(list_dead_letters(engine)) == 1


def test_a_request_from_an_unknown_source_is_sent_again_after_the_fix(tmp_path: Path) -> None:
    broken = make_engine(tmp_path / "data")
    app = FastAPI()
    app.include_router(build_router(broken))
    response = post(TestClient(app), payload(), source="sms-gateway", secret="gateway-secret")
    assert response.status_code == 401
    fixed = make_engine(tmp_path / "data", webhook_secrets={"sms-gateway": "gateway-secret"})
    outcome = retry_dead_letter(fixed, response.json()["dead_letter_id"])
    assert not outcome.ok and "send it again" in outcome.message, "only a preview of an unsigned request is kept"
    app = FastAPI()
    app.include_router(build_router(fixed))
    assert post(TestClient(app), payload(), source="sms-gateway", secret="gateway-secret").status_code == 202
    assert count(fixed, Ticket) == 1


def test_voice_transcript_keeps_its_audio_as_a_downloadable_attachment(engine: Engine, client: TestClient) -> None:
    audio = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(64))
    body = payload(
        "call-1",
        channel="voice",
        text="Caller says the router keeps dropping the connection every evening.",
        attachments=[{"name": "call-1.wav", "content_type": "audio/wav", "data": base64.b64encode(audio).decode()}],
    )
    response = post(client, body)
    assert response.status_code == 202, response.text
    ticket_id = response.json()["ticket_id"]
    with engine.session() as session:
        assert session.get(Ticket, ticket_id).channel == "voice"  # type: ignore[union-attr]
        (attachment,) = ticket_attachments(session, ticket_id)
    assert attachment.content_type == "audio/wav" and attachment.size == len(audio)
    found = attachment_file(engine, attachment.id)  # type: ignore[arg-type]
    assert found is not None and found[0] == audio
    _wait_for_status(engine, attachment.id, AttachmentStatus.STORED)  # type: ignore[arg-type]


def test_openapi_page_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/messages"]["post"]
    assert {"202", "400", "401", "413", "422"} <= set(operation["responses"])
    headers = {p["name"] for p in operation["parameters"]}
    assert {SOURCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER} <= headers
    fields = spec["components"]["schemas"]["MessageIn"]["properties"]
    assert "conversation_id" in fields and "description" in fields["external_id"]


def _wait_for_status(engine: Engine, attachment_id: int, status: str, timeout: float = 10.0) -> None:
    from engine.store.attachment_models import Attachment

    def reached() -> bool:
        with engine.session() as session:
            row = session.get(Attachment, attachment_id)
        return row is not None and row.status == status

    wait_for(reached, timeout, f"attachment {attachment_id} to reach {status}")


def test_the_background_worker_triages_accepted_messages_then_drafts_them(
    started: tuple[Engine, TestClient],
) -> None:
    engine, client = started
    ids = [post(client, payload(f"w-{i}", text=f"Order {i} never arrived.")).json()["ticket_id"] for i in range(3)]
    tickets: list[Ticket] = []

    def drafted() -> bool:
        nonlocal tickets
        with engine.session() as session:
            tickets = [t for t in (session.get(Ticket, i) for i in ids) if t is not None]
        return all(t.triaged_at is not None and t.drafted_at is not None for t in tickets)

    wait_for(drafted, 120, "the tickets to be triaged and drafted")
    assert len(tickets) == 3 and all(t.intent and t.triaged_at is not None for t in tickets)
    assert all(t.drafted_at is not None for t in tickets), "drafted once no new message came for a moment"


def test_a_message_with_a_pdf_is_triaged_by_the_worker_with_the_pdf_text(started: tuple[Engine, TestClient]) -> None:
    engine, client = started
    pdf = base64.b64encode(text_pdf(["Order 5521 was charged twice on my card"])).decode()
    body = payload(
        "m-real",
        text="I see two charges for the same order. Please refund one of them.",
        attachments=[{"name": "statement.pdf", "content_type": "application/pdf", "data": pdf}],
    )
    response = post(client, body)
    assert response.status_code == 202
    ticket_id = response.json()["ticket_id"]
    ticket: Ticket | None = None
    texts: dict[int, str] = {}

    def triaged() -> bool:
        nonlocal ticket, texts
        with engine.session() as session:
            ticket = session.get(Ticket, ticket_id)
            texts = extracted_texts(session, [response.json()["message_id"]])
        return ticket is not None and ticket.triaged_at is not None and bool(texts)

    wait_for(triaged, 900, "the worker to triage the ticket with its PDF text")
    assert ticket is not None and ticket.triaged_at is not None, "triaged by the background worker"
    assert ticket.intent and ticket.intent_confidence is not None and ticket.valence is not None
    assert "charged twice" in texts[response.json()["message_id"]]
