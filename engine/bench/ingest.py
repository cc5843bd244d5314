"""Ingest bench: n messages, each sent twice, through the webhook API on loopback; accept speed, triage speed, loss."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from itertools import cycle
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from sqlmodel import col, func, select

from engine.app import build_engine
from engine.config import DEMO_DATA_DIR, REPO_ROOT, Settings
from engine.ingest.webhook import build_router, message_key
from engine.ingest.webhook_auth import signed_headers
from engine.ingest.writer import WRITER_THREAD
from engine.runtime import Engine, State
from engine.store.models import Message, Ticket
from engine.worker import Worker

log = logging.getLogger(__name__)

SOURCE = "bench"
SECRET = "bench-secret"
SENDERS = 1  # processes, so the load generator does not share the server's interpreter lock
CONCURRENCY = 16  # connections per sender
RESPONSE_TIMEOUT = 30.0
DUPLICATE_LAG = 25  # each message is sent again this many messages later
CHANNELS = ("chat", "sms", "social", "voice")
READY_TIMEOUT = 900.0
SERVER_THREAD = "bench-uvicorn"
ACCEPT_THREADS = (SERVER_THREAD, WRITER_THREAD)
SENDER_MAIN = "import sys; from engine.bench.ingest import sender_main; sender_main(*sys.argv[1:])"


def run(*, tickets: int) -> dict[str, Any]:
    """Start the API with the real models in a temp data dir, push `tickets` messages twice, wait for triage."""
    with tempfile.TemporaryDirectory(prefix="caredesk-bench-ingest-") as tmp:
        settings = Settings.load(data_dir=Path(tmp), demo=False, webhook_secrets={SOURCE: SECRET})
        engine = build_engine(settings)
        blocked = _start_models(engine)
        server, url = _serve(engine)
        try:
            return _measure(engine, url, tickets, blocked)
        finally:
            server.should_exit = True
            engine.stop()


def _measure(engine: Engine, url: str, tickets: int, blocked: str) -> dict[str, Any]:
    bodies = _bodies(tickets)
    order = _send_order(tickets)
    start_at = time.time() + 3.0  # sender processes start together once spawned
    log.info("sending %d messages twice (%d requests) with %d x %d senders", tickets, len(order), SENDERS, CONCURRENCY)
    cpu_before, accept_cpu_before, helpers_before = time.process_time(), _accept_cpu(), _helper_processes_cpu()
    senders_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = _run_senders(url, [[bodies[i] for i in order[k::SENDERS]] for k in range(SENDERS)], start_at)
    server_cpu = time.process_time() - cpu_before
    senders = resource.getrusage(resource.RUSAGE_CHILDREN)  # the senders have exited and been waited for
    sender_cpu = senders.ru_utime + senders.ru_stime - senders_before.ru_utime - senders_before.ru_stime
    triaged_while_sending = _triaged(engine)
    latencies = np.concatenate([np.asarray(r["latencies"]) for r in results]) * 1000
    accepted = sum(r["accepted"] for r in results)
    failed = sum(r["failed"] for r in results)
    accept_seconds = max(r["finished"] for r in results) - start_at
    log.info("accepted %d requests in %.1f s; waiting for triage", accepted, accept_seconds)
    triage_seconds = _wait_for_triage(engine, tickets, start_at) if not blocked else None
    # CPU seconds, not wall clock: what the accept path (HTTP + writer threads) and everything else (triage) cost
    accept_cpu = _accept_cpu() - accept_cpu_before
    triage_cpu = time.process_time() - cpu_before - accept_cpu + _helper_processes_cpu() - helpers_before
    stored, messages, ticket_rows = _counts(engine, tickets)
    return {
        "tickets": tickets,
        "requests": len(order),
        "accepted": accepted,
        "failed_requests": failed,
        "accepted_per_second": round(accepted / accept_seconds, 1),
        "unique_accepted_per_second": round(tickets / accept_seconds, 1),
        "p50_accept_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_accept_ms": round(float(np.percentile(latencies, 95)), 2),
        "p99_accept_ms": round(float(np.percentile(latencies, 99)), 2),
        "server_cpu_ms_per_request": round(1000 * server_cpu / len(order), 3),
        "accept_cpu_ms_per_request": round(1000 * accept_cpu / len(order), 3),
        "sender_cpu_ms_per_request": round(1000 * sender_cpu / len(order), 3),
        "triage_cpu_ms_per_ticket": round(1000 * triage_cpu / tickets, 3) if triage_seconds else None,
        "triaged_while_sending": triaged_while_sending,
        "triaged_per_second": round(tickets / triage_seconds, 1) if triage_seconds else None,
        "triage_seconds": round(triage_seconds, 1) if triage_seconds else None,
        "lost": tickets - stored,
        "duplicates_created": max(0, messages - tickets) + max(0, ticket_rows - tickets),
        "senders": SENDERS,
        "concurrency_per_sender": CONCURRENCY,
        "models": "real",
        "blocked": blocked,
    }


def _accept_cpu() -> float:
    """CPU seconds (user + system) the HTTP server and ingest writer threads have used so far (Linux /proc)."""
    return sum(_cpu(f"/proc/self/task/{t.native_id}/stat") for t in threading.enumerate() if t.name in ACCEPT_THREADS)


def _helper_processes_cpu() -> float:
    """CPU seconds the running child processes of this one (the embedding process) have used so far (Linux /proc)."""
    pids = [pid for children in Path("/proc/self/task").glob("*/children") for pid in children.read_text().split()]
    return sum(_cpu(f"/proc/{pid}/stat") for pid in pids)


def _cpu(stat_path: str) -> float:
    """CPU seconds (user + system) of a thread or process from its /proc stat file (0 if it is gone)."""
    try:
        fields = Path(stat_path).read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def _start_models(engine: Engine) -> str:
    """Start the worker and wait for the real models; returns why triage cannot run, or ""."""
    try:
        engine.start()
    except ImportError as exc:
        log.warning("the triage worker cannot start: %s", exc)
        return f"triage worker cannot start: {exc}"
    deadline = time.monotonic() + READY_TIMEOUT
    while not engine.ready and time.monotonic() < deadline:
        failed = [f"{s.label}: {s.detail}" for s in engine.status.values() if s.state == State.ERROR]
        if failed and not (isinstance(engine.worker, Worker) and engine.worker.alive):
            return "models failed to load: " + "; ".join(failed)
        time.sleep(0.5)
    return "" if engine.ready else f"models not ready after {READY_TIMEOUT:.0f} s"


def _serve(engine: Engine) -> tuple[Any, str]:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    app.include_router(build_router(engine))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=4096)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name=SERVER_THREAD, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}/api/v1/messages"


def _bodies(tickets: int) -> list[bytes]:
    """JSON bodies of real customer requests from the demo data (the senders sign each request as they send it)."""
    from engine.demo import bitext_requests, cfpb_requests

    texts = cycle([r.text for r in bitext_requests(DEMO_DATA_DIR) + cfpb_requests(DEMO_DATA_DIR)])
    bodies = []
    for i, text, channel in zip(range(tickets), texts, cycle(CHANNELS), strict=False):
        body = {
            "channel": channel,
            "external_id": f"bench-{i}",
            "customer_handle": f"@customer{i % 3000}",
            "text": text,
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def _send_order(tickets: int) -> list[int]:
    """Every message twice; the repeat follows DUPLICATE_LAG messages later (often while the first is in flight)."""
    order: list[int] = []
    for i in range(tickets + DUPLICATE_LAG):
        if i < tickets:
            order.append(i)
        if i >= DUPLICATE_LAG:
            order.append(i - DUPLICATE_LAG)
    return order


def _run_senders(url: str, slices: list[list[bytes]], start_at: float) -> list[dict[str, Any]]:
    """Run one sender process per slice (plain subprocesses: no re-import of the CLI) and collect their results."""
    with tempfile.TemporaryDirectory(prefix="caredesk-bench-senders-") as tmp:
        processes = []
        for k, part in enumerate(slices):
            path = Path(tmp) / f"slice-{k}.jsonl"
            path.write_text("".join(json.dumps({"body": b.decode()}) + "\n" for b in part), encoding="utf-8")
            command = [sys.executable, "-c", SENDER_MAIN, url, str(path), str(CONCURRENCY), repr(start_at)]
            processes.append(subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True))
        outputs = [process.communicate()[0] for process in processes]
    if any(p.returncode for p in processes):
        raise RuntimeError(f"a bench sender failed: exit codes {[p.returncode for p in processes]}")
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


def sender_main(url: str, path: str, concurrency: str, start_at: str) -> None:
    """Entry point of one sender process: post the slice's bodies, print the result as JSON."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    bodies = [item["body"].encode() for item in map(json.loads, lines)]
    result = asyncio.run(_send_async(url, bodies, int(concurrency), float(start_at)))
    sys.stdout.write(json.dumps(result) + "\n")


