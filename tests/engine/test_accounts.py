"""Accounts: login with lockout and TOTP, sessions, roles, step-up, first-start setup, demo accounts, bind check."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from engine.accounts.auth import AuthReason, StepUpError, authenticate, require_step_up
from engine.accounts.bind import BindRefused, check_bind_address
from engine.accounts.roles import Permission, Role, can
from engine.accounts.sessions import IDLE_TIMEOUT, logout, session_cookie_secret, validate_session
from engine.accounts.users import (
    DEMO_ACCOUNTS,
    DEMO_ADMIN_TOTP_SECRET,
    AccountError,
    begin_totp_enrolment,
    confirm_totp,
    create_first_admin,
    create_user,
    ensure_demo_accounts,
    has_accounts,
    list_users,
    needs_admin_setup,
    published_password_accounts,
    set_active,
    set_password,
    set_role,
)
from engine.app import build_engine
from engine.config import Settings
from engine.privacy import audit
from engine.privacy.crypto import Cipher, set_cipher
from engine.runtime import Engine
from engine.store.account_models import User
from engine.store.audit_models import AuditEntry
from engine.store.models import utcnow


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A demo engine on fake models with encryption set up, as the app starts it."""
    set_cipher(Cipher([Cipher.generate_key()]))
    yield build_engine(Settings.load(data_dir=tmp_path, model_backend="fake", demo=True, demo_ticket_count=20))
    set_cipher(None)


@pytest.fixture
def demo(engine: Engine) -> Engine:
    ensure_demo_accounts(engine.db)
    return engine


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment.timestamp())


