"""Bounce reports: a mail server's delivery-status report about a reply CareDesk sent marks that reply not delivered."""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sqlmodel import Session, select

from engine.store.outbox_models import DeliveryState, OutboundReply

log = logging.getLogger(__name__)


def bounce_of(raw: bytes) -> tuple[str, str] | None:
    """(Message-ID of the returned e-mail, reason) when `raw` is a delivery-status report (RFC 3464), else None."""
    try:
        report = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    except Exception:  # not readable as a report: ordinary intake decides what it is
        return None
    if report.get_content_type() != "multipart/report" or report.get_param("report-type") != "delivery-status":
        return None
    returned, reason = "", "the mail server could not deliver it"
    for part in report.walk():
        kind = part.get_content_type()
        payload: Any = part.get_payload()
        if kind == "message/delivery-status" and isinstance(payload, list):
            fields: dict[str, str] = {}
            for block in payload:
                fields |= {str(k).lower(): str(v) for k, v in block.items()}
            status, code = fields.get("status", ""), fields.get("diagnostic-code", "")
            reason = " ".join(x for x in (f"status {status}" if status else "", code) if x) or reason
        elif kind in ("message/rfc822", "text/rfc822-headers"):
            if isinstance(payload, list) and payload:
                inner: Any = payload[0]
            else:
                data = part.get_payload(decode=True)
                inner = message_from_bytes(data if isinstance(data, bytes) else b"", policy=policy.default)
            returned = str(inner.get("Message-ID") or "").strip() or returned
    return (returned, reason) if returned else None


def record_bounce(session: Session, key: str, reason: str) -> int | None:
    """Mark the outbox reply with Message-ID `key` as bounced; its ticket id, or None when it is not one of ours."""
    row = session.exec(select(OutboundReply).where(OutboundReply.key == key)).first()
    if row is None:
        return None
    row.state, row.reason = DeliveryState.FAILED, f"bounced: {reason}; check the customer's address, then retry"
    session.add(row)
    log.warning("reply %s on ticket %s bounced: %s", key, row.ticket_id, reason)
    return row.ticket_id
