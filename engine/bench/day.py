"""Day bench: a support day against real local servers: customers write, a team answers, replies leave the desk.

- Servers: aiosmtpd (the customers' mail server), Dovecot IMAP (the support mailbox; when it cannot start here the
  customers' e-mails go in through the desk's own inbound e-mail path instead), a webhook receiver standing in for
  the chat, SMS, social and voice platforms, and the desk's webhook API over HTTP.
- Traffic: N first messages, half by e-mail and half by webhook; some customers answer the reply they got.
- Team: agents work the queue through the desk API (approve, edit, reject then write, change intent, reopen).
- `flaky`: each outbound channel refuses or times out that share of its attempts.
- SLA: the desk is open around the clock; SMS is due a first response within SMS_FIRST_RESPONSE minutes, the other
  channels within hours. Agents work their queue by the first-response due and hold back half of the SMS
  conversations (HELD) until their due has passed, so those miss it; the others are answered at once.
Ground truth is what the simulation did; the report compares what reached the servers and the desk with it. An SLA
breach in the truth is a conversation whose first reply reached the customer later than the target after the
customer wrote (by the simulator's clock and the receiver's), or never.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select

from engine.app import api_routers, build_engine
from engine.bench.servers.callbacks import CallbackReceiver
from engine.bench.servers.imap import Dovecot, dovecot_missing
from engine.bench.servers.mail import FlakyProxy, SmtpServer
from engine.config import Settings
from engine.desk import approve_or_edit, change_intent, intent_labels, reject, reopen, ticket_view
from engine.feedback.capture import FeedbackError
from engine.ingest.email_channel import ingest_email, poll_imap
from engine.ingest.webhook import message_key
from engine.ingest.webhook_auth import signed_headers
from engine.kpi import all_time, dashboard
from engine.outbox import Courier
from engine.routing.auto_resolve import AI_AUTHOR
from engine.runtime import Engine
from engine.store.models import Customer, Direction, Message, Ticket, TicketStatus
from engine.store.outbox_models import DeliveryState, OutboundReply
from engine.worktime import MAX_REPORT_SECONDS, record_handle_time

log = logging.getLogger(__name__)

SOURCE, SECRET = "platform", "bench-secret"
CUSTOMER_DOMAIN = "customers.example"
AGENTS = 3
ANSWER_SHARE = 0.3  # customers who answer the first reply they get
SURVEY_SHARE = 0.5  # survey links a customer answers
SURVEY_LINK = re.compile(r"(http://[\w.:]+)/survey/([\w-]+)(?!/person)")
REOPEN_SHARE = 0.05  # resolved tickets an agent reopens and answers again
TIMEOUT = 2.0  # seconds the desk waits for a channel to answer; the flaky servers hang longer than that
OUTBOX = {
    "backoff_seconds": 0.05,
    "backoff_max_seconds": 1.0,
    "max_attempts": 40,
    "senders": 32,  # deliveries in flight: a hung channel holds one for TIMEOUT seconds
    "callback_timeout": TIMEOUT,
    "poll_seconds": 0.05,
}
QUESTIONS = (
    "Where is my order {i}? It has not arrived.",
    "I want a refund for order {i}, the item was damaged.",
    "How do I change the shipping address of order {i}?",
    "I cannot log in to my account, please help (ref {i}).",
    "Please cancel my subscription, customer {i}.",
)
WEBHOOK_CHANNELS = ("chat", "sms", "social", "voice")
SMS_FIRST_RESPONSE = 1  # business minutes to the first response on SMS; every other target is hours away
HOLD_MARGIN = 2.0  # seconds past its due an agent answers a held conversation
SLA = {
    "timezone": "UTC",
    "days": "mon-sun",
    "open": "00:00",
    "close": "24:00",
    "targets": {
        channel: {
            priority: {"first_response": SMS_FIRST_RESPONSE if channel == "sms" else 480, "resolution": 960}
            for priority in ("urgent", "high", "normal")
        }
        for channel in ("email", *WEBHOOK_CHANNELS)
    },
}
CHATTY_LOGGERS = ("mail.log", "httpx", "engine.outbox", "engine.ingest", "engine.routing", "engine.surveys")


@dataclass
class Conversation:
    """One customer's issue as the simulator knows it."""

    number: int
    channel: str
    first_key: str  # the stored external id of the first message
    ticket_id: int | None = None
    answered: bool = False
    answer_key: str = ""
    written_at: float = 0.0  # when the customer sent the first message (time.time())


