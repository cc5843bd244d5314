"""No process of the app outlives it: the real app is stopped with SIGTERM and killed with SIGKILL.

The app (`python main.py`, real models) starts an embedding child process and multiprocessing's resource tracker;
both must be gone within 5 s of the app's end, however it ended.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.config import REPO_ROOT
from engine.nlp.embedder import MiniLMEmbedder
from engine.nlp.embedding_process import ProcessEmbedder

pytestmark = [pytest.mark.real_models, pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")]

STARTUP_TIMEOUT = 600.0


def descendants(pid: int) -> set[int]:
    """Every living process below `pid` (Linux /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                kids = [int(k) for k in children.read_text().split()]
            except OSError:
                continue
            todo += [k for k in kids if k not in found]
            found.update(kids)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_app(data_dir: Path) -> tuple[subprocess.Popen[bytes], set[int]]:
    """Start the app; return it once its embedding child and resource tracker run, with their pids."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "NICEGUI"))} | {
        "CAREDESK_DATA_DIR": str(data_dir),
        "CAREDESK_DEMO": "false",
        "CAREDESK_PORT": str(free_port()),
        "CAREDESK_MODEL_BACKEND": "real",
    }
    app = subprocess.Popen(
        [sys.executable, "main.py"], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert app.poll() is None, "the app exited while starting"
        lines = {pid: command_line(pid) for pid in descendants(app.pid)}
        spawned = {pid for pid, line in lines.items() if "spawn_main" in line}
        tracker = {pid for pid, line in lines.items() if "resource_tracker" in line}
        if spawned and tracker:
            return app, set(lines)
        time.sleep(0.5)
    app.kill()
    raise AssertionError("the embedding child never started")


def gone_within(pids: set[int], seconds: float) -> set[int]:
    """The pids still alive after waiting up to `seconds` for all of them to end."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = {pid for pid in pids if alive(pid)}
        if not left:
            return set()
        time.sleep(0.1)
    return {pid for pid in pids if alive(pid)}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_no_child_process_outlives_the_app(tmp_path: Path, stop: signal.Signals) -> None:
    app, children = start_app(tmp_path / "data")
    try:
        app.send_signal(stop)
        app.wait(timeout=60)
        left = gone_within(children, 5.0)
        assert not left, f"still running 5 s after {stop.name}: {[command_line(pid)[:120] for pid in left]}"
    finally:
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if app.poll() is None:
            app.kill()


def test_the_embedding_child_lives_on_when_the_thread_that_started_it_ends() -> None:
    embedder = ProcessEmbedder(MiniLMEmbedder(workers=1))
    starter = threading.Thread(target=embedder.load)  # the kernel's parent-death signal follows this thread
    starter.start()
    starter.join()
    try:
        child = {pid for pid in descendants(os.getpid()) if "spawn_main" in command_line(pid)}
        assert child, "the embedding child runs"
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:  # the signal comes when the thread's OS thread is gone: give it time
            vectors = embedder.encode([f"where is my order {i}" for i in range(40)])
            assert vectors.shape == (40, embedder.dim)
            assert all(alive(pid) for pid in child), "the child must not die with the thread that started it"
    finally:
        embedder.close()
    assert not gone_within(child, 5.0), "closing the embedder ends the child"
