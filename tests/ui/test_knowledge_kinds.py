"""The Knowledge page marks each document as a customer-facing article or internal guidance, and an agent can switch."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.conftest import sign_in, wait_for_async
from ui.state import engine


def documents() -> list:  # type: ignore[type-arg]
    services = engine().services
    return services.kb.documents() if services is not None and services.kb is not None else []


async def test_the_demo_manual_is_guidance_and_a_document_can_become_an_article(user: User) -> None:
    await sign_in(user)
    await user.open("/knowledge")
    await wait_for_async(lambda: bool(documents()), what="the knowledge base to load")
    first = documents()[0]
    assert {d.kind for d in documents()} == {"guidance"}  # the ABCD manual is internal procedure
    await user.open("/knowledge")
    await user.should_see("Guidance")
    user.find(marker=f"kind-{first.id}").elements.pop().set_value("article")
    await wait_for_async(lambda: next(d for d in documents() if d.id == first.id).kind == "article", 10, "the switch")
