"""Login and step-up: password + TOTP checks, lockout after repeated failures, replayed codes refused, all audited.

Lockout: after MAX_FAILURES consecutive failures for a typed user name (existing or not, so a lockout tells an
attacker nothing), further attempts are refused for 1 minute, doubling with every further failure up to 1 hour.
A code (TOTP) is accepted once: its 30 s time step must be newer than the last one the user spent, at login or
at a step-up. Admins always need a code; other users need one once they have enrolled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, select

from engine.accounts.roles import Role
from engine.accounts.sessions import aware, create_session
from engine.privacy import audit
from engine.privacy.passwords import hash_password, needs_rehash, verify_password
from engine.privacy.totp import totp_counter
from engine.store.account_models import LoginThrottle, User
from engine.store.db import session_scope
from engine.store.models import utcnow

log = logging.getLogger(__name__)

MAX_FAILURES = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)
STEP_UP_PREFIX = "step-up:"  # throttle key prefix for step-up codes, apart from login failures
_NAME_LIMIT = 64  # typed names are cut to this length in throttles and the audit log


class AuthReason(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    INACTIVE = "inactive"
    TOTP_REQUIRED = "totp_required"
    TOTP_INVALID = "totp_invalid"
    TOTP_REPLAYED = "totp_replayed"
    TOTP_ENROLMENT_REQUIRED = "totp_enrolment_required"


MESSAGES = {
    AuthReason.OK: "Signed in.",
    AuthReason.BAD_CREDENTIALS: "Wrong user name or password.",
    AuthReason.LOCKED: "Too many failed attempts. Try again in {wait}.",
    AuthReason.INACTIVE: "This account is deactivated. Ask an admin.",
    AuthReason.TOTP_REQUIRED: "Enter the 6-digit code from your authenticator app.",
    AuthReason.TOTP_INVALID: "That code is not valid. Enter the current code from your authenticator app.",
    AuthReason.TOTP_REPLAYED: "That code was already used. Wait for the next code in your authenticator app.",
    AuthReason.TOTP_ENROLMENT_REQUIRED: "Admins need a second factor: scan the QR code with an authenticator app.",
}


@dataclass(frozen=True)
class AuthResult:
    """The outcome of one login attempt: a session token on success, otherwise a reason and a message."""

    ok: bool
    reason: AuthReason
    message: str
    token: str | None = None
    user: User | None = None  # set on success and when the next step is TOTP enrolment
    retry_after_seconds: float | None = None


class StepUpError(PermissionError):
    """A sensitive action was refused: no valid, unused TOTP code. The message says what to do."""


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the user name is unknown, so both cases take as long."""
    return hash_password("caredesk-no-such-user")


def lock_duration(failures: int) -> timedelta:
    """How long a name stays locked after `failures` consecutive failures (zero below MAX_FAILURES)."""
    if failures < MAX_FAILURES:
        return timedelta(0)
    return min(FIRST_LOCK * 2 ** (failures - MAX_FAILURES), LONGEST_LOCK)


