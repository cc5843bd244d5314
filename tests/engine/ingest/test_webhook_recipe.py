"""The README's webhook recipe, run with bash, curl and openssl against a real server on loopback, is accepted."""

from __future__ import annotations

import json
import re
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from engine.app import build_engine
from engine.config import REPO_ROOT, Settings
from engine.ingest.demo_source import DEMO_SOURCE, SECRET_FILE, curl_example, demo_source_secret, with_demo_source
from engine.ingest.webhook import build_router
from engine.runtime import Engine
from engine.store.models import Message
from tests.waiting import wait_for

README_URL = "http://127.0.0.1:8080"
README_SECRET = "<paste the secret shown to admins in Settings>"


def readme_recipe() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"### Sending a message to the webhook\n.*?```sh\n(.*?)```", text, re.S)
    assert match, "the README has a webhook recipe"
    return match.group(1).rstrip("\n")


@pytest.fixture
def demo_desk(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    settings = with_demo_source(Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo=True))
    engine = build_engine(settings)
    app = FastAPI()
    app.include_router(build_router(engine))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_for(lambda: server.started, 30, "the server to start")
    try:
        yield engine, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True


def test_first_demo_start_creates_a_demo_source_with_a_private_secret_kept_across_restarts(tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo=True)
    secret = demo_source_secret(with_demo_source(settings))
    assert secret and len(secret) >= 32
    assert stat.S_IMODE((tmp_path / "data" / SECRET_FILE).stat().st_mode) == 0o600
    assert demo_source_secret(with_demo_source(settings)) == secret, "the same secret after a restart"
    assert demo_source_secret(with_demo_source(Settings.load(data_dir=tmp_path / "x", demo=False))) is None


def test_the_readme_curl_recipe_signs_a_request_the_desk_accepts(demo_desk: tuple[Engine, str]) -> None:
    engine, url = demo_desk
    recipe = readme_recipe()
    assert recipe == curl_example(README_URL, DEMO_SOURCE, README_SECRET), "README and Settings show one recipe"
    secret = demo_source_secret(engine.settings)
    assert secret is not None
    runnable = recipe.replace(README_URL, url).replace(f"'{README_SECRET}'", secret)
    done = subprocess.run(["bash", "-c", runnable], capture_output=True, text=True, timeout=60, check=True)
    answer = json.loads(done.stdout)
    assert answer["status"] == "accepted", done.stdout + done.stderr
    with engine.session() as session:
        message = session.get(Message, answer["message_id"])
    assert message is not None and message.body == "My order has not arrived yet."
    again = subprocess.run(["bash", "-c", runnable.replace("curl-1", "curl-2")], capture_output=True, text=True)
    assert json.loads(again.stdout)["status"] == "accepted"
