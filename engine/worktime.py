"""Handle time from live work: the seconds an agent actively works a ticket, summed until it is resolved.

The ticket page counts a second only while it is visible and focused and the agent moved, typed or scrolled in the
last IDLE_CUTOFF_SECONDS; it reports what it counted every few seconds and before a reply is sent.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine as SAEngine

from engine.store.db import session_scope
from engine.store.models import Ticket, TicketStatus, utcnow

log = logging.getLogger(__name__)

IDLE_CUTOFF_SECONDS = 60
REPORT_SECONDS = 5
MAX_REPORT_SECONDS = 4 * REPORT_SECONDS  # a report never adds more than this (a page stalled, a clock jumped)


def record_handle_time(db: SAEngine, ticket_id: int, seconds: float, *, agent: str) -> float:
    """Add an agent's active seconds to an open ticket; returns its total (time on a resolved ticket is not added)."""
    seconds = max(0.0, min(float(seconds), MAX_REPORT_SECONDS))
    with session_scope(db) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            raise LookupError(f"ticket {ticket_id} does not exist")
        if ticket.status == TicketStatus.RESOLVED or seconds == 0:
            return ticket.handle_seconds or 0.0
        ticket.handle_seconds = (ticket.handle_seconds or 0.0) + seconds
        ticket.updated_at = utcnow()
        session.add(ticket)
        log.debug("%s worked ticket %s for %.1f s", agent, ticket_id, seconds)
        return ticket.handle_seconds
