"""The README's OpenAPI page: /docs and /openapi.json for signed-in users, with no file fetched from the internet."""

from __future__ import annotations

import re

from nicegui.testing import User

from tests.ui.conftest import sign_in


async def test_api_docs_and_schema_are_served_to_signed_in_users_offline(user: User) -> None:
    signed_out = await user.http_client.get("/docs")
    assert signed_out.status_code in (302, 307) and signed_out.headers["location"].startswith("/login")
    await sign_in(user, "agent", "agent-demo")
    page = await user.http_client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert not re.search(r"(src|href)=['\"]https?://", page.text), "every asset is served by CareDesk itself"
    for asset in re.findall(r"(?:src|href)=['\"](/[^'\"]+)['\"]", page.text):
        assert (await user.http_client.get(asset)).status_code == 200, asset
    schema = (await user.http_client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/messages"]["post"]
    assert {p["name"] for p in operation["parameters"]} >= {"X-CareDesk-Timestamp", "X-CareDesk-Signature"}
    assert not any(path.startswith("/_nicegui") for path in schema["paths"])
