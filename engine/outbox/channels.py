"""Change the channels replies go out on (SMTP server, callback URLs and secrets per source), saved and audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.privacy import audit
from engine.settings_file import save_override

if TYPE_CHECKING:
    from engine.runtime import Engine

SMTP_FIELDS = ("host", "port", "user", "password", "from", "domain", "ssl", "starttls", "timeout")
SECRET_FIELDS = {"password"}


@dataclass
class Channels:
    """The outbound channel settings as the Settings page edits them."""

    smtp: dict[str, Any] = field(default_factory=dict)
    callbacks: dict[str, str] = field(default_factory=dict)  # source -> URL
    secrets: dict[str, str] = field(default_factory=dict)  # source -> shared secret

    @property
    def sources(self) -> list[str]:
        """Every webhook source with a URL or a secret."""
        return sorted(set(self.callbacks) | set(self.secrets))


def current_channels(engine: Engine) -> Channels:
    """The channel settings in use."""
    settings = engine.settings
    return Channels(
        smtp={k: v for k, v in settings.smtp.items() if k in SMTP_FIELDS},
        callbacks={str(k): str(v) for k, v in settings.webhook_callbacks.items()},
        secrets={str(k): str(v) for k, v in settings.webhook_secrets.items()},
    )


def save_channels(engine: Engine, channels: Channels, *, actor: str) -> list[str]:
    """Validate, save for this and later runs, and audit (secrets as 'changed', never their values); what changed.

    A blank secret (a source's, the SMTP password) keeps the one saved: screens never get secrets back to resend."""
    before = current_channels(engine)
    kept = {name: secret or before.secrets.get(name, "") for name, secret in channels.secrets.items()}
    smtp = _valid_smtp({**channels.smtp, "password": channels.smtp.get("password") or before.smtp.get("password")})
    for source, url in channels.callbacks.items():
        if not source or ":" in source or "@" in source:
            raise ValueError(f"a source name cannot be empty or contain ':' or '@' (got {source!r})")
        if url and not url.startswith(("http://", "https://")):
            raise ValueError(f"the callback URL of {source} must start with http:// or https://")
    changed: list[str] = []
    values = {
        "smtp": (before.smtp, smtp),
        "webhook_callbacks": (before.callbacks, {k: v for k, v in channels.callbacks.items() if v}),
        "webhook_secrets": (before.secrets, {k: v for k, v in kept.items() if v}),
    }
    settings = engine.settings
    for key, (old, new) in values.items():
        if old == new:
            continue
        settings = save_override(settings, key, new)
        changed += [f"{key}.{name}" for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
    engine.settings = settings
    if changed:
        with engine.transaction() as session:
            audit.append(
                session,
                actor=actor,
                action="channels_changed",
                subject="settings:channels",
                details={
                    "changed": changed,
                    "smtp": {k: ("(changed)" if k in SECRET_FIELDS else v) for k, v in smtp.items()},
                    "callbacks": {k: v for k, v in channels.callbacks.items() if v},
                },
            )
    return changed


def _valid_smtp(given: dict[str, Any]) -> dict[str, Any]:
    smtp = {k: v for k, v in given.items() if k in SMTP_FIELDS and v not in (None, "")}
    if not smtp:
        return {}
    if not smtp.get("host"):
        raise ValueError("the SMTP server needs a host")
    try:
        smtp["port"] = int(smtp.get("port") or (465 if smtp.get("ssl") else 25))
        if "timeout" in smtp:
            smtp["timeout"] = float(smtp["timeout"])
    except (TypeError, ValueError) as exc:
        raise ValueError("the SMTP port and timeout must be numbers") from exc
    if not 0 < smtp["port"] < 65536:
        raise ValueError("the SMTP port must be between 1 and 65535")
    sender = str(smtp.get("from") or "")
    if sender and "@" not in sender:
        raise ValueError(f"the sender address {sender!r} is not an e-mail address")
    return smtp