def _wait_words(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _locked_for(session: Session, key: str, now: datetime) -> float | None:
    throttle = session.get(LoginThrottle, key)
    if throttle is None or throttle.locked_until is None or aware(throttle.locked_until) <= now:
        return None
    return (aware(throttle.locked_until) - now).total_seconds()


def _record_failure(session: Session, key: str, now: datetime) -> float | None:
    """Count one failure; the seconds of lockout it starts, if any."""
    throttle = session.get(LoginThrottle, key) or LoginThrottle(username=key)
    throttle.failures += 1
    throttle.last_failure_at = now
    wait = lock_duration(throttle.failures)
    throttle.locked_until = now + wait if wait else None
    session.add(throttle)
    return wait.total_seconds() if wait else None


def _clear_failures(session: Session, key: str) -> None:
    throttle = session.get(LoginThrottle, key)
    if throttle is not None:
        session.delete(throttle)


def _spend_code(user: User, code: str | None, now: datetime) -> AuthReason:
    """Check a TOTP code against the user's secret and mark its time step used; OK or why not."""
    assert user.totp_secret is not None
    if not code or not code.strip():
        return AuthReason.TOTP_REQUIRED
    counter = totp_counter(user.totp_secret, code, for_time=now.timestamp())
    if counter is None:
        return AuthReason.TOTP_INVALID
    if counter <= user.totp_last_counter:
        return AuthReason.TOTP_REPLAYED
    user.totp_last_counter = counter
    return AuthReason.OK


def _result(
    reason: AuthReason, *, retry_after: float | None = None, token: str | None = None, user: User | None = None
) -> AuthResult:
    message = MESSAGES[reason].format(wait=_wait_words(retry_after or 0))
    if reason != AuthReason.LOCKED and retry_after:
        message += f" Too many failed attempts: try again in {_wait_words(retry_after)}."
    ok = reason == AuthReason.OK
    return AuthResult(ok, reason, message, token=token, user=user, retry_after_seconds=retry_after)


def _second_factor(
    session: Session, user: User, code: str | None, enrol_secret: str | None, now: datetime
) -> AuthReason:
    """Check (or, with `enrol_secret` for a user without one, enrol) the second factor; OK or why not."""
    if user.totp_secret is not None:
        return _spend_code(user, code, now)
    if enrol_secret:
        counter = totp_counter(enrol_secret, code or "", for_time=now.timestamp())
        if counter is None:
            return AuthReason.TOTP_INVALID
        user.totp_secret, user.totp_last_counter = enrol_secret, counter
        audit.append(session, actor=user.username, action="totp_enrolled", subject=f"user:{user.username}")
        return AuthReason.OK
    return AuthReason.TOTP_ENROLMENT_REQUIRED if user.role == Role.ADMIN else AuthReason.OK


def authenticate(
    db: SAEngine,
    username: str,
    password: str,
    totp_code: str | None = None,
    *,
    enrol_secret: str | None = None,
    now: datetime | None = None,
) -> AuthResult:
    """Check a login and open a session (AuthResult.token); every success and failure is audited.

    A user without a second factor may pass `enrol_secret` (from `begin_totp_enrolment`) with a code from it:
    the secret is stored and the login completes. Admins without one get TOTP_ENROLMENT_REQUIRED.
    """
    now = now or utcnow()
    key = username.strip().lower()[:_NAME_LIMIT]
    with session_scope(db) as session:
        locked = _locked_for(session, key, now)
        if locked is not None:
            audit.append(session, actor=key, action="login_refused", details={"reason": AuthReason.LOCKED.value})
            return _result(AuthReason.LOCKED, retry_after=locked)
        user = session.exec(select(User).where(User.username == key)).first()
        password_ok = verify_password(password, user.password_hash if user else _dummy_hash())
        if user is None or not password_ok:
            wait = _record_failure(session, key, now)
            audit.append(session, actor=key, action="login_failed", details={"reason": "bad_credentials"})
            return _result(AuthReason.BAD_CREDENTIALS, retry_after=wait)
        if not user.active:
            audit.append(session, actor=key, action="login_failed", details={"reason": "inactive"})
            return _result(AuthReason.INACTIVE)
        reason = _second_factor(session, user, totp_code, enrol_secret, now)
        if reason in (AuthReason.TOTP_REQUIRED, AuthReason.TOTP_ENROLMENT_REQUIRED):
            return _result(reason, user=user if reason == AuthReason.TOTP_ENROLMENT_REQUIRED else None)
        if reason != AuthReason.OK:
            wait = _record_failure(session, key, now)
            audit.append(session, actor=key, action="login_failed", details={"reason": reason.value})
            return _result(reason, retry_after=wait)
        _clear_failures(session, key)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = now
        session.add(user)
        token = create_session(session, user, now=now)
        audit.append(session, actor=key, action="login", details={"role": user.role})
    log.info("user %s signed in", key)
    return _result(AuthReason.OK, token=token, user=user)


def require_step_up(db: SAEngine, user: User, totp_code: str | None, *, action: str) -> None:
    """Allow one sensitive `action` for `user` only with a fresh TOTP code; StepUpError (audited) otherwise."""
    now = utcnow()
    key = STEP_UP_PREFIX + user.username
    with session_scope(db) as session:
        fresh = session.get(User, user.id)
        if fresh is None or not fresh.active:
            raise StepUpError("Your account is no longer active.")
        if fresh.totp_secret is None:
            raise StepUpError("This action needs a second factor: set up an authenticator app first.")
        locked = _locked_for(session, key, now)
        reason = AuthReason.LOCKED if locked is not None else _spend_code(fresh, totp_code, now)
        if reason == AuthReason.TOTP_REQUIRED:
            raise StepUpError(MESSAGES[reason])
        if reason == AuthReason.OK:
            _clear_failures(session, key)
            session.add(fresh)
            audit.append(session, actor=user.username, action="step_up", details={"for": action})
            return
        wait = locked if locked is not None else _record_failure(session, key, now)
        audit.append(
            session, actor=user.username, action="step_up_failed", details={"for": action, "reason": reason.value}
        )
    raise StepUpError(_result(reason, retry_after=wait).message)
