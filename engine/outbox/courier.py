"""The courier: a background thread that claims due outbox rows and delivers them over their channel.

Exactly once, as far as a channel allows:
- A row is marked `sending` (committed) before anything leaves the desk, and only the courier claims rows.
- Webhooks: every attempt of a reply carries the same `Idempotency-Key` (and `reply_id`), so a receiver drops a
  retry after a timeout; a restart finding a `sending` row sends it again with the same key.
- E-mail: an attempt that stopped before the end-of-data marker was discarded by the server and is retried. One
  that stopped after it (a timeout waiting for the server's answer, or a restart in that window) may have been
  delivered: it is marked failed as unconfirmed and never resent by itself; a person checks and retries.
- Transient failures wait `backoff` (doubling) and retry; after `max_attempts`, or at once on a permanent refusal
  (a 5xx, a bounce, no callback URL), the row is a dead letter (`failed`) that a person can retry.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.config import Settings
from engine.ingest.dead_letter_store import IngestError
from engine.ingest.email_channel import MailServer, new_message_id
from engine.ingest.webhook_auth import source_secret
from engine.outbox import callback, email
from engine.outbox.config import OutboxSettings, callback_url
from engine.outbox.errors import DeliveryError, Permanent, Transient, Unconfirmed
from engine.sla import first_reply_sent
from engine.store.db import session_scope
from engine.store.models import Message, utcnow
from engine.store.outbox_models import DeliveryState, OutboundReply, SendStage

log = logging.getLogger(__name__)

Links = Callable[[Session, Settings, Message], str]  # a reply's text with the links it carries (e.g. a survey)


@dataclass(frozen=True)
class Job:
    """One claimed attempt: what to send and where."""

    id: int
    ticket_id: int
    route: str
    source: str
    key: str
    envelope: dict[str, Any]
    text: str
    attempts: int
    reason: str


class Courier:
    """Deliver queued replies in the background (a few at once), never on the UI loop."""

    def __init__(
        self,
        db: SAEngine,
        settings: Callable[[], Settings],
        *,
        changed: Callable[[], None] = lambda: None,
        links: Links | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.changed = changed
        self.links = links
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight: set[int] = set()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Recover rows a stopped desk left `sending`, then deliver in a background thread (once)."""
        if self._thread is not None:
            return
        recover(self.db)
        config = OutboxSettings.of(self.settings())
        self._pool = ThreadPoolExecutor(max_workers=config.senders, thread_name_prefix="caredesk-outbox")
        self._thread = threading.Thread(target=self._run, name="caredesk-courier", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for due replies now."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, and wait for attempts in flight."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def idle(self) -> bool:
        """True when no attempt is in flight."""
        with self._lock:
            return not self._in_flight

    def _run(self) -> None:
        assert self._pool is not None
        while not self._stop.is_set():
            self._wake.clear()  # a wake-up from here on (a reply queued, a slot freed) ends the wait below
            config = OutboxSettings.of(self.settings())
            with self._lock:
                free = config.senders - len(self._in_flight)
            try:
                jobs = claim(self.db, self.settings(), free, links=self.links) if free > 0 else []
            except Exception:  # e.g. the database is locked for long: the rows stay queued
                log.exception("could not claim outbox rows; trying again")
                jobs = []
            for job in jobs:
                with self._lock:
                    self._in_flight.add(job.id)
                self._pool.submit(self._attempt, job)
            if jobs:
                self.changed()
            self._wake.wait(config.poll_seconds)

    def _attempt(self, job: Job) -> None:
        try:
            settings = self.settings()
            try:
                deliver(self.db, settings, job)
            except DeliveryError as exc:
                failed(self.db, job, exc, OutboxSettings.of(settings))
            except Exception as exc:  # a bug must not leave the row `sending` until the next restart
                log.exception("delivery of outbox row %s crashed", job.id)
                failed(self.db, job, Transient(f"{type(exc).__name__}: {exc}"), OutboxSettings.of(settings))
            else:
                sent(self.db, job)
        finally:
            with self._lock:
                self._in_flight.discard(job.id)
            self._wake.set()
            self.changed()


def deliver(db: SAEngine, settings: Settings, job: Job) -> None:
    """One attempt over the job's channel; raises a DeliveryError when the channel did not accept it."""
    if job.route == "email":
        try:
            server = MailServer.from_table(settings.smtp, "smtp")
        except IngestError as exc:
            raise Permanent(f"{exc} (Settings → Channels)") from exc
        envelope = job.envelope
        message = email.compose(
            server,
            to=envelope["to"],
            subject=envelope["subject"],
            body=job.text,
            message_id=job.key,
            in_reply_to=envelope.get("in_reply_to"),
            references=envelope.get("references") or (),
        )
        email.send(server, message, on_data_end=lambda: mark(db, job.id, stage=SendStage.DATA_END))
    elif job.route == "webhook":
        body = callback.callback_body(job.key, job.text, job.envelope)
        url, secret = callback_url(settings, job.source), source_secret(settings, job.source) or ""
        timeout = OutboxSettings.of(settings).callback_timeout
        callback.post(url, secret, job.key, body, timeout=timeout)
    else:
        raise Permanent(job.reason or "nowhere to send this reply")


def claim(db: SAEngine, settings: Settings, limit: int, *, links: Links | None = None) -> list[Job]:
    """Mark up to `limit` due queued rows `sending` (committed) and return them.

    On its first claim an e-mail gets its Message-ID, and a reply gets the links it carries (stored with it, so every
    attempt sends the same text).
    """
    now = utcnow()
    with session_scope(db) as session:
        query = (
            select(OutboundReply)
            .where(OutboundReply.state == DeliveryState.QUEUED, col(OutboundReply.next_attempt_at) <= now)
            .order_by(col(OutboundReply.next_attempt_at), col(OutboundReply.id))
            .limit(limit)
        )
        jobs = []
        for row in session.exec(query):
            message = session.get(Message, row.message_id)
            assert message is not None and row.id is not None
            if not row.key and row.route == "email":
                row.key = new_message_id(settings, row.ticket_id)
                message.external_id = row.key  # the customer's answer quotes it: it threads back to this ticket
                session.add(message)
            if links is not None and row.attempts == 0:
                message.body = links(session, settings, message)
                session.add(message)
            row.state, row.stage, row.attempts = DeliveryState.SENDING, SendStage.NONE, row.attempts + 1
            session.add(row)
            envelope = json.loads(row.envelope or "{}")
            jobs.append(
                Job(
                    row.id,
                    row.ticket_id,
                    row.route,
                    row.source,
                    row.key,
                    envelope,
                    message.body,
                    row.attempts,
                    row.reason,
                )
            )
    return jobs


def sent(db: SAEngine, job: Job) -> None:
    """Record that the channel accepted the reply; the ticket's first reply to go out decides its first response SLA."""
    at = utcnow()
    with session_scope(db) as session:
        row = session.get(OutboundReply, job.id)
        if row is None:
            return
        row.state, row.reason, row.sent_at = DeliveryState.SENT, "", at
        session.add(row)
        first_reply_sent(session, job.ticket_id, at)


def failed(db: SAEngine, job: Job, exc: DeliveryError, config: OutboxSettings) -> None:
    """Record a failed attempt: queue the next one after a backoff, or make it a dead letter."""
    reason = str(exc)
    if isinstance(exc, Transient) and job.attempts < config.max_attempts:
        when = utcnow() + timedelta(seconds=config.backoff(job.attempts))
        mark(db, job.id, state=DeliveryState.QUEUED, reason=reason, next_attempt_at=when)
        log.info("outbox row %s: attempt %d failed (%s); next at %s", job.id, job.attempts, reason, when)
        return
    if isinstance(exc, Transient):
        reason = f"gave up after {job.attempts} attempts: {reason}"
    elif isinstance(exc, Unconfirmed):
        reason = f"unconfirmed: {reason}"
    mark(db, job.id, state=DeliveryState.FAILED, reason=reason)
    log.warning("outbox row %s (ticket %s) failed: %s", job.id, job.ticket_id, reason)


def mark(db: SAEngine, row_id: int, **values: Any) -> None:
    """Set fields of one outbox row and commit."""
    with session_scope(db) as session:
        row = session.get(OutboundReply, row_id)
        if row is None:
            return
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)


def recover(db: SAEngine) -> list[int]:
    """Rows a stopped desk left `sending`: queued again if nothing can have arrived, else failed as unconfirmed."""
    with session_scope(db) as session:
        rows = list(session.exec(select(OutboundReply).where(OutboundReply.state == DeliveryState.SENDING)))
        for row in rows:
            _recover_row(session, row)
    return [row.id or 0 for row in rows]


def _recover_row(session: Session, row: OutboundReply) -> None:
    if row.route == "email" and row.stage == SendStage.DATA_END:
        row.state = DeliveryState.FAILED
        row.reason = (
            "unconfirmed: the desk stopped after handing the e-mail to the SMTP server and before its answer; it may "
            "have been delivered, so it is not sent again by itself: retry only if the customer did not get it"
        )
    else:  # e-mail that never reached the end of data was discarded by the server; webhooks carry their key
        row.state, row.next_attempt_at = DeliveryState.QUEUED, utcnow()
    log.warning("outbox row %s was left sending by a stopped desk: now %s", row.id, row.state)
    session.add(row)
