"""The routing policy supervisors edit: which intents the AI may resolve alone, the thresholds, intent -> action.

Kept as JSON in the data dir (`routing_policy.json`); every saved change is written to the audit log with who made
it and each field's old and new value. Without a file the thresholds come from the settings and the actions are
suggested from the intents' names; no intent is auto-resolvable until a supervisor says so, except those whose
action only reads (order status), which is safe to answer alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine as SAEngine

from engine.config import Settings
from engine.privacy import audit
from engine.routing.actions.registry import ACTIONS, suggest_actions
from engine.store.db import session_scope

log = logging.getLogger(__name__)

POLICY_FILE = "routing_policy.json"
POLICY_AUDIT = "routing_policy_changed"
ALL_INTENTS = "*"


class PolicyError(ValueError):
    """A policy that cannot be saved; the message says which value is wrong."""


@dataclass(frozen=True)
class RoutingPolicy:
    """Thresholds and lists the router applies; `auto_intents` may hold "*" for every intent."""

    auto_intents: tuple[str, ...] = ()
    auto_threshold: float = 0.95  # see Settings.auto_resolve_threshold
    review_threshold: float = 0.80
    max_auto_risk: float = 0.30
    escalate_risk: float = 0.60
    escalate_on_frustration: bool = True
    intent_actions: dict[str, str] = field(default_factory=dict)
    refund_approval_limit: float = 100.0  # larger refunds need a supervisor's authenticator code, never the AI alone

    def is_auto(self, intent: str) -> bool:
        """True when the supervisor lets the AI resolve this intent alone."""
        return ALL_INTENTS in self.auto_intents or intent in self.auto_intents

    def action_for(self, intent: str) -> str | None:
        """The action an intent triggers, if any."""
        return self.intent_actions.get(intent)


def validate(policy: RoutingPolicy) -> RoutingPolicy:
    """The policy, or PolicyError naming the first value that makes no sense."""
    for name in ("auto_threshold", "review_threshold", "max_auto_risk", "escalate_risk"):
        value = getattr(policy, name)
        if not 0.0 <= value <= 1.0:
            raise PolicyError(f"{name.replace('_', ' ')} must be between 0 and 1, not {value}")
    if policy.refund_approval_limit < 0:
        raise PolicyError(f"the refund approval limit cannot be negative, not {policy.refund_approval_limit}")
    if policy.review_threshold > policy.auto_threshold:
        raise PolicyError("the review threshold cannot be above the auto-resolve threshold")
    if policy.max_auto_risk > policy.escalate_risk:
        raise PolicyError("the highest risk for auto-resolve cannot be above the escalation risk")
    unknown = sorted({a for a in policy.intent_actions.values() if a not in ACTIONS})
    if unknown:
        raise PolicyError(f"unknown action(s): {', '.join(unknown)} (known: {', '.join(ACTIONS)})")
    return policy


def default_policy(settings: Settings, intents: Iterable[str] = ()) -> RoutingPolicy:
    """Thresholds from the settings, actions suggested from intent names, read-only actions auto-resolvable."""
    actions = suggest_actions(intents)
    auto = tuple(sorted(i for i, a in actions.items() if not ACTIONS[a].writes))
    return RoutingPolicy(
        auto_intents=auto,
        auto_threshold=settings.auto_resolve_threshold,
        review_threshold=settings.review_threshold,
        intent_actions=actions,
    )


def load_policy(settings: Settings, intents: Iterable[str] = ()) -> RoutingPolicy:
    """The saved policy, or the default one; an unreadable file is reported and the default used."""
    path = settings.data_dir / POLICY_FILE
    if not path.is_file():
        return default_policy(settings, intents)
    try:
        return validate(from_dict(json.loads(path.read_text(encoding="utf-8"))))
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring unreadable routing policy %s: %s", path, exc)
        return default_policy(settings, intents)


def from_dict(values: dict[str, Any]) -> RoutingPolicy:
    """A policy from its JSON form (unknown keys are ignored)."""
    known = {f for f in RoutingPolicy.__dataclass_fields__}
    kept = {k: v for k, v in values.items() if k in known}
    if "auto_intents" in kept:
        kept["auto_intents"] = tuple(str(i) for i in kept["auto_intents"])
    if "intent_actions" in kept:
        kept["intent_actions"] = {str(k): str(v) for k, v in dict(kept["intent_actions"]).items()}
    for name in ("auto_threshold", "review_threshold", "max_auto_risk", "escalate_risk", "refund_approval_limit"):
        if name in kept:
            kept[name] = float(kept[name])
    return replace(RoutingPolicy(), **kept)


def changes(old: RoutingPolicy, new: RoutingPolicy) -> dict[str, dict[str, Any]]:
    """Field -> {"from", "to"} for every field that differs."""
    before, after = asdict(old), asdict(new)
    return {k: {"from": _plain(before[k]), "to": _plain(after[k])} for k in after if before[k] != after[k]}


def save_policy(db: SAEngine, data_dir: Path, old: RoutingPolicy, new: RoutingPolicy, *, actor: str) -> RoutingPolicy:
    """Validate and save the policy, and audit who changed which values; returns the saved policy."""
    validate(new)
    diff = changes(old, new)
    if not diff:
        return new
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / POLICY_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(_plain(asdict(new)), indent=2, sort_keys=True), encoding="utf-8")
    temporary.replace(path)
    with session_scope(db) as session:
        audit.append(session, actor=actor, action=POLICY_AUDIT, subject="policy:routing", details=diff)
    log.info("routing policy changed by %s: %s", actor, ", ".join(diff))
    return new


def _plain(value: Any) -> Any:
    """Tuples as lists, for JSON."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
