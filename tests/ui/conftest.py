"""UI tests run main.py through NiceGUI's plugin; these fixtures point the app at a temp data dir first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from nicegui.testing import Screen, User

from engine.runtime import Engine
from tests.waiting import wait_for, wait_for_async
from ui.state import engine

__all__ = ["wait_for", "wait_for_async"]  # the UI tests import them from here


@pytest.fixture(autouse=True)
def app_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh data dir and a small demo queue; fake models unless the test is marked real_models."""
    real = request.node.get_closest_marker("real_models") is not None
    monkeypatch.setenv("CAREDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAREDESK_MODEL_BACKEND", "real" if real else "fake")
    monkeypatch.setenv("CAREDESK_DEMO_TICKET_COUNT", "12" if real else "30")
    monkeypatch.setenv("CAREDESK_PORT", "3392")
    monkeypatch.setenv("CAREDESK_DEMO_TRAINING_PER_INTENT", "40")


PAGE_LOAD_SECONDS = 90  # NiceGUI's driver gives a page 4 s, too little on a busy 2-core machine


@pytest.fixture
def screen(screen: Screen) -> Screen:
    """NiceGUI's browser screen, waiting as long for a page to load as the tests wait for anything else."""
    screen.selenium.set_page_load_timeout(PAGE_LOAD_SECONDS)
    return screen


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
