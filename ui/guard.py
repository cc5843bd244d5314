"""Wrap a page so only a signed-in user with the right permission sees it."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from engine.accounts import Permission
from ui.pages.login import require


def guarded(permission: Permission, page: Callable[..., Any]) -> Callable[..., Any]:
    """The page, shown only when `require(permission)` passes (it redirects or explains otherwise)."""
    if inspect.iscoroutinefunction(page):

        @functools.wraps(page)
        async def async_page(*args: Any, **kwargs: Any) -> None:
            if require(permission) is not None:
                await page(*args, **kwargs)

        return async_page

    @functools.wraps(page)
    def sync_page(*args: Any, **kwargs: Any) -> None:
        if require(permission) is not None:
            page(*args, **kwargs)

    return sync_page
