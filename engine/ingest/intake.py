"""Normalise inbound messages into Customer / Ticket / Message rows, deduplicated and threaded, a batch at a time.

A batch is written with a few SQL statements (look-ups by external id, handle and e-mail, then one insert per
table), not one ORM flush per row: the webhook writes its messages this way, many per transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import Connection, case, insert, null, select, update
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel

from engine.store.models import Customer, Direction, Feedback, FeedbackKind, Message, Ticket, TicketStatus, utcnow

log = logging.getLogger(__name__)

SUBJECT_WORDS = 9
REOPEN_REASON = "customer wrote again after resolution"
LOOKUP_CHUNK = 500  # values per IN (...) look-up, below SQLite's variable limit

CUSTOMERS, TICKETS, MESSAGES = Customer.__table__, Ticket.__table__, Message.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class InboundMessage:
    """What every channel hands to intake, already decoded to text."""

    channel: str
    customer_name: str
    text: str
    customer_email: str | None = None
    customer_handle: str | None = None
    subject: str | None = None
    external_id: str | None = None
    thread_external_id: str | None = None  # the ticket's external id this message replies to
    received_at: datetime | None = None
    ticket_external_id: str | None = None  # the external id a new ticket gets (default: the message's)
    ai_opt_in: bool = True  # a customer this message creates may be handled by the AI (the ai_opt_in_default setting)


@dataclass(frozen=True)
class IntakeResult:
    ticket_id: int
    message_id: int | None
    created_ticket: bool
    duplicate: bool


@dataclass(eq=False)
class _Row:
    """A row to insert; `id` is set once it is inserted."""

    values: dict[str, Any]
    id: int | None = None


@dataclass
class _Planned:
    """Where one message goes: its ticket, its message row, and whether it opened the ticket or repeats one."""

    ticket: int | _Row
    message: int | _Row | None
    created_ticket: bool = False
    duplicate: bool = False


def subject_from(text: str) -> str:
    """A short subject line from the first words of a message."""
    words = text.split()
    subject = " ".join(words[:SUBJECT_WORDS])
    return subject + ("…" if len(words) > SUBJECT_WORDS else "")


def intake(session: Session, message: InboundMessage) -> IntakeResult:
    """Store one inbound message: a new ticket, or a reply threaded onto an existing one; duplicates are skipped."""
    return intake_many(session, [message])[0]


def intake_many(session: Session, messages: Sequence[InboundMessage]) -> list[IntakeResult]:
    """Store inbound messages in order, as `intake` would one by one; one result per message.

    A message repeats an earlier one when its external id is known (stored before or earlier in the batch); it
    threads onto the ticket whose external id is its `thread_external_id`, which reopens a resolved ticket (with a
    reopen feedback row); otherwise it opens a ticket for the customer with its e-mail or handle, created on first
    contact.
    """
    session.flush()  # pending ORM changes first: the look-ups below read the database directly
    connection = session.connection()
    known = _lookups(connection, messages)
    customers: dict[tuple[str, str], int | _Row] = {**known.customers}
    tickets: dict[str, int | _Row] = {**known.tickets}
    status: dict[int | _Row, str] = {**known.status}
    seen: dict[str, _Planned] = {**known.messages}
    new_customers: list[_Row] = []
    new_tickets: list[_Row] = []
    new_messages: list[_Row] = []
    updates: dict[int, dict[str, Any]] = {}
    reopened: list[int] = []
    plans: list[_Planned] = []
    for message in messages:
        at = message.received_at or utcnow()
        if message.external_id and message.external_id in seen:
            first = seen[message.external_id]
            plans.append(_Planned(first.ticket, first.message, duplicate=True))
            continue
        ticket = tickets.get(message.thread_external_id) if message.thread_external_id else None
        created = ticket is None
        if ticket is None:
            customer = _customer(message, customers, new_customers)
            ticket = _Row(
                _new_row(
                    Ticket,
                    customer_id=customer,
                    channel=message.channel,
                    subject=message.subject or subject_from(message.text),
                    external_id=message.ticket_external_id or message.external_id,
                    created_at=at,
                    updated_at=at,
                )
            )
            new_tickets.append(ticket)
            status[ticket] = TicketStatus.NEW
            if ticket.values["external_id"]:
                tickets[ticket.values["external_id"]] = ticket
        else:
            if status[ticket] == TicketStatus.RESOLVED:
                status[ticket] = TicketStatus.OPEN
                if isinstance(ticket, int):
                    reopened.append(ticket)
            more = updates.get(ticket, {}).get("more_contacts", 0) + 1 if isinstance(ticket, int) else 0
            if isinstance(ticket, int):
                updates[ticket] = {"status": status[ticket], "updated_at": at, "triaged_at": None, "drafted_at": None}
                updates[ticket]["more_contacts"] = more
            else:
                ticket.values["updated_at"] = at
                ticket.values["contacts"] = ticket.values.get("contacts", 1) + 1
        row = _Row(
            _new_row(
                Message,
                ticket_id=ticket,
                direction=Direction.INBOUND,
                author=message.customer_name,
                body=message.text,
                external_id=message.external_id,
                created_at=at,
            )
        )
        new_messages.append(row)
        plan = _Planned(ticket, row, created_ticket=created)
        plans.append(plan)
        if message.external_id:
            seen[message.external_id] = plan
    _insert(connection, CUSTOMERS, new_customers)
    _insert(connection, TICKETS, new_tickets, "customer_id")
    _insert(connection, MESSAGES, new_messages, "ticket_id")
    for ticket_id, values in updates.items():
        more = values.pop("more_contacts")  # every customer message is a contact about the issue
        values["contacts"] = TICKETS.c.contacts + more
        values["reopens"] = TICKETS.c.reopens + (1 if ticket_id in reopened else 0)
        if ticket_id in reopened:  # a resolution met is undone by the customer writing again (engine.sla.reopen_clock)
            met = TICKETS.c.resolution_breached.is_not(None) & ~TICKETS.c.resolution_breached
            values["resolution_breached"] = case((met, null()), else_=TICKETS.c.resolution_breached)
        connection.execute(update(TICKETS).where(TICKETS.c.id == ticket_id).values(**values))
    _forget_cached_tickets(session, set(updates))
    for ticket_id in reopened:
        session.add(Feedback(ticket_id=ticket_id, kind=FeedbackKind.REOPEN, reason=REOPEN_REASON, agent=""))
    if reopened:
        log.info("%d resolved ticket(s) reopened by a new customer message", len(reopened))
    return [
        IntakeResult(_id(p.ticket), _id(p.message) if p.message is not None else None, p.created_ticket, p.duplicate)
        for p in plans
    ]


@dataclass(frozen=True)
class _Known:
    """What the database already holds for a batch, keyed as intake_many looks it up."""

    messages: dict[str, _Planned]
    tickets: dict[str, int | _Row]
    status: dict[int | _Row, str]
    customers: dict[tuple[str, str], int | _Row]


def _lookups(connection: Connection, messages: Sequence[InboundMessage]) -> _Known:
    ids = {m.external_id for m in messages if m.external_id}
    threads = {m.thread_external_id for m in messages if m.thread_external_id}
    emails = {m.customer_email for m in messages if m.customer_email}
    handles = {m.customer_handle for m in messages if m.customer_handle}
    known = _Known({}, {}, {}, {})
    for chunk in _chunks(ids):
        query = select(MESSAGES.c.external_id, MESSAGES.c.ticket_id, MESSAGES.c.id).where(
            MESSAGES.c.external_id.in_(chunk)
        )
        known.messages.update({r.external_id: _Planned(r.ticket_id, r.id) for r in connection.execute(query)})
    for chunk in _chunks(threads):
        query = select(TICKETS.c.external_id, TICKETS.c.id, TICKETS.c.status).where(TICKETS.c.external_id.in_(chunk))
        for r in connection.execute(query):
            known.tickets[r.external_id] = r.id
            known.status[r.id] = r.status
    # the first customer by id wins, as a look-up ordered by id would find
    for field, values in (("email", emails), ("handle", handles)):
        column = CUSTOMERS.c[field]
        for chunk in _chunks(values):
            query = select(column, CUSTOMERS.c.id).where(column.in_(chunk)).order_by(CUSTOMERS.c.id.desc())
            known.customers.update({(field, r[0]): r.id for r in connection.execute(query)})
    return known


def _customer(message: InboundMessage, customers: dict[tuple[str, str], int | _Row], new: list[_Row]) -> int | _Row:
    """The customer with the message's e-mail, else its handle; a new one on first contact."""
    email = ("email", message.customer_email) if message.customer_email else None
    handle = ("handle", message.customer_handle) if message.customer_handle else None
    for key in (email, handle):
        if key is not None and key in customers:
            return customers[key]
    customer = _Row(
        _new_row(
            Customer,
            name=message.customer_name,
            email=message.customer_email,
            handle=message.customer_handle,
            ai_opt_in=message.ai_opt_in,
        )
    )
    new.append(customer)
    for key in (email, handle):
        if key is not None:
            customers[key] = customer
    return customer


