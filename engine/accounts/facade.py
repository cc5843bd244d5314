"""What the screens ask about staff accounts, bound to one database: sign-in, sessions, users and step-up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine as SAEngine

from engine.accounts import auth, sessions, users
from engine.accounts.auth import AuthResult
from engine.store.account_models import User


class Accounts:
    """Staff accounts of one desk; every method is the function of the same name on the desk's database."""

    def __init__(self, db: SAEngine) -> None:
        self._db = db

    def authenticate(
        self,
        username: str,
        password: str,
        totp_code: str | None = None,
        *,
        enrol_secret: str | None = None,
        now: datetime | None = None,
    ) -> AuthResult:
        """Check a login and open a session (see `auth.authenticate`)."""
        return auth.authenticate(self._db, username, password, totp_code, enrol_secret=enrol_secret, now=now)

    def require_step_up(self, user: User, totp_code: str | None, *, action: str) -> None:
        """Check a signed-in user's authenticator code before a sensitive action (StepUpError if it fails)."""
        auth.require_step_up(self._db, user, totp_code, action=action)

    def validate_session(self, token: str | None) -> User | None:
        """The user of a live session token, or None."""
        return sessions.validate_session(self._db, token)

    def logout(self, token: str | None) -> None:
        """End a session."""
        sessions.logout(self._db, token)

    def needs_admin_setup(self) -> bool:
        """True before the first account exists."""
        return users.needs_admin_setup(self._db)

    def create_first_admin(self, *, username: str, password: str, totp_secret: str, totp_code: str) -> AuthResult:
        """Create the first admin (with a second factor) and sign them in."""
        return users.create_first_admin(
            self._db, username=username, password=password, totp_secret=totp_secret, totp_code=totp_code
        )

    def ensure_demo_accounts(self) -> list[str]:
        """Create the demo accounts on an empty desk; returns the names created."""
        return users.ensure_demo_accounts(self._db)

    def has_accounts(self) -> bool:
        """True when at least one active account exists."""
        return users.has_accounts(self._db)

    def published_password_accounts(self) -> list[str]:
        """Active accounts that still use a password published in the README."""
        return users.published_password_accounts(self._db)

    def list_users(self) -> list[User]:
        """Every account, active ones first."""
        return users.list_users(self._db)

    def create_user(self, *, username: str, password: str, role: str, actor: str) -> User:
        """Add an account (audited)."""
        return users.create_user(self._db, username=username, password=password, role=role, actor=actor)

    def set_password(self, user_id: int, password: str, *, actor: str) -> None:
        """Set a new password (audited); the user's sessions end."""
        users.set_password(self._db, user_id, password, actor=actor)

    def set_role(self, user_id: int, role: str, *, actor: str) -> None:
        """Change a user's role (audited)."""
        users.set_role(self._db, user_id, role, actor=actor)

    def set_active(self, user_id: int, active: bool, *, actor: str) -> None:
        """Activate or deactivate an account (audited)."""
        users.set_active(self._db, user_id, active, actor=actor)

    def confirm_totp(self, user_id: int, secret: str, code: str, *, actor: str) -> bool:
        """Store a user's new second factor when the code comes from it (audited)."""
        return users.confirm_totp(self._db, user_id, secret, code, actor=actor)
