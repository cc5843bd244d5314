"""Staff accounts: create and change users, first-start admin setup, demo accounts, TOTP enrolment.

Every change is written to the audit log in the same transaction (actor = who made it). Callers check
permissions (`engine.accounts.roles.can`) and ask for a TOTP step-up (`engine.accounts.auth.require_step_up`)
before account changes; login lives in `engine.accounts.auth`, sessions in `engine.accounts.sessions`.

Demo mode creates three documented accounts (see DEMO_ACCOUNTS); the admin's TOTP secret is published too, so
an authenticator app (or `python -c "import pyotp; print(pyotp.TOTP('<secret>').now())"`) gives its codes.
Demo accounts are for a laptop: `check_bind_address` refuses a public address while any of them still has
its published password.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.accounts.auth import AuthResult, authenticate
from engine.accounts.roles import Role
from engine.accounts.sessions import revoke_user_sessions
from engine.privacy import audit
from engine.privacy.passwords import hash_password, verify_password
from engine.privacy.totp import new_totp_secret, provisioning_uri, qr_data_url, totp_counter
from engine.store.account_models import LoginThrottle, User
from engine.store.db import session_scope

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")
DEMO_ADMIN_TOTP_SECRET = "CAREDESKDEMOADMINTOTPSECRET23456"  # published in the README: demo use only


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: Role
    totp_secret: str | None = None


DEMO_ACCOUNTS = (
    DemoAccount("agent", "agent-demo", Role.AGENT),
    DemoAccount("supervisor", "supervisor-demo", Role.SUPERVISOR),
    DemoAccount("admin", "admin-demo", Role.ADMIN, DEMO_ADMIN_TOTP_SECRET),
)


class AccountError(ValueError):
    """An account change that cannot be made; the message says why, in words for the person who asked."""


def normalise_username(username: str) -> str:
    """The stored form of a user name (trimmed, lower case); AccountError when it has characters we do not allow."""
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise AccountError("User names are 2-64 characters: letters, digits, '.', '_', '-' or '@'.")
    return name


def check_password(password: str) -> None:
    """AccountError when `password` is too short or too long to accept."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"Passwords can have at most {MAX_PASSWORD_LENGTH} characters.")


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise AccountError(f"Unknown role {role!r}: use one of {', '.join(r.value for r in Role)}.") from exc


def _add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    actor: str,
    totp_secret: str | None = None,
    totp_last_counter: int = -1,
    demo: bool = False,
) -> User:
    name = normalise_username(username)
    if session.exec(select(User).where(User.username == name)).first() is not None:
        raise AccountError(f"A user named {name!r} already exists.")
    user = User(
        username=name,
        password_hash=hash_password(password),
        role=role,
        totp_secret=totp_secret,
        totp_last_counter=totp_last_counter,
        demo=demo,
    )
    session.add(user)
    session.flush()
    audit.append(session, actor=actor, action="user_created", subject=f"user:{name}", details={"role": role.value})
    return user


def create_user(db: SAEngine, *, username: str, password: str, role: str, actor: str) -> User:
    """Add an active user with `role`; AccountError for a taken name, a weak password or an unknown role."""
    check_password(password)
    with session_scope(db) as session:
        return _add_user(session, username=username, password=password, role=_role(role), actor=actor)


def list_users(db: SAEngine) -> list[User]:
    """Every user, active ones first, by name."""
    with session_scope(db) as session:
        return list(session.exec(select(User).order_by(col(User.active).desc(), col(User.username))))


def get_user(db: SAEngine, user_id: int) -> User | None:
    """One user by id."""
    with session_scope(db) as session:
        return session.get(User, user_id)


