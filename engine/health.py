"""The desk's health for `/api/v1/health` and the header: each component, each stage, the worker and the backlog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, func, select

from engine.runtime import Engine
from engine.store.models import Ticket, TicketStatus
from engine.store.outbox_models import DeliveryState, OutboundReply
from engine.store.work_models import WorkFailure
from engine.supervisor import Supervisor

OPEN = [TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.ESCALATED]


@dataclass(frozen=True)
class AttentionItem:
    """A ticket a background stage gave up on after its tries: which stage, how often, the (redacted) error."""

    ticket_id: int
    stage: str
    failures: int
    last_error: str
    since: datetime


def needs_attention(db: SAEngine, limit: int = 100) -> list[AttentionItem]:
    """The tickets set aside by the supervised worker, newest first."""
    query = select(WorkFailure).where(col(WorkFailure.needs_attention)).order_by(col(WorkFailure.updated_at).desc())
    with Session(db) as session:
        return [
            AttentionItem(row.ticket_id, row.stage, row.failures, row.last_error, row.updated_at)
            for row in session.exec(query.limit(limit))
        ]


def backlog(db: SAEngine) -> dict[str, int]:
    """Work waiting: tickets not triaged, triaged but not drafted, set aside, and replies not delivered yet."""
    with Session(db) as session:

        def count(query: Any) -> int:
            return int(session.exec(query).one())

        tickets = select(func.count()).select_from(Ticket).where(col(Ticket.status).in_(OPEN))
        return {
            "untriaged": count(tickets.where(col(Ticket.triaged_at).is_(None))),
            "undrafted": count(tickets.where(col(Ticket.triaged_at).is_not(None), col(Ticket.drafted_at).is_(None))),
            "needs_attention": count(
                select(func.count(func.distinct(WorkFailure.ticket_id))).where(col(WorkFailure.needs_attention))
            ),
            "outbox_pending": count(
                select(func.count())
                .select_from(OutboundReply)
                .where(col(OutboundReply.state).in_([DeliveryState.QUEUED, DeliveryState.SENDING]))
            ),
            "outbox_failed": count(
                select(func.count()).select_from(OutboundReply).where(OutboundReply.state == DeliveryState.FAILED)
            ),
        }


def engine_health(engine: Engine) -> dict[str, Any]:
    """The health report of a running engine (see `health_report`)."""
    components = {key: status.state.value for key, status in engine.status.items()}
    alive = engine.worker is not None and engine.worker.alive
    return health_report(engine.db, components, engine.supervisor, worker_alive=alive)


def health_report(
    db: SAEngine, components: dict[str, str], supervisor: Supervisor | None, *, worker_alive: bool
) -> dict[str, Any]:
    """ "ok", "degraded" or "down" with the component states, the stages' failure counts, the worker and the backlog
    (no error text: the endpoint is open to monitoring without a session)."""
    stages = {
        name: {
            "failures": stats.failures,
            "last_failure_at": stats.last_error_at.isoformat() if stats.last_error_at else None,
        }
        for name, stats in (supervisor.stages.items() if supervisor else [])
    }
    degraded = any(state == "error" for state in components.values()) or (
        supervisor is not None and supervisor.degraded
    )
    status = "down" if not worker_alive else "degraded" if degraded else "ok"
    return {
        "status": status,
        "components": components,
        "worker": {"alive": worker_alive, "restarts": supervisor.restarts if supervisor else 0},
        "stages": stages,
        "backlog": backlog(db),
    }