def wrong_code(secret: str, moment: datetime) -> str:
    """A well-formed code that is not valid at `moment`, even with one step of drift."""
    valid = {code_at(secret, moment + timedelta(seconds=s)) for s in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def audit_actions(engine: Engine) -> list[str]:
    with engine.session() as session:
        return list(session.exec(select(AuditEntry.action).order_by(col(AuditEntry.id))))


def users(engine: Engine) -> dict[str, User]:
    return {user.username: user for user in list_users(engine.db)}


def test_demo_accounts_sign_in_with_documented_passwords_and_roles_grant_the_table(demo: Engine) -> None:
    now = utcnow()
    roles = {}
    for account in DEMO_ACCOUNTS:
        code = code_at(account.totp_secret, now) if account.totp_secret else None
        result = authenticate(demo.db, account.username, account.password, code, now=now)
        assert result.ok, result.message
        user = validate_session(demo.db, result.token, now=now)
        assert user is not None and user.username == account.username
        roles[account.role] = user
    agent, supervisor, admin = roles[Role.AGENT], roles[Role.SUPERVISOR], roles[Role.ADMIN]
    assert can(agent, Permission.WORK_TICKETS) and not can(agent, Permission.VIEW_DASHBOARD)
    assert can(supervisor, Permission.VIEW_DASHBOARD) and can(supervisor, Permission.EDIT_THRESHOLDS)
    assert can(supervisor, Permission.APPROVE_ACTIONS) and not can(supervisor, Permission.MANAGE_USERS)
    assert all(can(admin, permission) for permission in Permission)
    assert not can(None, Permission.WORK_TICKETS)
    assert ensure_demo_accounts(demo.db) == []  # only on an empty user table


def test_wrong_password_and_unknown_user_get_the_same_answer_and_are_audited(demo: Engine) -> None:
    wrong = authenticate(demo.db, "agent", "not-the-password")
    unknown = authenticate(demo.db, "nobody", "agent-demo")
    assert not wrong.ok and wrong.token is None
    assert (
        (wrong.reason, wrong.message)
        == (unknown.reason, unknown.message)
        == (
            AuthReason.BAD_CREDENTIALS,
            "Wrong user name or password.",
        )
    )
    assert authenticate(demo.db, "  Agent ", "agent-demo").ok  # names are trimmed and case-insensitive
    actions = audit_actions(demo)
    assert actions.count("login_failed") == 2 and actions.count("login") == 1
    with demo.session() as session:
        assert audit.verify(session).ok


def test_five_failures_lock_the_name_with_a_growing_delay(demo: Engine) -> None:
    now = utcnow()
    results = [authenticate(demo.db, "agent", f"guess-{i}", now=now) for i in range(5)]
    assert all(r.reason == AuthReason.BAD_CREDENTIALS for r in results)
    assert results[3].retry_after_seconds is None and results[4].retry_after_seconds == 60
    assert "try again in 1 minute" in results[4].message

    locked = authenticate(demo.db, "agent", "agent-demo", now=now + timedelta(seconds=30))
    assert locked.reason == AuthReason.LOCKED and not locked.ok and locked.token is None
    assert "Too many failed attempts" in locked.message

    later = now + timedelta(seconds=61)
    again = authenticate(demo.db, "agent", "wrong-again", now=later)
    assert again.retry_after_seconds == 120  # the sixth failure doubles the delay
    assert authenticate(demo.db, "agent", "agent-demo", now=later + timedelta(seconds=60)).reason == AuthReason.LOCKED
    assert authenticate(demo.db, "agent", "agent-demo", now=later + timedelta(seconds=121)).ok
    # a success resets the count: one more failure does not lock
    assert authenticate(demo.db, "agent", "x" * 12, now=later + timedelta(seconds=122)).retry_after_seconds is None


def test_unknown_names_lock_too_so_lockouts_reveal_nothing(demo: Engine) -> None:
    now = utcnow()
    for i in range(5):
        authenticate(demo.db, "ghost", f"guess-{i}", now=now)
    assert authenticate(demo.db, "ghost", "anything", now=now).reason == AuthReason.LOCKED


def test_admin_needs_a_current_unused_totp_code(demo: Engine) -> None:
    now = utcnow()
    no_code = authenticate(demo.db, "admin", "admin-demo", now=now)
    assert no_code.reason == AuthReason.TOTP_REQUIRED and no_code.token is None
    wrong = authenticate(demo.db, "admin", "admin-demo", wrong_code(DEMO_ADMIN_TOTP_SECRET, now), now=now)
    assert wrong.reason == AuthReason.TOTP_INVALID and wrong.token is None
    code = code_at(DEMO_ADMIN_TOTP_SECRET, now)
    assert authenticate(demo.db, "admin", "admin-demo", code, now=now).ok
    replay = authenticate(demo.db, "admin", "admin-demo", code, now=now + timedelta(seconds=5))
    assert replay.reason == AuthReason.TOTP_REPLAYED and replay.token is None
    assert "already used" in replay.message
    old = code_at(DEMO_ADMIN_TOTP_SECRET, now - timedelta(seconds=30))  # inside the drift window, but older
    assert authenticate(demo.db, "admin", "admin-demo", old, now=now).reason == AuthReason.TOTP_REPLAYED
    nxt = now + timedelta(seconds=30)
    assert authenticate(demo.db, "admin", "admin-demo", code_at(DEMO_ADMIN_TOTP_SECRET, nxt), now=nxt).ok


def test_new_admin_enrols_totp_at_the_first_login(demo: Engine) -> None:
    create_user(demo.db, username="dana", password="dana-password-1", role="admin", actor="admin")
    first = authenticate(demo.db, "dana", "dana-password-1")
    assert first.reason == AuthReason.TOTP_ENROLMENT_REQUIRED and first.token is None and first.user is not None
    secret, qr = begin_totp_enrolment(first.user.username)
    assert qr.startswith("data:image/svg+xml;base64,")
    bad = authenticate(demo.db, "dana", "dana-password-1", wrong_code(secret, utcnow()), enrol_secret=secret)
    assert bad.reason == AuthReason.TOTP_INVALID and bad.token is None
    now = utcnow()
    enrolled = authenticate(demo.db, "dana", "dana-password-1", code_at(secret, now), enrol_secret=secret, now=now)
    assert enrolled.ok and enrolled.token
    assert "totp_enrolled" in audit_actions(demo)
    # from now on the code is required, and a new secret cannot replace the enrolled one at login
    assert authenticate(demo.db, "dana", "dana-password-1").reason == AuthReason.TOTP_REQUIRED
    other = pyotp.random_base32()
    later = now + timedelta(seconds=30)
    hijack = authenticate(demo.db, "dana", "dana-password-1", code_at(other, later), enrol_secret=other, now=later)
    assert hijack.reason == AuthReason.TOTP_INVALID
    assert authenticate(demo.db, "dana", "dana-password-1", code_at(secret, later), now=later).ok


def test_an_admin_enrols_another_users_totp_with_their_code(demo: Engine) -> None:
    agent = users(demo)["agent"]
    assert agent.id is not None
    secret, _ = begin_totp_enrolment("agent")
    assert not confirm_totp(demo.db, agent.id, secret, wrong_code(secret, utcnow()), actor="admin")
    assert confirm_totp(demo.db, agent.id, secret, pyotp.TOTP(secret).now(), actor="admin")
    assert authenticate(demo.db, "agent", "agent-demo").reason == AuthReason.TOTP_REQUIRED
    nxt = utcnow() + timedelta(seconds=30)  # the enrolment spent the current code
    assert authenticate(demo.db, "agent", "agent-demo", code_at(secret, nxt), now=nxt).ok


def test_totp_secrets_are_encrypted_and_session_tokens_are_stored_hashed(demo: Engine) -> None:
    now = utcnow()
    token = authenticate(demo.db, "admin", "admin-demo", code_at(DEMO_ADMIN_TOTP_SECRET, now), now=now).token
    assert token
    with demo.db.connect() as conn:
        stored_secret = conn.execute(text("SELECT totp_secret FROM user WHERE username = 'admin'")).scalar_one()
        stored_hash = conn.execute(text("SELECT password_hash FROM user WHERE username = 'admin'")).scalar_one()
    assert DEMO_ADMIN_TOTP_SECRET not in stored_secret and stored_secret.startswith("gAAAA")
    assert stored_hash.startswith("$argon2id$")
    stored = b"".join(path.read_bytes() for path in demo.settings.data_dir.glob("caredesk.db*"))
    assert token.encode() not in stored


def test_sessions_expire_when_idle_or_old_and_end_at_logout(demo: Engine) -> None:
    now = utcnow()
    token = authenticate(demo.db, "agent", "agent-demo", now=now).token
    assert validate_session(demo.db, token, now=now + IDLE_TIMEOUT - timedelta(minutes=1)) is not None
    assert validate_session(demo.db, token, now=now + 2 * IDLE_TIMEOUT) is None

    now = utcnow()
    token = authenticate(demo.db, "agent", "agent-demo", now=now).token
    moment = now
    for _ in range(23):  # active every 20 minutes for 7 h 40 min
        moment += timedelta(minutes=20)
        assert validate_session(demo.db, token, now=moment) is not None
    assert validate_session(demo.db, token, now=now + timedelta(hours=8, minutes=1)) is None

    token = authenticate(demo.db, "agent", "agent-demo").token
    logout(demo.db, token)
    assert validate_session(demo.db, token) is None
    assert validate_session(demo.db, "made-up-token") is None and validate_session(demo.db, None) is None


def test_password_reset_and_deactivation_end_sessions_and_the_last_admin_stays(demo: Engine) -> None:
    token = authenticate(demo.db, "agent", "agent-demo").token
    agent = validate_session(demo.db, token)
    assert agent is not None and agent.id is not None
    set_password(demo.db, agent.id, "a-new-long-password", actor="admin")
    assert validate_session(demo.db, token) is None
    assert not authenticate(demo.db, "agent", "agent-demo").ok
    token = authenticate(demo.db, "agent", "a-new-long-password").token
    set_active(demo.db, agent.id, False, actor="admin")
    assert validate_session(demo.db, token) is None
    assert authenticate(demo.db, "agent", "a-new-long-password").reason == AuthReason.INACTIVE

    with pytest.raises(AccountError, match="at least 10"):
        set_password(demo.db, agent.id, "short", actor="admin")
    with pytest.raises(AccountError, match="already exists"):
        create_user(demo.db, username="Supervisor", password="long-enough-pw", role="agent", actor="admin")
    with pytest.raises(AccountError, match="Unknown role"):
        create_user(demo.db, username="eve", password="long-enough-pw", role="root", actor="admin")
    admin_id = users(demo)["admin"].id
    assert admin_id is not None
    with pytest.raises(AccountError, match="last active admin"):
        set_role(demo.db, admin_id, "agent", actor="admin")
    with pytest.raises(AccountError, match="last active admin"):
        set_active(demo.db, admin_id, False, actor="admin")


def test_step_up_needs_a_fresh_code_each_time(demo: Engine) -> None:
    accounts = users(demo)
    with pytest.raises(StepUpError, match="authenticator app first"):
        require_step_up(demo.db, accounts["agent"], "123456", action="refund")
    admin = accounts["admin"]
    with pytest.raises(StepUpError, match="6-digit code"):
        require_step_up(demo.db, admin, "", action="erase_customer")
    code = pyotp.TOTP(DEMO_ADMIN_TOTP_SECRET).now()
    require_step_up(demo.db, admin, code, action="erase_customer")
    with pytest.raises(StepUpError, match="already used"):
        require_step_up(demo.db, admin, code, action="erase_customer")
    require_step_up(demo.db, admin, pyotp.TOTP(DEMO_ADMIN_TOTP_SECRET).at(time.time() + 30), action="user_change")
    actions = audit_actions(demo)
    assert actions.count("step_up") == 2 and actions.count("step_up_failed") == 1


def test_step_up_code_guessing_is_locked_out(demo: Engine) -> None:
    admin = users(demo)["admin"]
    wrong = wrong_code(DEMO_ADMIN_TOTP_SECRET, utcnow())
    for _ in range(5):
        with pytest.raises(StepUpError, match="not valid"):
            require_step_up(demo.db, admin, wrong, action="refund")
    with pytest.raises(StepUpError, match="Too many failed attempts"):
        require_step_up(demo.db, admin, pyotp.TOTP(DEMO_ADMIN_TOTP_SECRET).now(), action="refund")


def test_first_start_asks_for_an_admin_with_a_second_factor(tmp_path: Path) -> None:
    set_cipher(Cipher([Cipher.generate_key()]))
    try:
        engine = build_engine(Settings.load(data_dir=tmp_path, model_backend="fake", demo=False))
        assert needs_admin_setup(engine.db) and not has_accounts(engine.db)
        secret = pyotp.random_base32()
        with pytest.raises(AccountError, match="does not match"):
            create_first_admin(
                engine.db, username="boss", password="boss-password-1", totp_secret=secret, totp_code="12"
            )
        signed_in = create_first_admin(
            engine.db,
            username="boss",
            password="boss-password-1",
            totp_secret=secret,
            totp_code=pyotp.TOTP(secret).now(),
        )
        assert signed_in.ok and validate_session(engine.db, signed_in.token) is not None
        assert signed_in.user is not None and signed_in.user.role == Role.ADMIN
        assert not needs_admin_setup(engine.db) and has_accounts(engine.db)
        with pytest.raises(AccountError, match="already set up"):
            create_first_admin(
                engine.db, username="mallory", password="mallory-pw-1", totp_secret=secret, totp_code="000000"
            )
        nxt = utcnow() + timedelta(seconds=30)
        assert authenticate(engine.db, "boss", "boss-password-1", code_at(secret, nxt), now=nxt).ok
    finally:
        set_cipher(None)


def test_binding_beyond_loopback_needs_private_accounts(demo: Engine) -> None:
    check_bind_address("127.0.0.1", has_accounts=False)
    check_bind_address("localhost", has_accounts=False)
    check_bind_address("::1", has_accounts=False)
    with pytest.raises(BindRefused, match="no user accounts exist") as refused:
        check_bind_address("0.0.0.0", has_accounts=False, port=8080)
    assert "reverse_proxy 127.0.0.1:8080" in str(refused.value) and "proxy_pass http://127.0.0.1:8080" in str(
        refused.value
    )
    published = published_password_accounts(demo.db)
    assert published == ["admin", "agent", "supervisor"]
    with pytest.raises(BindRefused, match="published"):
        check_bind_address("192.168.1.20", has_accounts(demo.db), demo_accounts=published)
    for user in users(demo).values():
        assert user.id is not None
        set_password(demo.db, user.id, f"{user.username}-private-pw", actor="admin")
    assert published_password_accounts(demo.db) == []
    check_bind_address("192.168.1.20", has_accounts(demo.db), demo_accounts=published_password_accounts(demo.db))


def test_cookie_secret_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    first = session_cookie_secret(tmp_path)
    assert len(first) >= 48 and session_cookie_secret(tmp_path) == first
    assert (tmp_path / "session.secret").stat().st_mode & 0o777 == 0o600
