"""Waiting in tests: poll an observable condition until it holds, never a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

WAIT_SECONDS = 300.0  # the models load in about a minute alone, several times that when the suite shares 2 cores


def wait_for(condition: Callable[[], bool], timeout: float = WAIT_SECONDS, what: str = "condition") -> None:
    """Poll an observable condition until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def wait_for_async(condition: Callable[[], bool], timeout: float = WAIT_SECONDS, what: str = "condition") -> None:
    """Like wait_for, but lets the app's event loop run while waiting."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
