"""Watch the SLA as time passes: record dues that passed as breaches, count the open tickets that breached (the
header badge) and tell supervisors of new ones by e-mail when `[sla] alert_email` is set (through the outbox's
SMTP server). Runs as a background job every CHECK_SECONDS; an alert that cannot be sent is tried again next time.
Open tickets without dues (from before SLAs, or an intake path that sets none) get them here."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import col, func, or_, select

from engine.outbox import DeliveryError, send_notice
from engine.runtime import Engine
from engine.sla import SlaSettings, start_clocks, sweep
from engine.store.models import Ticket, TicketStatus, utcnow

log = logging.getLogger(__name__)

CHECK_SECONDS = 30
ALERT_LINES = 50  # tickets listed in one alert e-mail; the rest are counted
_BREACHED = or_(col(Ticket.first_response_breached).is_(True), col(Ticket.resolution_breached).is_(True))
_OPEN = col(Ticket.status) != TicketStatus.RESOLVED


def watch_sla(engine: Engine, now: datetime | None = None) -> str:
    """Record breaches whose due passed, alert supervisors of new ones, count the open breached tickets."""
    moment = now or utcnow()
    with engine.transaction() as session:
        unclocked = select(Ticket.id).where(_OPEN, col(Ticket.first_response_due).is_(None))
        start_clocks(session, SlaSettings.lenient(engine.settings), [i for i in session.exec(unclocked) if i])
        swept = sweep(session, moment)
        fresh = list(session.exec(select(Ticket).where(_BREACHED, _OPEN, col(Ticket.sla_alerted_at).is_(None))))
    note = _alert(engine, fresh, moment)
    engine.sla_breached = open_breaches(engine)
    if swept:
        engine.changed()
    return f"{len(swept)} new breaches, {engine.sla_breached} open tickets breached; {note}"


def open_breaches(engine: Engine) -> int:
    """Open tickets that missed an SLA due."""
    with engine.session() as session:
        return int(session.exec(select(func.count()).select_from(Ticket).where(_BREACHED, _OPEN)).one())


def _alert(engine: Engine, fresh: list[Ticket], moment: datetime) -> str:
    """E-mail the new breaches (when an alert address is set), then mark them alerted; what happened, in words."""
    if not fresh:
        return "no new breach to alert"
    address = SlaSettings.lenient(engine.settings).alert_email
    note = f"{len(fresh)} new on the header badge (no alert address set)"
    if address:
        try:
            where = send_notice(
                engine.settings,
                to=address,
                subject=f"CareDesk: {len(fresh)} ticket(s) breached their SLA",
                body=_alert_text(engine, fresh),
            )
        except DeliveryError as exc:
            log.warning("SLA alert to %s not sent (%s); trying again at the next check", address, exc)
            return f"alert e-mail not sent ({exc}); trying again at the next check"
        note = f"{len(fresh)} new, e-mailed to {address} through {where}"
    with engine.transaction() as session:
        for ticket in fresh:
            ticket.sla_alerted_at = moment
            session.add(ticket)
    return note


def _alert_text(engine: Engine, fresh: list[Ticket]) -> str:
    """The alert's body: ticket numbers, channels, what was missed and when it was due (no customer words)."""
    base = f"http://{engine.settings.host}:{engine.settings.port}"
    lines = [f"{len(fresh)} open ticket(s) missed their SLA:", ""]
    for ticket in fresh[:ALERT_LINES]:
        missed = "first response" if ticket.first_response_breached else "resolution"
        due = ticket.first_response_due if ticket.first_response_breached else ticket.resolution_due
        when = f"{due:%Y-%m-%d %H:%M} UTC" if due is not None else "?"
        lines.append(f"- ticket {ticket.id} ({ticket.sla_policy}): {missed} was due {when}  {base}/ticket/{ticket.id}")
    if len(fresh) > ALERT_LINES:
        lines.append(f"... and {len(fresh) - ALERT_LINES} more (sort the queue by SLA)")
    return "\n".join(lines)
