"""Server-side login sessions: random tokens (only their hash is stored), 8 h lifetime, 30 min idle timeout."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, or_
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.store.account_models import User, UserSession
from engine.store.db import session_scope
from engine.store.models import utcnow

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=8)
IDLE_TIMEOUT = timedelta(minutes=30)
TOUCH_EVERY = timedelta(minutes=1)  # write last_seen_at at most this often
COOKIE_SECRET_FILE = "session.secret"


def aware(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (naive values from the store are UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(session: Session, user: User, *, now: datetime | None = None) -> str:
    """A new session token for `user` (inside the caller's transaction); expired sessions are pruned."""
    now = now or utcnow()
    assert user.id is not None
    session.execute(
        delete(UserSession).where(
            or_(col(UserSession.expires_at) <= now, col(UserSession.last_seen_at) <= now - IDLE_TIMEOUT)
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=_token_hash(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return token


def validate_session(db: SAEngine, token: str | None, *, now: datetime | None = None) -> User | None:
    """The active user holding `token`, or None when it is unknown, expired, idle too long or the user is disabled."""
    if not token:
        return None
    now = now or utcnow()
    with session_scope(db) as session:
        row = session.exec(select(UserSession).where(UserSession.token_hash == _token_hash(token))).first()
        if row is None:
            return None
        if aware(row.expires_at) <= now or aware(row.last_seen_at) <= now - IDLE_TIMEOUT:
            session.delete(row)
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        if now - aware(row.last_seen_at) >= TOUCH_EVERY:
            row.last_seen_at = now
            session.add(row)
        return user


def logout(db: SAEngine, token: str | None) -> None:
    """End the session holding `token` (nothing happens for an unknown token)."""
    if not token:
        return
    with session_scope(db) as session:
        session.execute(delete(UserSession).where(col(UserSession.token_hash) == _token_hash(token)))


def revoke_user_sessions(session: Session, user_id: int) -> int:
    """End every session of one user (password reset, role change, deactivation); returns how many."""
    result = session.execute(delete(UserSession).where(col(UserSession.user_id) == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def session_cookie_secret(data_dir: Path) -> str:
    """The secret that signs the UI's browser cookie (NiceGUI `storage_secret`), created 0600 in the data dir."""
    path = data_dir / COOKIE_SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
        log.info("created the session cookie secret %s", path)
    return path.read_text(encoding="ascii").strip()
