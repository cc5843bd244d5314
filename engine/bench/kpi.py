"""KPI bench: a temporary database of n tickets (the demo tickets and their history, replicated over 12 months),
then timed full dashboard refreshes for the last 30 days (the page's default) and for all time (the widest range),
after the first refresh built the per-day rollups, both on a quiet desk and on a live one where a ticket of today
changes before every refresh (so each refresh also rebuilds today's rollup rows).

Copies keep a demo ticket's customer, subject and gold intent, and get a new creation time (denser in recent
months), channel and simulated story (prediction, route, outcome, times, feedback, survey); they carry triage,
feedback and survey rows but no message bodies, which no dashboard query reads.
"""

from __future__ import annotations

import logging
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import col

from engine.config import DEMO_DATA_DIR
from engine.demo import MODEL_VERSION, Story, enrich_demo_history, seed_demo_queue, simulate_story
from engine.kpi import KpiFilter, all_time, dashboard, ensure_kpi_indexes, refresh
from engine.privacy.crypto import Cipher, set_cipher
from engine.store.db import make_db, session_scope
from engine.store.models import Feedback, Route, Survey, Ticket, TicketStatus, TriageResult, utcnow
from engine.surveys import new_token

log = logging.getLogger(__name__)

DEMO_TICKETS = 300
CHANNEL_WEIGHTS = {"email": 0.35, "chat": 0.3, "sms": 0.1, "social": 0.15, "voice": 0.1}
STUCK_SHARE = 0.01  # tickets nobody picked up (backlog, SLA breaches)
CHUNK = 10_000
RUNS = 20


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _rows(
    story: Story, *, ticket_id: int, template: Any, channel: str, created: datetime, now: datetime, rng: random.Random
) -> dict[str, list[dict[str, Any]]]:
    """The ticket, triage, feedback and survey rows of one replicated ticket."""
    resolved_at = created + story.resolution
    is_open = resolved_at > now or rng.random() < STUCK_SHARE
    first = created + story.first_response
    first_response = first if first <= now and not (is_open and rng.random() < 0.5) else None
    overridden = story.confirmed_intent != story.ai_intent
    triaged = created + timedelta(seconds=2)
    ticket = {
        "id": ticket_id,
        "customer_id": template.customer_id,
        "channel": channel,
        "subject": template.subject,
        "status": TicketStatus.OPEN if is_open else TicketStatus.RESOLVED,
        "intent": story.confirmed_intent,
        "intent_confidence": 1.0 if overridden else story.confidence,
        "needs_review": story.confidence < 0.8,
        "sentiment_label": story.sentiment_label,
        "valence": story.valence,
        "urgency": story.urgency,
        "priority": 0.0,
        "route": story.route,
        "route_reason": story.route_reason,
        "risk": None,
        "outcome": None if is_open else story.outcome,
        "first_response_at": first_response,
        "handle_seconds": None if is_open else story.handle_seconds,
        "contacts": story.contacts,
        "triaged_at": triaged,
        "drafted_at": triaged if story.route == Route.ASSIST else None,
        "gold_intent": template.gold_intent,
        "created_at": created,
        "updated_at": created if is_open else resolved_at,
        "resolved_at": None if is_open else resolved_at,
    }
    triage = [
        {
            "ticket_id": ticket_id,
            "intent": story.ai_intent,
            "confidence": story.confidence,
            "is_unknown": False,
            "alternatives": [],
            "sentiment_label": story.sentiment_label,
            "sentiment_probability": 0.8,
            "valence": story.valence,
            "arousal": 0.0,
            "urgency": story.urgency,
            "model_version": MODEL_VERSION,
            "created_at": triaged,
        }
        for _ in range(story.contacts)
    ]
    feedback = [
        {
            "ticket_id": ticket_id,
            "kind": event.kind,
            "edit_distance": event.edit_distance,
            "old_intent": event.old_intent,
            "new_intent": event.new_intent,
            "reason": event.reason,
            "agent": "bench",
            "created_at": created + event.after,
        }
        for event in story.feedback
        if created + event.after <= now and not is_open
    ]
    surveys = []
    if not is_open:
        answered = resolved_at + story.answered_after
        done = story.csat is not None and answered <= now
        surveys.append(
            {
                "ticket_id": ticket_id,
                "token": new_token(),
                "csat": story.csat if done else None,
                "ces": story.ces if done else None,
                "sent_at": resolved_at,
                "answered_at": answered if done else None,
            }
        )
    return {"ticket": [ticket], "triageresult": triage, "feedback": feedback, "survey": surveys}


