"""Demo queue from real public data: Bitext support requests and CFPB complaints over the last 30 days."""

from __future__ import annotations

import csv
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, func, select

from engine.ingest.intake import InboundMessage, intake
from engine.store.models import Channel, Direction, Message, Ticket, utcnow

log = logging.getLogger(__name__)

BITEXT_CSV = Path("bitext_customer_support") / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
CFPB_CSV = Path("cfpb_complaints") / "complaints_sample.csv"

FIRST_NAMES = [
    "Amelia",
    "Noah",
    "Olivia",
    "Liam",
    "Emma",
    "Mateo",
    "Sofia",
    "Lucas",
    "Mia",
    "Elijah",
    "Aisha",
    "Kenji",
    "Priya",
    "Omar",
    "Lena",
    "Diego",
    "Chloe",
    "Ravi",
    "Hannah",
    "Tomasz",
    "Grace",
    "Yusuf",
    "Ingrid",
    "Marco",
    "Zara",
    "Ethan",
    "Nadia",
    "Felix",
    "Leila",
    "Samuel",
    "Camila",
    "Jonas",
    "Maya",
    "Victor",
    "Aria",
    "Daniel",
]
LAST_NAMES = [
    "Garcia",
    "Smith",
    "Okafor",
    "Tanaka",
    "Patel",
    "Müller",
    "Rossi",
    "Johnson",
    "Kowalski",
    "Nguyen",
    "Silva",
    "Haddad",
    "Andersen",
    "Brown",
    "Cohen",
    "Dubois",
    "Lopez",
    "Williams",
    "Kim",
    "Fischer",
    "Martin",
    "Novak",
    "Ahmed",
    "Clarke",
    "Moreau",
    "Reyes",
    "Schmidt",
    "Ivanova",
    "Walker",
    "Costa",
]
CHANNEL_WEIGHTS = {Channel.EMAIL: 0.4, Channel.CHAT: 0.3, Channel.SMS: 0.12, Channel.SOCIAL: 0.18}
FOLLOW_UPS = (
    "Any update on this? I wrote two days ago and still nothing.",
    "Hello?? This is the second time I am asking. Please answer.",
    "Still waiting. This is getting really frustrating.",
    "I need this sorted today, otherwise I will cancel my account.",
)


@dataclass(frozen=True)
class DemoRequest:
    text: str
    intent: str | None
    reply: str | None


def bitext_requests(data_dir: Path) -> list[DemoRequest]:
    """Every Bitext row: the customer's request, its intent label and the reference reply."""
    with (data_dir / BITEXT_CSV).open(encoding="utf-8", newline="") as handle:
        return [DemoRequest(r["instruction"].strip(), r["intent"], r["response"]) for r in csv.DictReader(handle)]


def cfpb_requests(data_dir: Path) -> list[DemoRequest]:
    """CFPB complaints that carry a narrative (no intent label in our taxonomy)."""
    with (data_dir / CFPB_CSV).open(encoding="utf-8", newline="") as handle:
        rows = [r["Consumer complaint narrative"].strip() for r in csv.DictReader(handle)]
    return [DemoRequest(text, None, None) for text in rows if text]


def split_queue_and_training(requests: list[DemoRequest], count: int, seed: int = 7) -> tuple[list[int], list[int]]:
    """Indices of the demo queue (stratified by intent) and of the rest, which trains the first intent model."""
    rng = random.Random(seed)
    order = list(range(len(requests)))
    rng.shuffle(order)
    by_intent: dict[str | None, list[int]] = {}
    for index in order:
        by_intent.setdefault(requests[index].intent, []).append(index)
    queue: list[int] = []
    while len(queue) < count and any(by_intent.values()):
        for bucket in by_intent.values():
            if bucket and len(queue) < count:
                queue.append(bucket.pop())
    chosen = set(queue)
    return queue, [i for i in range(len(requests)) if i not in chosen]


def _customer(rng: random.Random) -> tuple[str, str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    ascii_last = last.replace("ü", "ue").lower()
    return f"{first} {last}", f"{first.lower()}.{ascii_last}@example.com", f"@{first.lower()}{rng.randint(10, 99)}"


def seed_demo_queue(session: Session, data_dir: Path, *, count: int, now: datetime | None = None) -> int:
    """Fill an empty database with demo tickets; returns how many tickets were created."""
    if session.exec(select(func.count()).select_from(Ticket)).one() > 0:
        return 0
    now = now or utcnow()
    rng = random.Random(11)
    requests = bitext_requests(data_dir)
    queue, _ = split_queue_and_training(requests, count)
    complaints = cfpb_requests(data_dir)[: max(3, count // 30)]
    items = [requests[i] for i in queue] + complaints
    rng.shuffle(items)
    customers = [_customer(rng) for _ in range(max(10, len(items) // 3))]
    channels, weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
    for number, item in enumerate(items):
        name, email, handle = rng.choice(customers)
        channel = Channel.EMAIL if item.intent is None else rng.choices(channels, weights)[0]
        at = now - timedelta(minutes=rng.randint(5, 30 * 24 * 60))
        result = intake(
            session,
            InboundMessage(
                channel=channel,
                customer_name=name,
                customer_email=email,
                customer_handle=handle,
                text=item.text,
                external_id=f"demo-{number}",
                received_at=at,
            ),
        )
        ticket = session.get(Ticket, result.ticket_id)
        assert ticket is not None
        ticket.gold_intent, ticket.demo = item.intent, True
        age = now - at
        if item.reply and age > timedelta(days=3) and rng.random() < 0.45:
            _resolve_with_reply(session, ticket, item.reply, at + timedelta(minutes=rng.randint(10, 600)))
        elif age > timedelta(hours=20) and rng.random() < 0.08:
            follow_up = rng.choice(FOLLOW_UPS)
            session.add(Message(ticket_id=result.ticket_id, author=name, body=follow_up, created_at=at + age / 2))
        session.add(ticket)
    log.info("seeded %d demo tickets", len(items))
    return len(items)


def _resolve_with_reply(session: Session, ticket: Ticket, reply: str, at: datetime) -> None:
    assert ticket.id is not None
    # the team's reply as sent, template slots and all: the reply memory fills them for each new customer
    session.add(
        Message(ticket_id=ticket.id, direction=Direction.OUTBOUND, author="Support team", body=reply, created_at=at)
    )
    ticket.mark_resolved(at)
