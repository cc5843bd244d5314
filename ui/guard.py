"""Page guards: only a signed-in user with the right permission sees a page."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from nicegui import ui

from engine.accounts import Permission, User, can
from ui.auth import current_user, login_url
from ui.theme import frame


def require(permission: Permission) -> User | None:
    """Page guard: the signed-in user holding `permission`; otherwise go to /login or say why not, and give None."""
    user = current_user()
    if user is None:
        ui.navigate.to(login_url(ui.context.client.request.url.path))
        return None
    if not can(user, permission):
        with frame("Not allowed"):
            ui.label(f"Your role ({user.role}) cannot open this page.").classes("text-lg").mark("not-allowed")
            ui.button("Back to the queue", on_click=lambda: ui.navigate.to("/"))
        return None
    return user


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