async def _send_async(url: str, bodies: list[bytes], concurrency: int, start_at: float) -> dict[str, Any]:
    """Post every body over `concurrency` keep-alive connections; latencies in seconds, accepted and failed counts.

    A plain HTTP/1.1 client on asyncio streams: a full client library cost the senders more CPU per request than
    the server spends accepting it, and on a 2-core machine that CPU is taken from the server.
    """
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    latencies: list[float] = []
    counts = {"accepted": 0, "failed": 0}
    position = iter(range(len(bodies)))

    async def connection() -> None:
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for index in position:
            raw = bodies[index]
            for _attempt in range(3):
                signed = "".join(f"{name}: {value}\r\n" for name, value in signed_headers(SOURCE, SECRET, raw).items())
                request = (
                    f"POST {target.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                    f"{signed}Content-Length: {len(raw)}\r\n\r\n"
                ).encode() + raw
                began = time.perf_counter()
                try:
                    streams = streams or await asyncio.open_connection(host, port)
                    status, keep_alive = await _post(*streams, request)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    streams = None  # reconnect and send again, signed anew: the server dedupes on the external id
                    continue
                latencies.append(time.perf_counter() - began)
                if not keep_alive:
                    streams[1].close()
                    streams = None
                if status == 202:
                    counts["accepted"] += 1
                    break
            else:
                counts["failed"] += 1
        if streams is not None:
            streams[1].close()

    await asyncio.sleep(max(0.0, start_at - time.time()))
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return {"latencies": latencies, "finished": time.time(), **counts}


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bool]:
    """Send one request on an open connection and read the whole response; (status, connection kept open)."""
    writer.write(request)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), RESPONSE_TIMEOUT)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines if ": " in line)
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers.get("connection") != "close"


