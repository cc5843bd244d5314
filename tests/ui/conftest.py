"""UI tests run main.py through NiceGUI's plugin; these fixtures point the app at a temp data dir first."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from nicegui.testing import Screen, User

from engine.runtime import Engine
from ui.state import engine


@pytest.fixture(autouse=True)
def app_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh data dir and a small demo queue; fake models unless the test is marked real_models."""
    real = request.node.get_closest_marker("real_models") is not None
    monkeypatch.setenv("CAREDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAREDESK_MODEL_BACKEND", "real" if real else "fake")
    monkeypatch.setenv("CAREDESK_DEMO_TICKET_COUNT", "12" if real else "30")
    monkeypatch.setenv("CAREDESK_PORT", "3392")
    monkeypatch.setenv("CAREDESK_DEMO_TRAINING_PER_INTENT", "40")


def wait_for(condition: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    """Poll an observable condition until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


async def wait_for_async(condition: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    """Like wait_for, but lets the app's event loop run while waiting."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
def ready_engine() -> Callable[[], Engine]:
    """Returns a function that waits until the app's models have loaded and returns the engine."""

    def wait() -> Engine:
        wait_for(lambda: engine().ready, what="the models to load")
        return engine()

    return wait


async def sign_in(user: User, username: str = "supervisor", password: str = "supervisor-demo") -> None:
    """Sign in with a demo account through the login page (argon2 is slow on 2 busy cores: be patient)."""
    await user.open("/login")
    user.find(marker="username").type(username)
    user.find(marker="password").type(password)
    user.find(marker="sign-in").click()
    await wait_for_async(lambda: _has(user, "signed-in-user"), 60, "sign-in")


def _has(user: User, marker: str) -> bool:
    try:
        return bool(user.find(marker=marker).elements)
    except AssertionError:
        return False


def sign_in_browser(screen: Screen, username: str = "supervisor", password: str = "supervisor-demo") -> None:
    """Sign in through the real login form in Chromium."""
    screen.selenium.set_window_size(1440, 1000)
    screen.open("/login", timeout=90)
    screen.find_by_tag("input")  # the form is there
    inputs = screen.selenium.find_elements("css selector", "input")
    inputs[0].send_keys(username)
    inputs[1].send_keys(password)
    screen.selenium.find_element("xpath", "//button[contains(., 'Sign in')]").click()
    wait_for(lambda: f"{username} · " in screen.selenium.page_source, 60, "sign-in")
