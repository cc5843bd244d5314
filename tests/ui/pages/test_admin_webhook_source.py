"""Settings shows the demo webhook source's secret to admins only."""

from __future__ import annotations

import pyotp
from nicegui.testing import User

from engine.accounts import DEMO_ACCOUNTS
from engine.ingest.demo_source import demo_source_secret
from tests.ui.conftest import _has, sign_in, wait_for_async
from ui.state import engine


async def sign_in_admin(user: User) -> None:
    await user.open("/login")
    user.find(marker="username").type("admin")
    user.find(marker="password").type("admin-demo")
    user.find(marker="sign-in").click()
    await wait_for_async(lambda: _has(user, "totp-code"), 60, "the code field")
    secret = next(a.totp_secret for a in DEMO_ACCOUNTS if a.username == "admin")
    assert secret is not None
    user.find(marker="totp-code").elements.pop().set_value(pyotp.TOTP(secret).now())
    user.find(marker="sign-in").click()
    await wait_for_async(lambda: _has(user, "signed-in-user"), 60, "sign-in")


async def test_admins_see_the_demo_webhook_secret_and_a_signed_curl_command(user: User) -> None:
    await sign_in_admin(user)
    await user.open("/settings")
    secret = demo_source_secret(engine().settings)
    assert secret
    await user.should_see(f"Secret: {secret}")
    await user.should_see(marker="webhook-curl")


async def test_supervisors_do_not_see_the_webhook_secret(user: User) -> None:
    await sign_in(user)
    await user.open("/settings")
    await user.should_see(marker="routing-settings")
    await user.should_not_see(marker="webhook-source")


async def test_admins_set_the_store_client_secret_and_never_see_it_back(user: User) -> None:
    await sign_in_admin(user)
    await user.open("/settings")
    await user.should_see(marker="store-client")
    generated = engine().settings.store_client_secret
    await user.should_not_see(generated)  # only "set (…last 4)" is shown
    await user.should_see(f"set (…{generated[-4:]})")
    user.find(marker="store-client-secret").type("an-admin-typed-secret-7310")
    user.find(marker="save-store-client").click()
    await user.should_see("Saved: store_client_secret")
    assert engine().settings.store_client_secret == "an-admin-typed-secret-7310"
    await user.open("/settings")
    await user.should_not_see("an-admin-typed-secret-7310")
    await user.should_see("set (…7310)")


async def test_supervisors_do_not_see_the_store_client(user: User) -> None:
    await sign_in(user)
    await user.open("/settings")
    await user.should_see(marker="routing-settings")
    await user.should_not_see(marker="store-client")