def _copies(db: SAEngine, count: int, now: datetime, rng: random.Random) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Chunks of replicated rows, `count` tickets in all."""
    with db.connect() as connection:
        columns = (col(Ticket.customer_id), col(Ticket.subject), col(Ticket.gold_intent))
        templates = list(connection.execute(select(*columns)))
        next_id = (connection.execute(select(func.max(col(Ticket.id)))).scalar() or 0) + 1
    intents = sorted({t.gold_intent for t in templates if t.gold_intent})
    channels, weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
    chunk: dict[str, list[dict[str, Any]]] = {"ticket": [], "triageresult": [], "feedback": [], "survey": []}
    ages = sorted((timedelta(days=365 * rng.random() ** 1.3, seconds=60) for _ in range(count)), reverse=True)
    for number, age in enumerate(ages):  # oldest first: ids grow with creation time, as in a live desk
        template = templates[number % len(templates)]
        channel = rng.choices(channels, weights)[0]
        created = now - age
        story = simulate_story(
            rng, gold_intent=template.gold_intent or rng.choice(intents), intents=intents, channel=channel
        )
        rows = _rows(
            story, ticket_id=next_id + number, template=template, channel=channel, created=created, now=now, rng=rng
        )
        for table, table_rows in rows.items():
            chunk[table].extend(table_rows)
        if len(chunk["ticket"]) >= CHUNK:
            yield chunk
            chunk = {table: [] for table in chunk}
    if chunk["ticket"]:
        yield chunk


def build_database(path: Path, tickets: int, *, now: datetime, seed: int = 5) -> SAEngine:
    """A SQLite database with the demo tickets, their history and replicas up to `tickets` tickets."""
    db = make_db(f"sqlite:///{path}")
    with session_scope(db) as session:
        demo = seed_demo_queue(session, DEMO_DATA_DIR, count=DEMO_TICKETS, now=now)
        enrich_demo_history(session, now=now)
    tables = {"ticket": Ticket, "triageresult": TriageResult, "feedback": Feedback, "survey": Survey}
    for chunk in _copies(db, max(0, tickets - demo), now, random.Random(seed)):
        with db.begin() as connection:
            for name, rows in chunk.items():
                if rows:
                    connection.execute(insert(tables[name].__table__), rows)  # type: ignore[attr-defined]
        log.info("inserted %d tickets", chunk["ticket"][-1]["id"])
    ensure_kpi_indexes(db)
    with db.begin() as connection:
        connection.execute(text("ANALYZE"))
    return db


def _touch_today(db: SAEngine, now: datetime) -> None:
    """Change the newest ticket, as an agent's reply would (its day needs a rebuild)."""
    with db.begin() as connection:
        newest = connection.execute(select(func.max(col(Ticket.id)))).scalar()
        connection.execute(update(Ticket).where(col(Ticket.id) == newest).values(updated_at=now))


def _time(db: SAEngine, kpi_filter: KpiFilter, now: datetime, *, live: bool) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of RUNS full refreshes."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(RUNS):
        if live:
            _touch_today(db, now)
        started, started_cpu = time.perf_counter(), time.process_time()
        dashboard(db, kpi_filter, now=now)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def run(*, tickets: int) -> dict[str, Any]:
    """Build a temporary database of `tickets` tickets and time full dashboard refreshes."""
    set_cipher(Cipher([Cipher.generate_key()]))  # a throwaway key: the database is deleted afterwards
    now = utcnow()
    with tempfile.TemporaryDirectory(prefix="caredesk-kpi-") as tmp:
        started = time.perf_counter()
        db = build_database(Path(tmp) / "kpi.db", tickets, now=now)
        seed_seconds = time.perf_counter() - started
        with db.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(Ticket)).scalar() or 0
        log.info("database ready: %d tickets in %.1f s", stored, seed_seconds)
        started = time.perf_counter()
        refresh(db)  # the first refresh after an upgrade builds the rollups of every day
        rollup_seconds = time.perf_counter() - started
        filters = {"": KpiFilter.last_days(30, now=now), "_all_time": all_time(db, now=now)}
        result: dict[str, Any] = {}
        for suffix, kpi_filter in filters.items():
            dashboard(db, kpi_filter, now=now)  # warm the page cache and the statement cache, as a running app has
            for mode, live in (("", False), ("_live", True)):
                wall, cpu = _time(db, kpi_filter, now, live=live)
                result[f"kpi_ms_p50{mode}{suffix}"] = round(statistics.median(wall), 1)
                result[f"kpi_ms_p95{mode}{suffix}"] = round(_percentile(wall, 0.95), 1)
                result[f"kpi_cpu_ms_p95{mode}{suffix}"] = round(_percentile(cpu, 0.95), 1)
                log.info(
                    "%s%s: p50 %.1f ms, p95 %.1f ms",
                    suffix or "_30_days",
                    mode,
                    statistics.median(wall),
                    _percentile(wall, 0.95),
                )
        db.dispose()
    return {
        "tickets": int(stored),
        "seed_seconds": round(seed_seconds, 2),
        "rollup_build_seconds": round(rollup_seconds, 2),
        **result,
        "refreshes": RUNS,
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
