"""Roles and what each may do: one permission table, checked with `can(user, permission)`.

Roles are cumulative: a supervisor can do everything an agent can, an admin everything a supervisor can.

| permission              | agent | supervisor | admin | what it covers                                              |
|-------------------------|:-----:|:----------:|:-----:|-------------------------------------------------------------|
| tickets.work            |   x   |     x      |   x   | queue, ticket view, approve / edit / reject drafts, replies |
| pii.reveal              |   x   |     x      |   x   | show the original of a redacted value (audited)             |
| dashboard.view          |       |     x      |   x   | KPIs and model quality                                      |
| settings.thresholds     |       |     x      |   x   | review / auto-resolve thresholds, routing policy            |
| actions.approve         |       |     x      |   x   | approve sensitive actions (with a TOTP code: step-up)       |
| audit.view              |       |     x      |   x   | read the audit log and verify its chain                     |
| settings.models         |       |            |   x   | switch the local model files, roll the intent model back    |
| knowledge.folders       |       |            |   x   | index a server folder (inside the configured roots)         |
| users.manage            |       |            |   x   | add users, roles, passwords, TOTP resets, deactivation      |
| keys.manage             |       |            |   x   | encryption key rotation                                     |
| retention.manage        |       |            |   x   | customer export and erasure, retention                      |
"""

from __future__ import annotations

from enum import StrEnum

from engine.store.account_models import User


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Permission(StrEnum):
    WORK_TICKETS = "tickets.work"
    REVEAL_PII = "pii.reveal"
    VIEW_DASHBOARD = "dashboard.view"
    EDIT_THRESHOLDS = "settings.thresholds"
    APPROVE_ACTIONS = "actions.approve"
    VIEW_AUDIT = "audit.view"
    MANAGE_MODELS = "settings.models"
    INDEX_SERVER_FOLDERS = "knowledge.folders"
    MANAGE_USERS = "users.manage"
    MANAGE_KEYS = "keys.manage"
    MANAGE_RETENTION = "retention.manage"


_AGENT = frozenset({Permission.WORK_TICKETS, Permission.REVEAL_PII})
_SUPERVISOR = _AGENT | {
    Permission.VIEW_DASHBOARD,
    Permission.EDIT_THRESHOLDS,
    Permission.APPROVE_ACTIONS,
    Permission.VIEW_AUDIT,
}
_ADMIN = _SUPERVISOR | {
    Permission.MANAGE_MODELS,
    Permission.INDEX_SERVER_FOLDERS,
    Permission.MANAGE_USERS,
    Permission.MANAGE_KEYS,
    Permission.MANAGE_RETENTION,
}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: _AGENT,
    Role.SUPERVISOR: frozenset(_SUPERVISOR),
    Role.ADMIN: frozenset(_ADMIN),
}


def can(user: User | None, permission: Permission) -> bool:
    """True when `user` is active and their role grants `permission`."""
    if user is None or not user.active or user.role not in ROLE_PERMISSIONS:
        return False
    return permission in ROLE_PERMISSIONS[Role(user.role)]
