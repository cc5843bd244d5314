"""Who is signed in: the session token in the browser's storage, the sign-in redirect, and sign-out.

The session token lives server-side in `app.storage.user` (NiceGUI needs `storage_secret` in `ui.run`); the
database keeps only its hash. `AuthMiddleware` sends every page request without a valid session to /login
(deny by default).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from engine.accounts import User
from ui.state import engine

TOKEN_KEY = "caredesk_session"
OPEN_PATHS = ("/login", "/logout", "/_nicegui", "/assets/", "/favicon")


def current_user() -> User | None:
    """The signed-in user of this browser, or None (no session, expired, or deactivated)."""
    return engine().accounts.validate_session(app.storage.user.get(TOKEN_KEY))


def signed_in_name() -> str:
    """The signed-in user's name, for feedback and audit rows."""
    user = current_user()
    return user.username if user is not None else "unknown"


def safe_target(path: str | None) -> str:
    """`path` when it is a local page of this app, else "/" (no open redirects).

    Only a path that starts with exactly one `/` and holds no backslash and no control character passes: browsers
    drop tab, CR and LF from a URL, so `/<tab>/host` would become `//host`, another site.
    """
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in path):
        return "/"
    return path


def login_url(path: str) -> str:
    """The sign-in page that comes back to `path` afterwards."""
    return f"/login?redirect_to={quote(safe_target(path), safe='/')}"


class AuthMiddleware(BaseHTTPMiddleware):
    """Redirect page requests without a valid session to /login; `open_paths` prefixes pass (deny by default)."""

    def __init__(self, app: ASGIApp, open_paths: Sequence[str] = OPEN_PATHS) -> None:
        super().__init__(app)
        self.open_paths = tuple(open_paths)

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if not path.startswith(self.open_paths) and current_user() is None:
            return RedirectResponse(login_url(path))
        return await call_next(request)


def logout_page() -> RedirectResponse:
    """End this browser's session and go to the sign-in page."""
    engine().accounts.logout(app.storage.user.pop(TOKEN_KEY, None))
    return RedirectResponse("/login")
