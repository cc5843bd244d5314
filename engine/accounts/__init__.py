"""Staff accounts: users and roles, login and step-up, server-side sessions, the bind-address guard."""

from engine.accounts.auth import AuthReason, AuthResult, StepUpError, authenticate, require_step_up
from engine.accounts.bind import check_bind_address
from engine.accounts.facade import Accounts
from engine.accounts.roles import Permission, Role, can
from engine.accounts.sessions import logout, session_cookie_secret, validate_session
from engine.accounts.users import (
    DEMO_ACCOUNTS,
    AccountError,
    begin_totp_enrolment,
    check_password,
    confirm_totp,
    create_first_admin,
    create_user,
    ensure_demo_accounts,
    has_accounts,
    list_users,
    needs_admin_setup,
    normalise_username,
    published_password_accounts,
    reset_totp,
    set_active,
    set_password,
    set_role,
)
from engine.store.account_models import User

__all__ = [
    "DEMO_ACCOUNTS",
    "AccountError",
    "Accounts",
    "AuthReason",
    "AuthResult",
    "Permission",
    "Role",
    "StepUpError",
    "User",
    "authenticate",
    "begin_totp_enrolment",
    "can",
    "check_bind_address",
    "check_password",
    "confirm_totp",
    "create_first_admin",
    "create_user",
    "ensure_demo_accounts",
    "has_accounts",
    "list_users",
    "logout",
    "needs_admin_setup",
    "normalise_username",
    "published_password_accounts",
    "require_step_up",
    "reset_totp",
    "session_cookie_secret",
    "set_active",
    "set_password",
    "set_role",
    "validate_session",
]