def _new_row(model: type[SQLModel], **values: Any) -> dict[str, Any]:
    """Every column value of a new row of `model`: the field defaults, overridden by `values`."""
    row = {name: factory() for name, factory in _default_factories(model)}
    row.update(_static_defaults(model))
    row.update(values)
    return row


@cache
def _static_defaults(model: type[SQLModel]) -> dict[str, Any]:
    return {
        name: field.default
        for name, field in model.model_fields.items()
        if name != "id" and field.default is not PydanticUndefined and field.default_factory is None
    }


@cache
def _default_factories(model: type[SQLModel]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, f.default_factory) for name, f in model.model_fields.items() if f.default_factory is not None)


def _insert(connection: Connection, table: Any, rows: list[_Row], reference: str | None = None) -> None:
    """Insert the rows in one statement and note their ids; `reference` names a column that may hold a _Row."""
    if not rows:
        return
    if reference is not None:
        for row in rows:
            row.values[reference] = _id(row.values[reference])
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for row, (new_id,) in zip(rows, connection.execute(statement, [r.values for r in rows]), strict=True):
        row.id = new_id


def _id(ref: int | _Row) -> int:
    if isinstance(ref, int):
        return ref
    assert ref.id is not None, "a row is referenced before it was inserted"
    return ref.id


def _chunks(values: set[str]) -> list[list[str]]:
    ordered = sorted(values)
    return [ordered[i : i + LOOKUP_CHUNK] for i in range(0, len(ordered), LOOKUP_CHUNK)]


def _forget_cached_tickets(session: Session, ticket_ids: set[int]) -> None:
    """Expire loaded Ticket objects that were just updated in SQL, so the session reads them again."""
    for ticket_id in ticket_ids:
        loaded = session.identity_map.get(identity_key(Ticket, ticket_id))
        if loaded is not None:
            session.expire(loaded)