@dataclass
class Truth:
    """What the simulation did, to compare the desk and the servers with."""

    conversations: dict[int, Conversation] = field(default_factory=dict)
    team_replies: int = 0
    reopened: int = 0
    reopened_tickets: set[int] = field(default_factory=set)
    handle_seconds: dict[int, float] = field(default_factory=dict)  # by ticket: what the agents reported
    surveys_seen: set[str] = field(default_factory=set)
    survey_answers: dict[str, tuple[int, int]] = field(default_factory=dict)  # token -> (csat, ces)
    survey_refusals: int = 0  # a second answer on a used link, refused as it should be
    actions: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, action: str) -> None:
        with self.lock:
            self.actions[action] = self.actions.get(action, 0) + 1


def run(*, tickets: int, flaky_channel: float = 0.0, seed: int = 7) -> dict[str, Any]:
    """Run the day with `tickets` first messages; outbound channels fail `flaky_channel` of their attempts."""
    started = time.monotonic()
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="caredesk-bench-day-") as tmp:
        day = Day(Path(tmp), flaky_channel, rng)
        try:
            day.run(tickets)
            report = day.report()
        finally:
            day.close()
    return report | {"seconds": round(time.monotonic() - started, 1)}


class Day:
    """The servers, the desk and the simulated people of one bench run."""

    def __init__(self, data_dir: Path, flaky: float, rng: random.Random) -> None:
        for name in CHATTY_LOGGERS:  # a line per message (redacted on the way out) would cost more than the work
            logging.getLogger(name).setLevel(logging.WARNING)
        self.rng = rng
        self.flaky = flaky
        self.truth = Truth()
        self.smtp = SmtpServer()
        fault_rng = random.Random(rng.random())
        self.proxy = FlakyProxy(self.smtp.port, lambda: _fault(fault_rng, flaky, "refuse"), hang_seconds=2 * TIMEOUT)
        self.receiver = CallbackReceiver(
            SECRET, lambda n: _fault(fault_rng, flaky, "status:503"), hang_seconds=2 * TIMEOUT
        )
        missing = dovecot_missing()
        self.dovecot = None if missing else Dovecot()
        self.inbound_path = "Dovecot IMAP" if self.dovecot else f"the desk's e-mail intake ({missing})"
        settings = Settings.load(
            data_dir=data_dir,
            model_backend="fake",
            demo=False,
            smtp=self.smtp.settings(port=self.proxy.port, timeout=TIMEOUT),
            imap=self.dovecot.settings if self.dovecot else {},
            webhook_secrets={SOURCE: SECRET},
            webhook_callbacks={SOURCE: self.receiver.url},
            outbox=OUTBOX,
            sla=SLA,
        )
        self.engine = build_engine(settings)
        self.engine.start()
        self.server, self.base = _serve(self.engine)
        self.api = f"{self.base}/api/v1/messages"
        self.engine.settings = self.engine.settings._with({"surveys": {"base_url": self.base}})
        assert isinstance(self.engine.courier, Courier)  # the app's courier, as build_engine made it
        self.courier = self.engine.courier
        self.courier.start()
        self.http = httpx.Client(timeout=30)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    # ---- the day -----------------------------------------------------------------------------------------------
    def run(self, tickets: int) -> None:
        log.info(
            "day bench: %d first messages, flaky channels %.0f %%, e-mail in through %s",
            tickets,
            self.flaky * 100,
            self.inbound_path,
        )
        for name, loop in [(f"agent-{k}", self._agent(k)) for k in range(AGENTS)] + [
            ("customers", self._customers),
            ("mailbox", self._mailbox),
        ]:
            thread = threading.Thread(target=loop, name=f"bench-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        for number in range(tickets):
            self._first_message(number)
        log.info("all %d first messages sent; waiting for the day to settle", tickets)
        self._settle()

    def _first_message(self, number: int) -> None:
        text = QUESTIONS[number % len(QUESTIONS)].format(i=number)
        if number % 2 == 0:
            message_id = f"<c{number}.0@{CUSTOMER_DOMAIN}>"
            self.truth.conversations[number] = Conversation(number, "email", message_id, written_at=time.time())
            self._email_in(_customer_mail(number, message_id, f"Order {number}", text))
        else:
            channel = WEBHOOK_CHANNELS[number % len(WEBHOOK_CHANNELS)]
            external_id = f"m{number}.0"
            key = message_key(SOURCE, external_id)
            self.truth.conversations[number] = Conversation(number, channel, key, written_at=time.time())
            self._webhook_in(number, channel, external_id, text)

    def _email_in(self, raw: bytes) -> None:
        if self.dovecot is not None:
            self.dovecot.deliver(raw)
        elif ingest_email(self.engine, raw, source="email:bench") is None:
            raise RuntimeError("the desk refused a well-formed e-mail")

    def _webhook_in(self, number: int, channel: str, external_id: str, text: str) -> None:
        body = json.dumps(
            {
                "channel": channel,
                "external_id": external_id,
                "customer_handle": f"@c{number}",
                "customer_name": f"Customer {number}",
                "text": text,
                "conversation_id": f"conv{number}",
            }
        ).encode()
        headers = {"Content-Type": "application/json", **signed_headers(SOURCE, SECRET, body)}
        for _ in range(5):
            response = self.http.post(self.api, content=body, headers=headers)
            if response.status_code == 202:
                return
            log.warning("webhook intake answered %s: %s", response.status_code, response.text[:200])
            time.sleep(0.2)
        raise RuntimeError(f"the webhook intake refused message {external_id}")

    def _mailbox(self) -> None:
        """The IMAP poller, as the desk's job runs it."""
        while not self.stop.is_set():
            if self.dovecot is not None:
                try:
                    poll_imap(self.engine)
                except OSError as exc:
                    log.warning("IMAP poll failed: %s", exc)
            self.stop.wait(0.2)

    # ---- the team ----------------------------------------------------------------------------------------------
    def _agent(self, k: int) -> Callable[[], None]:
        rng = random.Random(self.rng.random())
        name = f"agent{k}"

        def work() -> None:
            while not self.stop.is_set():
                ready = [t.id for t in _queue(self.engine) if t.id % AGENTS == k and not _held(t)]
                if ready:  # the most urgent by first-response due
                    self._answer(ready[0], name, rng)
                else:
                    self._maybe_reopen(k, name, rng)
                    self.stop.wait(0.1)

        return work

    def _answer(self, ticket_id: int, agent: str, rng: random.Random) -> None:
        view = ticket_view(self.engine, ticket_id)
        if view is None or view.ticket.status == TicketStatus.RESOLVED:
            return
        draft = view.draft
        roll = rng.random()
        labels = intent_labels(self.engine)
        if roll < 0.1 and labels:
            change_intent(self.engine, ticket_id, rng.choice(labels), agent=agent)
            self.truth.count("change_intent")
        text = f"Hello, thank you for writing about ticket {ticket_id}. We have sorted it out for you."
        draft_id = draft.id if draft is not None else None
        if draft is not None and 0.1 <= roll < 0.2:
            reject(self.engine, ticket_id, draft_id, "does not answer the question", agent=agent)
            self.truth.count("reject")
        elif draft is not None and roll < 0.75 and draft.text.strip():
            text = draft.text
            self.truth.count("approve")
        elif draft is not None:
            text = draft.text + "\n\nKind regards, the support team"
            self.truth.count("edit")
        else:
            self.truth.count("write")
        self._work(ticket_id, agent, rng.uniform(20.0, 180.0))
        try:
            approve_or_edit(self.engine, ticket_id, draft_id, text, agent=agent)
        except FeedbackError as exc:
            log.warning("agent could not send on ticket %s: %s", ticket_id, exc)
            return
        with self.truth.lock:
            self.truth.team_replies += 1

    def _work(self, ticket_id: int, agent: str, seconds: float) -> None:
        """Report active time on the ticket as its page does, a report at a time."""
        left = seconds
        while left > 0:
            chunk = min(left, MAX_REPORT_SECONDS)
            record_handle_time(self.engine.db, ticket_id, chunk, agent=agent)
            left -= chunk
        with self.truth.lock:
            self.truth.handle_seconds[ticket_id] = self.truth.handle_seconds.get(ticket_id, 0.0) + seconds

    def _maybe_reopen(self, k: int, agent: str, rng: random.Random) -> None:
        with self.truth.lock:
            budget = int(REOPEN_SHARE * len(self.truth.conversations)) - self.truth.reopened
        if budget <= 0 or rng.random() > 0.5:
            return
        with self.engine.session() as session:
            resolved = session.exec(
                select(Ticket.id).where(Ticket.status == TicketStatus.RESOLVED).order_by(col(Ticket.id))
            ).all()
        mine = [i for i in resolved if i is not None and i % AGENTS == k]
        if not mine:
            return
        ticket_id = rng.choice(mine)
        try:
            reopen(self.engine, ticket_id, "the customer phoned: the problem is back", agent=agent)
        except FeedbackError:
            return
        with self.truth.lock:
            self.truth.reopened += 1
            self.truth.reopened_tickets.add(ticket_id)

    # ---- customers answering -----------------------------------------------------------------------------------
    def _customers(self) -> None:
        seen_mail, seen_posts = 0, 0
        while not self.stop.is_set():
            mails = list(self.smtp.mailbox.messages)
            for raw in mails[seen_mail:]:
                self._maybe_answer_mail(raw)
            seen_mail = len(mails)
            with self.receiver.lock:
                posts = list(self.receiver.delivered.values())  # what reached the customer, once per reply
            for post in posts[seen_posts:]:
                self._maybe_answer_post(post)
            seen_posts = len(posts)
            self.stop.wait(0.1)

    def _survey(self, text: str) -> None:
        """Answer the reply's survey link over HTTP (some customers), as a phone's browser would post the form."""
        match = SURVEY_LINK.search(text)
        if match is None:
            return
        base, token = match.group(1), match.group(2)
        with self.truth.lock:
            if token in self.truth.surveys_seen:
                return
            self.truth.surveys_seen.add(token)
        if self.rng.random() > SURVEY_SHARE:
            return
        page = self.http.get(f"{base}/survey/{token}")
        if page.status_code != 200 or 'name="csat"' not in page.text:
            log.warning("survey page for %s answered %s", token, page.status_code)
            return
        csat, ces = self.rng.randint(1, 10), self.rng.randint(1, 5)
        done = self.http.post(f"{base}/survey/{token}", data={"csat": str(csat), "ces": str(ces)})
        if done.status_code == 200:
            with self.truth.lock:
                self.truth.survey_answers[token] = (csat, ces)
        if self.rng.random() < 0.05:  # the link opened again from the e-mail: a second answer is refused
            again = self.http.post(f"{base}/survey/{token}", data={"csat": "1", "ces": "5"})
            with self.truth.lock:
                self.truth.survey_refusals += again.status_code == 409

    def _maybe_answer_mail(self, raw: bytes) -> None:
        reply = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
        self._survey(str(reply.get_content()))
        number = int(str(reply["To"]).split("@")[0].lstrip("c"))
        conversation = self.truth.conversations[number]
        if conversation.answered or self.rng.random() > ANSWER_SHARE:
            conversation.answered = True
            return
        conversation.answered = True
        conversation.answer_key = f"<c{number}.1@{CUSTOMER_DOMAIN}>"
        key = str(reply["Message-ID"])
        headers = {"In-Reply-To": key, "References": key}
        self._email_in(
            _customer_mail(
                number, conversation.answer_key, f"Re: Order {number}", "Thanks, one more question.", headers
            )
        )

    def _maybe_answer_post(self, sent: dict[str, Any]) -> None:
        self._survey(str(sent.get("text", "")))
        try:
            number = int(str(sent["conversation_id"]).removeprefix("conv"))
        except (ValueError, KeyError):
            return
        conversation = self.truth.conversations.get(number)
        if conversation is None or conversation.answered:
            return
        conversation.answered = True
        if self.rng.random() > ANSWER_SHARE:
            return
        external_id = f"m{number}.1"
        conversation.answer_key = message_key(SOURCE, external_id)
        self._webhook_in(number, conversation.channel, external_id, "Thanks, one more question.")

    # ---- settling and the report -------------------------------------------------------------------------------
    def _settle(self, timeout: float = 3600.0) -> None:
        deadline = time.monotonic() + timeout
        quiet_rounds = 0
        while time.monotonic() < deadline:
            busy = _queue(self.engine) or _undelivered(self.engine) or not self.courier.idle()
            missing = self._missing_inbound()
            quiet_rounds = 0 if busy or missing else quiet_rounds + 1
            if quiet_rounds >= 10:  # a second with nothing open, nothing queued and every message stored
                return
            time.sleep(0.1)
        log.warning("the day did not settle within %.0f s", timeout)

    def _missing_inbound(self) -> int:
        keys = [c.first_key for c in self.truth.conversations.values()]
        keys += [c.answer_key for c in self.truth.conversations.values() if c.answer_key]
        return len(keys) - len(_stored(self.engine, keys))

    def report(self) -> dict[str, Any]:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        engine = self.engine
        conversations = self.truth.conversations.values()
        first = _stored(engine, [c.first_key for c in conversations])
        answers = {c.answer_key: c for c in conversations if c.answer_key}
        answered = _stored(engine, list(answers))
        threaded = sum(1 for key, c in answers.items() if answered.get(key) == first.get(c.first_key))
        with engine.session() as session:
            rows = session.exec(select(OutboundReply.key, OutboundReply.message_id, OutboundReply.state)).all()
            outbound = session.exec(
                select(Message.id, Message.author).where(Message.direction == Direction.OUTBOUND)
            ).all()
        by_key = {key: message_id for key, message_id, _ in rows if key}
        ai_replies = sum(1 for _, author in outbound if author == AI_AUTHOR)
        mail_keys = [str(m["Message-ID"]) for m in self.smtp.mailbox.parsed()]
        delivered_messages: dict[int, int] = {}
        for key in mail_keys:
            if key in by_key:
                delivered_messages[by_key[key]] = delivered_messages.get(by_key[key], 0) + 1
        for key in self.receiver.delivered:
            if key in by_key:  # the receiver, like a platform honouring Idempotency-Key, shows a key once
                delivered_messages[by_key[key]] = delivered_messages.get(by_key[key], 0) + 1
        expected = self.truth.team_replies + ai_replies
        states: dict[str, int] = {}
        for _, _, state in rows:
            states[state] = states.get(state, 0) + 1
        checked, mismatches = self._kpi_check()
        return {
            "tickets": len(self.truth.conversations),
            "flaky_channel": self.flaky,
            "email_inbound_path": self.inbound_path,
            "replies_expected": expected,
            "replies_delivered": len(delivered_messages),
            "duplicates_delivered": sum(n - 1 for n in delivered_messages.values()),
            "lost": len(self.truth.conversations) - len(first) + len(answers) - len(answered),
            "threaded_back": round(threaded / len(answers), 4) if answers else None,
            "customer_answers": len(answers),
            "surveys_sent": len(self.truth.surveys_seen),
            "surveys_answered": len(self.truth.survey_answers),
            "kpi_mismatches": len(mismatches),
            "kpi_checked": checked,
            "outbox_states": states,
            "webhook_retries_deduplicated": sum(v["copies"] - 1 for v in self.receiver.delivered.values()),
            "smtp_connections": self.proxy.faults,
            "team_actions": self.truth.actions | {"reopen": self.truth.reopened},
            "ai_replies": ai_replies,
            "survey_reuse_refused": self.truth.survey_refusals,
            "kpi_mismatch_details": mismatches,
        }

    def _kpi_check(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Dashboard AHT, FCR, CSAT, CES and SLA breaches next to what the simulation knows; the ones that differ."""
        shown = {k.key: k.value for k in dashboard(self.engine.db, all_time(self.engine.db)).kpis}
        truth = self.truth
        handled = [s for s in truth.handle_seconds.values() if s > 0]
        first_contact = [
            c
            for c in truth.conversations.values()
            if not c.answer_key
            and (first := _stored(self.engine, [c.first_key]).get(c.first_key)) is not None
            and first not in truth.reopened_tickets
        ]
        answers = list(truth.survey_answers.values())
        first_reply: dict[int, float] = {}  # conversation -> when its first reply reached the customer
        for post in self.receiver.delivered.values():
            number = int(str(post.get("conversation_id", "conv-1")).removeprefix("conv"))
            first_reply[number] = min(first_reply.get(number, post["received_at"]), post["received_at"])
        late = [
            c
            for c in truth.conversations.values()
            if c.channel == "sms" and first_reply.get(c.number, float("inf")) - c.written_at > 60 * SMS_FIRST_RESPONSE
        ]
        expected = {
            "avg_handle_time": sum(handled) / len(handled) / 60 if handled else None,
            "first_contact_resolution": len(first_contact) / len(truth.conversations) if truth.conversations else None,
            "csat": sum(a[0] for a in answers) / len(answers) if answers else None,
            "ces": sum(a[1] for a in answers) / len(answers) if answers else None,
            "sla_breaches": float(len(late)),  # the held SMS conversations, and any other the team was late on
        }
        checked = {
            key: {"dashboard": _round(shown.get(key)), "truth": _round(value)} for key, value in expected.items()
        }
        mismatches = {key: pair for key, pair in checked.items() if not _same(pair["dashboard"], pair["truth"])}
        return checked, mismatches

    def close(self) -> None:
        self.stop.set()
        self.server.should_exit = True
        self.courier.stop()
        self.engine.stop()
        self.http.close()
        self.proxy.close()
        self.smtp.close()
        self.receiver.close()
        if self.dovecot is not None:
            self.dovecot.close()


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 1e-3 * max(1.0, abs(b)))


def _fault(rng: random.Random, share: float, refusal: str) -> str | None:
    """A refusal or a hang for `share` of the attempts, half each."""
    roll = rng.random()
    if roll >= share:
        return None
    return refusal if roll < share / 2 else "hang"


def _customer_mail(
    number: int, message_id: str, subject: str, text: str, headers: dict[str, str] | None = None
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {number} <c{number}@{CUSTOMER_DOMAIN}>"
    message["To"] = "help@shop.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = email.utils.formatdate()
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    return message.as_bytes()


@dataclass(frozen=True)
class Queued:
    """An open ticket as an agent sees it in the queue sorted by SLA time left."""

    id: int
    handle: str | None  # the customer's: "@c<number>" on the webhook channels
    first_response_due: datetime | None
    answered: bool  # a first response was recorded


def _queue(engine: Engine) -> list[Queued]:
    """The open tickets, the first-response due soonest first."""
    with engine.session() as session:
        query = (
            select(Ticket.id, Customer.handle, Ticket.first_response_due, Ticket.first_response_at)
            .join(Customer, col(Customer.id) == col(Ticket.customer_id))
            .where(col(Ticket.status).in_([TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.ESCALATED]))
            .order_by(col(Ticket.first_response_due), col(Ticket.id))
        )
        return [Queued(i, h, due, at is not None) for i, h, due, at in session.exec(query) if i is not None]


def _held(ticket: Queued) -> bool:
    """Whether the team holds this ticket back for now: half of the SMS conversations, until their due has passed."""
    if ticket.answered or ticket.first_response_due is None or not ticket.handle:
        return False
    if int(ticket.handle.removeprefix("@c")) % 8 != 1:  # held: numbers 1 modulo 8, half of the SMS conversations
        return False
    due = ticket.first_response_due
    return datetime.now(UTC) < (due if due.tzinfo else due.replace(tzinfo=UTC)) + timedelta(seconds=HOLD_MARGIN)


def _undelivered(engine: Engine) -> int:
    with engine.session() as session:
        query = select(OutboundReply.id).where(
            col(OutboundReply.state).in_([DeliveryState.QUEUED, DeliveryState.SENDING])
        )
        return len(session.exec(query).all())


def _stored(engine: Engine, keys: list[str]) -> dict[str, int]:
    """The ticket each stored inbound message (by external id) landed on."""
    found: dict[str, int] = {}
    with engine.session() as session:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = session.exec(
                select(Message.external_id, Message.ticket_id).where(col(Message.external_id).in_(chunk))
            )
            found.update({key: ticket for key, ticket in rows if key})
    return found


def _serve(engine: Engine) -> tuple[Any, str]:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    for router in api_routers(engine):
        app.include_router(router)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    threading.Thread(target=server.run, name="bench-day-http", daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"
