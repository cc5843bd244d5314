"""After sign-in, /login?redirect_to= only ever sends the user to a page of this app (no open redirect)."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.ui.conftest import sign_in
from ui.pages.login import safe_target

# as typed into the address bar: the query string is percent-decoded once by the server
OFF_SITE = (
    "/%09/127.0.0.1:8096/x",
    "/%0A/127.0.0.1:8096/x",
    "/%0D/127.0.0.1:8096/x",
    "/%0D%0A/127.0.0.1:8096/x",
    "%09//127.0.0.1:8096/x",
    "//127.0.0.1:8096/x",
    "/%2F127.0.0.1:8096/x",
    "%2F%2F127.0.0.1:8096/x",
    "/%5C127.0.0.1:8096/x",
    "/%5C%5C127.0.0.1:8096/x",
    "%5C%5C127.0.0.1:8096/x",
    "/%00/127.0.0.1:8096/x",
    "/%7F/127.0.0.1:8096/x",
    "http://127.0.0.1:8096/x",
    "https:127.0.0.1:8096/x",
    "javascript:alert(1)",
    "127.0.0.1:8096/x",
)


async def test_sign_in_redirect_never_leaves_the_site(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    await sign_in(user)
    targets: list[str] = []
    monkeypatch.setattr(type(ui.navigate), "to", lambda self, target, new_tab=False: targets.append(target))
    for variant in OFF_SITE:
        await user.open(f"/login?redirect_to={variant}")
        assert targets[-1] == "/", f"{variant!r} redirected to {targets[-1]!r}"
    await user.open("/login?redirect_to=/ticket/3%3Ftab%3Ddraft")
    assert targets[-1] == "/ticket/3?tab=draft"


@pytest.mark.parametrize("path", ["/", "/ticket/12", "/inbox?x=1", "/a%20b"])
def test_local_pages_are_kept_as_redirect_targets(path: str) -> None:
    assert safe_target(path) == path