def _wait_for_triage(engine: Engine, tickets: int, start_at: float) -> float | None:
    """Seconds from the first send until every ticket is triaged (None on timeout)."""
    deadline = time.monotonic() + max(600.0, tickets / 10)
    while time.monotonic() < deadline:
        with engine.session() as session:
            total = session.exec(select(func.count()).select_from(Ticket)).one()
            pending = session.exec(
                select(func.count()).select_from(Ticket).where(col(Ticket.triaged_at).is_(None))
            ).one()
        if total >= tickets and pending == 0:
            return time.time() - start_at
        time.sleep(0.5)
    return None


def _triaged(engine: Engine) -> int:
    with engine.session() as session:
        return session.exec(select(func.count()).select_from(Ticket).where(col(Ticket.triaged_at).is_not(None))).one()


def _counts(engine: Engine, tickets: int) -> tuple[int, int, int]:
    """(bench messages stored, all messages, all tickets)."""
    keys = [message_key(SOURCE, f"bench-{i}") for i in range(tickets)]
    stored = 0
    with engine.session() as session:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            stored += session.exec(select(func.count()).where(col(Message.external_id).in_(chunk))).one()
        messages = session.exec(select(func.count()).select_from(Message)).one()
        ticket_rows = session.exec(select(func.count()).select_from(Ticket)).one()
    return stored, messages, ticket_rows
