"""One long message (no spaces: Japanese, a URL, base64) must neither overflow the drafting prompt nor stop the desk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine import worker as worker_module
from engine.app import build_engine
from engine.assist import draft_with
from engine.config import Settings
from engine.drafting.prompt import MESSAGE_TOKENS, build_prompt, clip_text
from engine.drafting.sources import Source
from engine.ingest.webhook import build_router
from engine.ingest.webhook_auth import signed_headers
from engine.runtime import Engine
from engine.store.models import Ticket
from engine.worker import Worker
from tests.waiting import wait_for

SECRET = "long-message-secret"
JAPANESE = ("注文した商品がまだ届いていません。" * 80)[:1209]  # the attack run's message: 1,209 characters, no spaces


def make_engine(data_dir: Path, backend: str) -> Engine:
    settings = Settings.load(
        data_dir=data_dir,
        model_backend=backend,
        demo=False,
        demo_training_per_intent=40,
        webhook_secrets={"chatwidget": SECRET},
    )
    return build_engine(settings)


def post(client: TestClient, message_id: str, text: str) -> int:
    body = {
        "channel": "chat",
        "external_id": message_id,
        "customer_handle": f"@{message_id}",
        "customer_name": "Aiko Tanaka",
        "text": text,
    }
    raw = json.dumps(body).encode()
    headers = signed_headers("chatwidget", SECRET, raw) | {"Content-Type": "application/json"}
    response = client.post("/api/v1/messages", content=raw, headers=headers)
    assert response.status_code == 202, response.text
    return int(response.json()["ticket_id"])


def tickets(engine: Engine, ids: list[int]) -> list[Ticket]:
    with engine.session() as session:
        return [t for t in (session.get(Ticket, i) for i in ids) if t is not None]


def wait_until_drafted(engine: Engine, ids: list[int], timeout: float) -> list[Ticket]:
    def drafted() -> bool:
        found = tickets(engine, ids)
        return len(found) == len(ids) and all(t.drafted_at is not None for t in found)

    wait_for(drafted, timeout, f"tickets {ids} to be drafted")
    return tickets(engine, ids)


def client_for(engine: Engine) -> TestClient:
    app = FastAPI()
    app.include_router(build_router(engine))
    return TestClient(app)


def test_a_message_without_spaces_is_clipped_to_its_token_budget() -> None:
    clipped = clip_text(JAPANESE, max_words=80, max_tokens=MESSAGE_TOKENS)
    assert clipped.endswith(" ...") and len(clipped.encode()) <= MESSAGE_TOKENS
    assert clip_text("short message", max_words=80, max_tokens=MESSAGE_TOKENS) == "short message"
    url = "https://example.com/track?" + "a1B2" * 2000
    returns = Source(1, 1, "returns", "Returns", "", "Items can be returned within 30 days.", score=1.0)
    prompt = build_prompt(customer_message=url, sources=[returns])
    assert len(prompt.messages[-1]["content"].encode()) < 1000


@pytest.mark.real_models
def test_a_long_message_without_spaces_is_drafted_and_the_desk_goes_on_with_the_real_model(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data", "real")
    engine.start()
    try:
        client = client_for(engine)
        long_id = post(client, "long-1", JAPANESE)
        found = wait_until_drafted(engine, [long_id], 600)
        assert found and found[0].drafted_at is not None, "the long message is drafted within the model's context"
        next_id = post(client, "next-1", "Where is my order? It has not arrived yet.")
        found = wait_until_drafted(engine, [next_id], 300)
        assert found and found[0].triaged_at is not None and found[0].drafted_at is not None, "the desk goes on"
    finally:
        engine.stop()


def test_a_draft_that_fails_is_set_aside_and_the_other_tickets_are_drafted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    poisoned_ids: set[int] = set()

    def draft_or_fail(services: Any, settings: Any, session: Any, ticket_id: int, **kwargs: Any) -> Any:
        if ticket_id in poisoned_ids:  # as llama.cpp failed on the attack run's message
            raise ValueError("Requested tokens (2452) exceed context window of 2048")
        return draft_with(services, settings, session, ticket_id, **kwargs)

    monkeypatch.setattr(worker_module, "draft_with", draft_or_fail)
    engine = make_engine(tmp_path / "data", "fake")
    engine.start()
    try:
        wait_for(lambda: engine.ready, 120, "the models to load")
        client = client_for(engine)
        poisoned = post(client, "p-1", "My parcel has not arrived")
        poisoned_ids.add(poisoned)
        others = [post(client, f"o-{i}", f"My order {i} is late, where is it?") for i in range(3)]
        found = wait_until_drafted(engine, others, 120)
        assert all(t.drafted_at is not None for t in found), "the other tickets are drafted"
        assert tickets(engine, [poisoned])[0].drafted_at is None
        assert isinstance(engine.worker, Worker) and engine.worker.alive, "the worker thread is still running"
        later = post(client, "o-late", "And my refund for order 77?")
        assert wait_until_drafted(engine, [later], 60)[0].drafted_at is not None
    finally:
        engine.stop()
