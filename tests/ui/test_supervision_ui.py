"""The supervised worker on screen: "Degraded" in the header (the error for supervisors), the needs-attention list
with Retry, and /api/v1/health open to monitoring without a session."""

from __future__ import annotations

from nicegui.testing import User
from sqlmodel import col, select

from engine.store.models import Ticket
from tests.ui.conftest import sign_in, wait_for_async
from ui.state import engine


async def test_a_ticket_set_aside_shows_as_degraded_and_needs_attention_until_retried(user: User) -> None:
    signed_out = await user.http_client.get("/api/v1/health")
    assert signed_out.status_code == 200 and signed_out.json()["status"] in ("ok", "down")
    await sign_in(user)
    await wait_for_async(lambda: engine().ready, what="the models")
    with engine().session() as session:
        ticket_id = session.exec(select(Ticket.id).order_by(col(Ticket.id))).first()
    assert ticket_id is not None
    supervisor = engine().supervisor
    assert supervisor is not None
    for _ in range(3):
        supervisor.failed("drafting", [ticket_id], RuntimeError("the drafter crashed on jane@example.org"))
    report = (await user.http_client.get("/api/v1/health")).json()
    assert report["status"] == "degraded" and report["backlog"]["needs_attention"] == 1
    assert report["stages"]["drafting"]["failures"] == 3 and "crashed" not in str(report)  # counts, no error text
    await user.open("/inbox")
    await user.should_see(marker="degraded")
    await user.should_see(marker=f"attention-{ticket_id}")
    await user.should_see("RuntimeError: the drafter crashed on [EMAIL_1]")  # a supervisor sees the redacted error
    user.find(marker="attention-retry").click()
    await user.should_see("will be tried again")
    assert supervisor.blocked("drafting") == set()
