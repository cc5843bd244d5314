"""Faults bench: a desk process is killed with SIGKILL at random moments while webhook messages pour in, and restarted.

On a fresh data dir: `messages` signed webhook messages (a few poisoned: triage raises on them) are sent by
platform threads that retry until the desk answers 202 (a message is *accepted* then); the desk
(engine.bench.faults_desk) triages, routes, drafts and sends replies to a callback receiver, calling a store API
(the demo store, outside the desk process) that times out or answers garbage part of the time. `runs` times the
whole desk process group gets SIGKILL at a random moment of the load; before each restart the HNSW index files
are corrupted. During part of every period the desk's disk is "full" (SQLite's error on inserts of requests).

Reported: lost (accepted messages without a stored message), duplicated (messages stored twice, conversations with
two tickets, tickets with two automatic replies), stuck (tickets never triaged, quarantined ones apart),
quarantined (tickets set aside) and whether they are exactly the poisoned ones, restarts, recovery_seconds_p95
(restart to the worker draining again), audit_chain_ok.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, func, select

from engine.bench.servers.callbacks import CallbackReceiver
from engine.demo import DemoStoreServer, StoreData
from engine.ingest.webhook import message_key
from engine.ingest.webhook_auth import signed_headers
from engine.privacy import audit
from engine.privacy.crypto import Cipher, load_keys, set_cipher
from engine.routing.auto_resolve import AI_AUTHOR
from engine.store.db import make_db
from engine.store.models import Direction, Message, Ticket
from engine.store.work_models import WorkFailure

log = logging.getLogger(__name__)

SOURCE, SECRET = "platform", "faults-secret"
CLIENT = ("faults-desk", "faults-desk-secret-0001")
POISON = "zzpoisonpill"  # ends a message: at the start, name redaction took it for a name
POISONED = 5
SENDERS = 4
STORE_CYCLE = (("ok", 6.0), ("garbage", 2.0), ("ok", 6.0), ("slow", 2.0))  # the store's moods, repeated
DISK_FULL_SECONDS, DISK_PERIOD = 1.0, 15.0
READY_SECONDS = 300.0
DRAIN_SECONDS = 300.0
TEXTS = (
    "Where is my order {i}? It has not arrived.",
    "I want a refund for order {i}, the item was damaged.",
    "How do I change the shipping address of order {i}?",
    "I cannot log in to my account, please help (ref {i}).",
    "Please cancel my subscription, customer {i}.",
)


def run(*, runs: int = 5, messages: int = 5000, seed: int = 7) -> dict[str, Any]:
    """Load `messages`, kill the desk `runs` times at random moments, then drain and count what was lost."""
    rng = random.Random(seed)
    started = time.monotonic()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the health polls
    with tempfile.TemporaryDirectory(prefix="caredesk-bench-faults-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        set_cipher(Cipher(load_keys(data_dir)))  # the desk's key: the bench reads its database afterwards
        db = make_db(f"sqlite:///{data_dir / 'caredesk.db'}")
        with _store(db, Path(tmp) / "store.sqlite3") as (store, moods), _receiver() as receiver:
            desk = Desk(data_dir, store.url, receiver.url, db)
            load = Load(messages, rng)
            try:
                desk.start()
                load.start(desk)
                kills = sorted(rng.sample(range(messages // 10, messages * 9 // 10), runs)) if runs else []
                for n, at in enumerate(kills, 1):
                    load.wait_accepted(at)
                    time.sleep(rng.uniform(0.0, 1.0))
                    desk.kill()
                    corrupted = _corrupt_indexes(data_dir)
                    load.corrupted += len(corrupted)
                    log.info(
                        "run %d/%d: killed at %d accepted; corrupted %s", n, runs, load.accepted_count(), corrupted
                    )
                    desk.start()
                load.join()
                drained = desk.drain(load.poisoned)
            finally:
                load.stop()
                desk.stop()
            report = _report(db, load, desk, drained)
            report.update(store_fault_spells=sum(m != "ok" for m in moods), replies_delivered=len(receiver.delivered))
    report["seconds"] = round(time.monotonic() - started, 1)
    set_cipher(None)
    return report


class Desk:
    """The desk process: started, killed with SIGKILL (its whole process group), restarted; recovery timed."""

    def __init__(self, data_dir: Path, store_url: str, callback_url: str, db: SAEngine) -> None:
        self.data_dir = data_dir
        self.db = db
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            sys.executable, "-m", "engine.bench.faults_desk", "--data-dir", str(data_dir), "--port", str(self.port),
            "--store", store_url, "--callback", callback_url, "--source", SOURCE, "--secret", SECRET,
            "--client", *CLIENT, "--poison", POISON,
            "--disk-full", str(DISK_FULL_SECONDS), "--disk-period", str(DISK_PERIOD),
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.recoveries: list[float] = []
        self.boots: list[float] = []  # restart to every component ready (the rest of a recovery is the backlog)
        self.restarts = 0
        self.up = threading.Event()

    def start(self) -> None:
        """Start the desk and wait until its worker drains again (the first start is not a recovery)."""
        began = time.monotonic()
        self.process = subprocess.Popen(self.args, start_new_session=True)
        done: int | None = None
        while True:
            if time.monotonic() - began > READY_SECONDS or self.process.poll() is not None:
                raise RuntimeError("the desk did not come back within the time allowed")
            waiting = self._waiting()
            if done is None and waiting is not None:
                done = self._triaged()
                if self.restarts:
                    self.boots.append(time.monotonic() - began)
            if waiting is not None and done is not None and (waiting == 0 or self._triaged() > done):
                break  # booted, and the worker triages again
            time.sleep(0.2)
        if self.restarts:
            self.recoveries.append(time.monotonic() - began)
        self.up.set()

    def _waiting(self) -> int | None:
        """Tickets waiting for triage (set-aside ones apart) once every component is ready; None before."""
        health = self.health()
        if health is None or any(state != "ready" for state in health["components"].values()):
            return None
        return int(health["backlog"]["untriaged"]) - int(health["backlog"]["needs_attention"])

    def _triaged(self) -> int:
        with Session(self.db) as session:
            return int(
                session.exec(select(func.count()).select_from(Ticket).where(col(Ticket.triaged_at).is_not(None))).one()
            )

    def health(self) -> dict[str, Any] | None:
        try:
            return dict(httpx.get(f"{self.url}/api/v1/health", timeout=2.0).json())
        except (httpx.HTTPError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the whole desk process group, as a power cut would."""
        assert self.process is not None
        self.up.clear()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.restarts += 1

    def drain(self, poisoned: set[str]) -> bool:
        """Wait until everything but the poisoned tickets is triaged, they are set aside, and replies are out."""
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            health = self.health()
            backlog = health["backlog"] if health else {}
            if (
                backlog
                and backlog["untriaged"] == backlog["needs_attention"] == len(poisoned)
                and backlog["outbox_pending"] == 0
            ):
                return True
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Load:
    """Platform threads posting signed messages, each retried (signed afresh) until the desk answers 202."""

    def __init__(self, messages: int, rng: random.Random) -> None:
        self.queue = list(range(messages))
        poison_at = set(rng.sample(range(messages), min(POISONED, messages)))
        self.poisoned = {message_key(SOURCE, f"m{i}") for i in poison_at}
        self.texts = {
            i: TEXTS[i % len(TEXTS)].format(i=i) + (f" {POISON}" if i in poison_at else "") for i in self.queue
        }
        self.accepted: set[str] = set()
        self.corrupted = 0  # index files corrupted before a restart
        self.refused = 0  # answers other than 202 (a full disk, a desk going down), each retried
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.threads: list[threading.Thread] = []
        self.desk: Desk | None = None

    def start(self, desk: Desk) -> None:
        self.desk = desk
        for k in range(SENDERS):
            thread = threading.Thread(target=self._send, name=f"bench-platform-{k}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def _next(self) -> int | None:
        with self.lock:
            return self.queue.pop(0) if self.queue else None

    def _send(self) -> None:
        assert self.desk is not None
        with httpx.Client(timeout=10.0) as http:
            while (number := self._next()) is not None and not self.halt.is_set():
                body = json.dumps(self._message(number)).encode()
                while not self.halt.is_set():
                    headers = {"Content-Type": "application/json", **signed_headers(SOURCE, SECRET, body)}
                    try:
                        answer = http.post(f"{self.desk.url}/api/v1/messages", content=body, headers=headers)
                    except httpx.HTTPError:
                        answer = None
                    if answer is not None and answer.status_code == 202:
                        with self.lock:
                            self.accepted.add(message_key(SOURCE, f"m{number}"))
                        break
                    with self.lock:
                        self.refused += 1
                    self.desk.up.wait(5.0)
                    time.sleep(0.1)

    def _message(self, number: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "channel": ("chat", "sms", "social", "voice")[number % 4],
            "external_id": f"m{number}",
            "customer_handle": f"@c{number}",
            "customer_name": f"Customer {number}",
            "text": self.texts[number],
            "conversation_id": f"conv{number}",
        }
        if number % 3 == 0:  # the store knows these customers by e-mail
            message["customer_email"] = f"c{number}@customers.example"
        return message

    def accepted_count(self) -> int:
        with self.lock:
            return len(self.accepted)

    def wait_accepted(self, count: int) -> None:
        while self.accepted_count() < count and any(t.is_alive() for t in self.threads):
            time.sleep(0.05)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def stop(self) -> None:
        self.halt.set()


@contextmanager
def _store(db: SAEngine, path: Path) -> Iterator[tuple[DemoStoreServer, list[str]]]:
    """The store API outside the desk (it survives the desk's deaths), cycling through timeouts and garbage."""
    store = DemoStoreServer(StoreData(db, path))
    store.data.register_client(*CLIENT)
    store.start()
    stop = threading.Event()
    seen: list[str] = []

    def moods() -> None:
        while not stop.is_set():
            for mood, seconds in STORE_CYCLE:
                store.faults.garbage = mood == "garbage"
                store.faults.slow_seconds = 1.5 if mood == "slow" else 0.0  # the desk waits 1 s
                seen.append(mood)
                if stop.wait(seconds):
                    return

    thread = threading.Thread(target=moods, name="bench-store-moods", daemon=True)
    thread.start()
    try:
        yield store, seen
    finally:
        stop.set()
        thread.join()
        store.stop()


@contextmanager
def _receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver(SECRET)
    try:
        yield receiver
    finally:
        receiver.close()


def _corrupt_indexes(data_dir: Path) -> list[str]:
    """Leave a garbage HNSW graph file next to every vector index, as a crash mid-write could (an index below
    20,000 vectors has no graph of its own yet: the garbage one is planted where it would be)."""
    hit = []
    for snapshot in sorted(data_dir.rglob("*.npz")):
        graph = snapshot.with_suffix(".hnsw")
        graph.write_bytes(os.urandom(4096))
        hit.append(graph.relative_to(data_dir).as_posix())
    return hit


def _report(db: SAEngine, load: Load, desk: Desk, drained: bool) -> dict[str, Any]:
    with Session(db) as session:
        keys = [k for k in session.exec(select(Message.external_id)).all() if k]
        twice = session.exec(
            select(Message.ticket_id, func.count())
            .where(Message.direction == Direction.OUTBOUND, Message.author == AI_AUTHOR)
            .group_by(col(Message.ticket_id))
            .having(func.count() > 1)
        ).all()
        poisoned = select(Message.ticket_id).where(col(Message.external_id).in_(list(load.poisoned)))
        poisoned_tickets = set(session.exec(poisoned).all())
        aside = set(session.exec(select(WorkFailure.ticket_id).where(col(WorkFailure.needs_attention))).all())
        untriaged = set(session.exec(select(Ticket.id).where(col(Ticket.triaged_at).is_(None))).all())
        chain = audit.verify(session)
    lost = load.accepted - set(keys)
    return {
        "messages": len(load.texts),
        "accepted": len(load.accepted),
        "lost": len(lost),
        "duplicated": (len(keys) - len(set(keys))) + len(twice),
        "stuck": len(untriaged - aside),
        "quarantined": len(aside),
        "poisoned": len(load.poisoned),
        "quarantined_are_poisoned": aside == poisoned_tickets,
        "restarts": desk.restarts,
        "recovery_seconds_p95": round(float(np.percentile(desk.recoveries, 95)), 2) if desk.recoveries else None,
        "recovery_seconds": [round(s, 2) for s in desk.recoveries],
        "boot_seconds": [round(s, 2) for s in desk.boots],
        "audit_chain_ok": chain.ok,
        "drained": drained,
        "refused_and_retried": load.refused,
        "corrupted_index_files": load.corrupted,
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