def _load(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise AccountError(f"No user with id {user_id}.")
    return user


def _is_last_admin(session: Session, user: User) -> bool:
    if user.role != Role.ADMIN or not user.active:
        return False
    admins = select(func.count()).select_from(User).where(User.role == Role.ADMIN, col(User.active).is_(True))
    return session.exec(admins).one() <= 1


def set_password(db: SAEngine, user_id: int, password: str, *, actor: str) -> None:
    """Give a user a new password, end their sessions and lift any lockout."""
    check_password(password)
    with session_scope(db) as session:
        user = _load(session, user_id)
        user.password_hash = hash_password(password)
        session.add(user)
        revoke_user_sessions(session, user_id)
        throttle = session.get(LoginThrottle, user.username)
        if throttle is not None:
            session.delete(throttle)
        audit.append(session, actor=actor, action="password_reset", subject=f"user:{user.username}")


def set_role(db: SAEngine, user_id: int, role: str, *, actor: str) -> None:
    """Change a user's role and end their sessions; the last active admin keeps the admin role."""
    new_role = _role(role)
    with session_scope(db) as session:
        user = _load(session, user_id)
        if new_role != Role.ADMIN and _is_last_admin(session, user):
            raise AccountError("This is the last active admin: make another admin first.")
        old_role, user.role = user.role, new_role
        session.add(user)
        revoke_user_sessions(session, user_id)
        audit.append(
            session,
            actor=actor,
            action="role_changed",
            subject=f"user:{user.username}",
            details={"from": old_role, "to": new_role.value},
        )


def set_active(db: SAEngine, user_id: int, active: bool, *, actor: str) -> None:
    """Deactivate (ending their sessions) or reactivate a user; the last active admin stays active."""
    with session_scope(db) as session:
        user = _load(session, user_id)
        if not active and _is_last_admin(session, user):
            raise AccountError("This is the last active admin: make another admin first.")
        user.active = active
        session.add(user)
        if not active:
            revoke_user_sessions(session, user_id)
        action = "user_reactivated" if active else "user_deactivated"
        audit.append(session, actor=actor, action=action, subject=f"user:{user.username}")


def reset_totp(db: SAEngine, user_id: int, *, actor: str) -> None:
    """Forget a user's second factor (lost phone); admins must enrol again at their next login."""
    with session_scope(db) as session:
        user = _load(session, user_id)
        user.totp_secret = None
        session.add(user)
        revoke_user_sessions(session, user_id)
        audit.append(session, actor=actor, action="totp_reset", subject=f"user:{user.username}")


def begin_totp_enrolment(username: str) -> tuple[str, str]:
    """A new TOTP secret for the user and its QR code (data URL); nothing is stored until `confirm_totp`."""
    secret = new_totp_secret()
    return secret, qr_data_url(provisioning_uri(secret, username))


def confirm_totp(db: SAEngine, user_id: int, secret: str, code: str, *, actor: str) -> bool:
    """Store `secret` as the user's second factor when `code` proves their app has it; False for a wrong code."""
    counter = totp_counter(secret, code)
    if counter is None:
        return False
    with session_scope(db) as session:
        user = _load(session, user_id)
        user.totp_secret, user.totp_last_counter = secret, counter
        session.add(user)
        audit.append(session, actor=actor, action="totp_enrolled", subject=f"user:{user.username}")
    return True


def needs_admin_setup(db: SAEngine) -> bool:
    """True when there are no users yet: the login page shows the first-start admin form."""
    with session_scope(db) as session:
        return session.exec(select(func.count()).select_from(User)).one() == 0


def create_first_admin(db: SAEngine, *, username: str, password: str, totp_secret: str, totp_code: str) -> AuthResult:
    """Create the first admin with the TOTP secret their app just enrolled, and sign them in.

    AccountError once any user exists, or when the code does not come from `totp_secret`.
    """
    check_password(password)
    with session_scope(db) as session:
        if session.exec(select(func.count()).select_from(User)).one() > 0:
            raise AccountError("CareDesk is already set up: sign in instead.")
        if totp_counter(totp_secret, totp_code) is None:
            raise AccountError("That code does not match: scan the QR code again and enter the current code.")
        _add_user(session, username=username, password=password, role=Role.ADMIN, actor="first-start")
    log.info("created the first admin %s", normalise_username(username))
    return authenticate(db, username, password, totp_code, enrol_secret=totp_secret)


def ensure_demo_accounts(db: SAEngine) -> list[str]:
    """In demo mode on an empty user table, create the documented demo accounts; returns the names created."""
    with session_scope(db) as session:
        if session.exec(select(func.count()).select_from(User)).one() > 0:
            return []
        for account in DEMO_ACCOUNTS:
            _add_user(
                session,
                username=account.username,
                password=account.password,
                role=account.role,
                actor="demo-setup",
                totp_secret=account.totp_secret,
                demo=True,
            )
    log.info("created demo accounts: %s", ", ".join(a.username for a in DEMO_ACCOUNTS))
    return [account.username for account in DEMO_ACCOUNTS]


def has_accounts(db: SAEngine) -> bool:
    """True when at least one active user exists."""
    with session_scope(db) as session:
        return session.exec(select(func.count()).select_from(User).where(col(User.active).is_(True))).one() > 0


def published_password_accounts(db: SAEngine) -> list[str]:
    """Active demo accounts whose password is still the one published in the README."""
    published = {account.username: account.password for account in DEMO_ACCOUNTS}
    with session_scope(db) as session:
        query = select(User).where(col(User.demo).is_(True), col(User.active).is_(True)).order_by(col(User.username))
        demo_users = session.exec(query).all()
    return [
        user.username
        for user in demo_users
        if user.username in published and verify_password(published[user.username], user.password_hash)
    ]
