"""Staff accounts: users with a role and an optional TOTP secret, login throttles, and server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from engine.privacy.crypto import EncryptedText
from engine.store.models import utcnow


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)  # lower case, see engine.accounts.users.normalise_username
    password_hash: str  # Argon2id, see engine.privacy.passwords
    role: str = Field(default="agent", index=True)  # engine.accounts.roles.Role
    totp_secret: str | None = Field(default=None, sa_column=Column(EncryptedText, nullable=True))
    totp_last_counter: int = -1  # time step of the last accepted code: a code of this step or older is a replay
    active: bool = True
    demo: bool = False  # created by demo mode with a published password
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class LoginThrottle(SQLModel, table=True):
    """Consecutive failed logins per typed user name (also for names that do not exist, so lockouts reveal nothing)."""

    username: str = Field(primary_key=True)
    failures: int = 0
    locked_until: datetime | None = None
    last_failure_at: datetime | None = None


class UserSession(SQLModel, table=True):
    """A signed-in browser: only the SHA-256 of its token is stored."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(index=True, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
