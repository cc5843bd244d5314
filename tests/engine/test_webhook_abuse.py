"""The webhook under abuse: replays, expired and old-style signatures, invalid UTF-8, floods of unsigned requests."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine.ingest.dead_letter_store import unpack_raw
from engine.ingest.dead_letters import list_dead_letters, retry_dead_letter
from engine.ingest.webhook import build_router
from engine.ingest.webhook_auth import SIGNATURE_HEADER, SOURCE_HEADER, sign, signed_headers
from engine.runtime import Engine
from engine.store.models import DeadLetter, Message, Ticket
from tests.engine.test_ingest_webhook import SECRET, count, make_engine, payload, post


def _client(engine: Engine) -> TestClient:
    app = FastAPI()
    app.include_router(build_router(engine))
    return TestClient(app)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return make_engine(tmp_path / "data")


def test_the_same_signed_request_sent_again_is_refused_as_a_replay(engine: Engine) -> None:
    client = _client(engine)
    raw = json.dumps(payload("r-1")).encode()
    headers = signed_headers("chatwidget", SECRET, raw) | {"Content-Type": "application/json"}
    assert client.post("/api/v1/messages", content=raw, headers=headers).status_code == 202
    replay = client.post("/api/v1/messages", content=raw, headers=headers)
    assert replay.status_code == 409 and "replayed" in replay.json()["detail"]
    assert replay.json()["dead_letter_id"] is not None
    resigned = post(client, payload("r-1"))
    assert resigned.status_code == 202 and resigned.json()["duplicate"], "a retry signed anew is a harmless repeat"
    assert count(engine, Message) == 1


def test_a_request_signed_more_than_five_minutes_ago_is_refused_and_dead_lettered(engine: Engine) -> None:
    client = _client(engine)
    old = post(client, payload("e-1"), now=time.time() - 301)
    assert old.status_code == 401 and "expired" in old.json()["detail"]
    future = post(client, payload("e-2"), now=time.time() + 400)
    assert future.status_code == 401 and "expired" in future.json()["detail"]
    (letter,) = list_dead_letters(engine)
    assert letter.received == 2 and "expired" in letter.error
    assert post(client, payload("e-3"), now=time.time() - 200).status_code == 202
    assert count(engine, Ticket) == 1


def test_the_old_body_only_signature_gets_a_clear_error(engine: Engine) -> None:
    raw = json.dumps(payload("o-1")).encode()
    old_style = "sha256=" + sign(SECRET, raw, "")[len("sha256=") :]  # any value: the timestamp header is missing
    headers = {SOURCE_HEADER: "chatwidget", SIGNATURE_HEADER: old_style}
    response = _client(engine).post("/api/v1/messages", content=raw, headers=headers)
    assert response.status_code == 401
    assert "X-CareDesk-Timestamp" in response.json()["detail"] and "old scheme" in response.json()["detail"]


def test_a_signed_body_with_invalid_utf8_is_kept_raw_and_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    raw = b'{"channel": "chat", "external_id": "u-1", "customer_handle": "@x", "text": "caf\\xe9"}'.replace(
        b"\\xe9", b"\xe9"
    )
    with caplog.at_level(logging.WARNING):
        response = post(_client(engine), raw)
    assert response.status_code == 400
    letter_id = response.json()["dead_letter_id"]
    assert letter_id is not None
    with engine.session() as session:
        letter = session.get(DeadLetter, letter_id)
    assert letter is not None and unpack_raw(letter.raw).endswith(raw)
    assert any("webhook refused (400)" in r.getMessage() for r in caplog.records)
    assert not retry_dead_letter(engine, letter_id).ok, "retry re-checks the signature, then the body again"


def test_unsigned_floods_keep_a_preview_and_a_count_not_the_bodies(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data", webhook_refusals_per_minute=1000)
    client = _client(engine)
    body = json.dumps(payload(text="x" * 900_000)).encode()
    database = tmp_path / "data" / "caredesk.db"
    before = sum(p.stat().st_size for p in database.parent.glob("caredesk.db*"))
    for _ in range(30):
        response = client.post("/api/v1/messages", content=body, headers={SOURCE_HEADER: "chatwidget"})
        assert response.status_code == 401
    grown = sum(p.stat().st_size for p in database.parent.glob("caredesk.db*")) - before
    assert grown < 2_000_000, f"30 refused 900 kB requests grew the database by {grown:,} bytes"
    (letter,) = list_dead_letters(engine)
    assert letter.received == 30 and len(letter.preview) < 1000


def test_too_many_refusals_from_one_address_get_429_while_signed_traffic_flows(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data", webhook_refusals_per_minute=5)
    client = _client(engine)
    statuses = [post(client, payload(), secret="wrong").status_code for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    throttled = post(client, payload(), secret="wrong")
    assert throttled.status_code == 429 and "try again" in throttled.json()["detail"]
    assert int(throttled.headers["Retry-After"]) > 0
    assert list_dead_letters(engine)[0].received == 5
    signed = [post(client, payload(f"ok-{i}")).status_code for i in range(50)]
    assert signed == [202] * 50, "signed requests from the same address are never throttled"


def test_a_full_dead_letter_table_keeps_counting_but_stores_nothing_new(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data", dead_letter_max_rows=2)
    client = _client(engine)
    body = payload()
    del body["customer_handle"]
    assert post(client, body).status_code == 422
    assert post(client, b"{not json").status_code == 400
    full = post(client, payload(channel="fax"))
    assert full.status_code == 422 and full.json()["dead_letter_id"] is None
    assert "dead-letter table is full" in full.json()["detail"]
    assert count(engine, DeadLetter) == 2
