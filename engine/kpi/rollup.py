"""Rollups of the dashboard's grouped queries, so one refresh costs about the same for a week or for all time.

A rollup table holds one grouped query's sums per UTC creation day (and, for totals over a period, per month), channel,
current intent, demo or live, and the query's own keys, plus the same added up over intents. A refresh reads the
period's whole months and days from it and its partial first and last days live from the tickets, with the same
grouped query, so every number is the one the live query gives.

The rollups stay exact by construction: SQLite triggers on every table a measure reads (tickets, and the feedback,
triage and survey rows of a ticket) mark the creation day of each changed ticket in `kpi_dirty_day`, whoever writes.
Before it reads, a refresh rebuilds the marked days it reads whole, then their months if it reads those whole; the
other marks wait for a refresh that needs them (today is always a partial day, read live). A fingerprint of the
tables, the triggers, the queries and the stored parameters (the FCR reopen window) rebuilds everything when any of
them changes, and also when a schema upgrade dropped a trigger.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    Column,
    ColumnElement,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateTable
from sqlmodel import col

from engine.kpi.filters import COVER, FULL_FROM, FULL_TO, Shape, cover, edge_tickets, ticket_scope
from engine.store.models import Feedback, Survey, Ticket, TriageResult

log = logging.getLogger(__name__)

Stored = tuple[tuple[str, str], ...]  # the parameters stored measures depend on (name, SQLite modifier)
Source = Callable[[ColumnElement[bool]], Select]
METADATA = MetaData()  # derived data, created and dropped here (not part of the application's schema)
DIRTY = Table("kpi_dirty_day", METADATA, Column("day", String, primary_key=True))  # days (and months) to rebuild
STATE = Table("kpi_rollup_state", METADATA, Column("key", String, primary_key=True), Column("value", String))
CHUNK_DAYS = 200  # days rebuilt per statement
DAY_LENGTH, MONTH_LENGTH = len("YYYY-MM-DD"), len("YYYY-MM")  # marked days and months share kpi_dirty_day
SCOPES = (0, 1, 2)  # 0: per channel and intent, 1: all intents added up, 2: all channels and intents
LAYOUT = 3  # how rebuilt rows are laid out (scopes, months): bump when the rebuild changes, to rebuild every rollup
DAYS: BindParameter[Any] = bindparam("days", expanding=True)


@dataclass(frozen=True, eq=False)
class Rollup:
    """One grouped query kept per UTC day (and per month when `monthly`), channel and intent.

    `source(clause)` is the query over the tickets the clause selects, its columns in this order: bucket (the UTC day),
    channel, intent, demo (whether the tickets are demo data), the keys, the measures. Measures named in `maxima`
    combine by max, the others add up. Rows of scope 0 keep the intent; rows of scope 1 add up all intents, for reads
    that neither filter nor group by intent; rows of scope 2 add up all channels too, for reads that neither filter nor
    group by channel or intent. Every scope keeps demo and live rows apart.
    """

    name: str
    keys: tuple[tuple[str, Any], ...]  # the query's own group keys and their column types
    measures: tuple[str, ...]
    source: Source
    monthly: bool = True  # False for rollups read per day
    maxima: frozenset[str] = frozenset()

    @cached_property
    def table(self) -> Table:
        return Table(
            f"kpi_rollup_{self.name}",
            METADATA,
            Column("bucket", String, nullable=False),  # YYYY-MM-DD or YYYY-MM
            Column("scope", Integer, nullable=False, server_default="0"),
            Column("channel", String),
            Column("intent", String),
            Column("demo", Boolean),
            *(Column(key, kind) for key, kind in self.keys),
            *(Column(measure, Float) for measure in self.measures),
            Index(f"ix_kpi_rollup_{self.name}", "scope", "bucket", "channel", "intent"),
        )

    def read(self, shape: Shape, by: tuple[str, ...]) -> Select:
        """The period's sums grouped by `by`: whole days and months stored, partial days live (cached per shape)."""
        return _read(self, shape, by)

    def combined(self, columns: Any) -> list[ColumnElement[Any]]:
        """Each measure of these rows combined: added up, or the max."""
        return [(func.max if m in self.maxima else func.sum)(columns[m]).label(m) for m in self.measures]

    def stored_columns(self) -> list[Column[Any]]:
        """The columns a source query gives, in its order (every column but the scope)."""
        return [c for c in self.table.c if c.name != "scope"]


@lru_cache(maxsize=64)
def _read(rollup: Rollup, shape: Shape, by: tuple[str, ...]) -> Select:
    table = rollup.table
    by_intent, by_channel = shape[1] or "intent" in by, shape[0] or "channel" in by
    scope = 0 if by_intent else 1 if by_channel else 2
    bucket = table.c.bucket
    period = bucket.in_(COVER) if rollup.monthly else and_(bucket >= FULL_FROM, bucket < FULL_TO)
    filters = ticket_scope(shape, table.c.channel, table.c.intent, table.c.demo)
    stored = select(*rollup.stored_columns()).where(table.c.scope == scope, period, *filters)
    both = union_all(stored, rollup.source(edge_tickets(shape))).subquery()
    groups = [both.c[key] for key in by]
    return select(*groups, *rollup.combined(both.c)).group_by(*groups)


def _trigger_sql() -> dict[str, str]:
    """Triggers that mark the creation day of every ticket whose measured rows change."""
    ticket = Ticket.__tablename__
    watched = [ticket, Feedback.__tablename__, TriageResult.__tablename__, Survey.__tablename__]
    events = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}
    out: dict[str, str] = {}
    for table in watched:
        for event, rows in events.items():
            name = f"kpi_dirty_{table}_{event}"
            if table == ticket:
                days = ", ".join(f"(date({row}.created_at))" for row in rows)
                body = f"INSERT OR IGNORE INTO {DIRTY.name} (day) VALUES {days};"
            else:
                ids = ", ".join(f"{row}.ticket_id" for row in rows)
                body = (
                    f"INSERT OR IGNORE INTO {DIRTY.name} (day) "
                    f"SELECT date(created_at) FROM {ticket} WHERE id IN ({ids});"
                )
            out[name] = f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} BEGIN {body} END"
    return out


TRIGGERS = _trigger_sql()


@lru_cache(maxsize=8)
def fingerprint(rollups: tuple[Rollup, ...], stored: Stored) -> str:
    """What the stored rollups were built with: their tables, the triggers, the queries' SQL and the parameters."""
    dialect = sqlite.dialect()
    parts = [str(CreateTable(r.table).compile(dialect=dialect)) for r in rollups]
    parts += [str(r.source(true()).compile(dialect=dialect)) for r in rollups]
    parts += [*TRIGGERS.values(), *(f"{name} {value}" for name, value in stored), f"layout {LAYOUT}"]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _current(connection: Connection, expected: str) -> bool:
    """Whether the stored rollups were built with `expected` and every trigger is still in place."""
    # IF NOT EXISTS in one statement: two dashboards opened at once on a new database both get here
    connection.execute(CreateTable(STATE, if_not_exists=True))
    stored = connection.execute(select(STATE.c.value).where(STATE.c.key == "fingerprint")).scalar()
    names = list(TRIGGERS)
    triggers = connection.execute(
        text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN :names").bindparams(
            bindparam("names", expanding=True)
        ),
        {"names": names},
    ).scalar()
    return stored == expected and triggers == len(names)


def _reset(connection: Connection, rollups: Sequence[Rollup], expected: str) -> None:
    """(Re)create the tables and triggers and mark every day with tickets for a rebuild (one transaction)."""
    connection.execute(delete(STATE).where(STATE.c.key == "fingerprint"))  # the first write takes the lock
    old = text(r"SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'kpi\_rollup\_%' ESCAPE '\'")
    for (name,) in connection.execute(old).all():  # every rollup table, also of rollups that no longer exist
        if name != STATE.name:
            connection.execute(text(f'DROP TABLE "{name}"'))
    for rollup in rollups:
        rollup.table.create(connection)
    connection.execute(CreateTable(DIRTY, if_not_exists=True))
    for name, sql in TRIGGERS.items():
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        connection.execute(text(sql))
    days = select(func.date(col(Ticket.created_at))).distinct()
    connection.execute(insert(DIRTY).prefix_with("OR IGNORE").from_select(["day"], days))
    connection.execute(insert(STATE).values(key="fingerprint", value=expected))
    connection.commit()


def _rebuild_days(connection: Connection, rollup: Rollup, days: list[str], stored: Stored) -> None:
    """These days' rows from the tickets (scope 0), then added up over intents (scope 1) and channels (scope 2)."""
    table = rollup.table
    connection.execute(delete(table).where(table.c.scope.in_(SCOPES), table.c.bucket.in_(days)))  # index range
    query = rollup.source(func.date(col(Ticket.created_at)).in_(DAYS))
    connection.execute(insert(table).from_select(rollup.stored_columns(), query), {"days": days, **dict(stored)})
    keys = [table.c[key] for key, _ in rollup.keys]
    for scope, channel in ((1, table.c.channel), (2, null())):
        groups = [table.c.bucket, channel, table.c.demo, *keys]
        added = (
            select(table.c.bucket, literal(scope), channel, null(), table.c.demo, *keys, *rollup.combined(table.c))
            .where(table.c.scope == scope - 1, table.c.bucket.in_(days))
            .group_by(*groups)
        )
        connection.execute(insert(table).from_select([c.name for c in table.c], added))


def _rebuild_month(connection: Connection, rollup: Rollup, month: str) -> None:
    """One month's rows (every scope) added up from its day rows."""
    table = rollup.table
    connection.execute(delete(table).where(table.c.scope.in_(SCOPES), table.c.bucket == month))
    groups = [table.c.scope, table.c.channel, table.c.intent, table.c.demo, *(table.c[key] for key, _ in rollup.keys)]
    days = and_(table.c.scope.in_(SCOPES), table.c.bucket >= f"{month}-01", table.c.bucket <= f"{month}-31")
    rows = select(literal(month), *groups, *rollup.combined(table.c)).where(days).group_by(*groups)
    connection.execute(insert(table).from_select([c.name for c in table.c], rows))


def _rebuild(
    connection: Connection, rollups: Sequence[Rollup], days: list[str], months: list[str], stored: Stored
) -> None:
    """Recompute these days from the tickets and these months from their days, and mark the months of the days
    that stay stale (one transaction)."""
    connection.execute(delete(DIRTY).where(DIRTY.c.day.in_(days + months)))  # the first write takes the lock
    for rollup in rollups:
        for start in range(0, len(days), CHUNK_DAYS):
            _rebuild_days(connection, rollup, days[start : start + CHUNK_DAYS], stored)
    stale = sorted({day[:7] for day in days} - set(months))
    if stale:
        connection.execute(insert(DIRTY).prefix_with("OR IGNORE"), [{"day": month} for month in stale])
    for rollup in rollups:
        for month in months if rollup.monthly else []:
            _rebuild_month(connection, rollup, month)
    connection.commit()


@dataclass(frozen=True)
class Reads:
    """What a refresh reads from the rollups: ranges of whole days [first, end) (ISO days) and whole months."""

    days: tuple[tuple[str, str], ...]
    months: frozenset[str]

    @classmethod
    def whole(cls, periods: Iterable[tuple[str, str]]) -> Reads:
        """What reading these ranges of whole days reads: their days, and the months `cover` makes of them."""
        days = tuple(periods)
        buckets = (b for first, end in days for b in cover(date.fromisoformat(first), date.fromisoformat(end)))
        return cls(days, frozenset(b for b in buckets if len(b) == MONTH_LENGTH))

    def wants(self, bucket: str) -> bool:
        """Whether the refresh reads this day or month from the rollups."""
        if len(bucket) == MONTH_LENGTH:
            return bucket in self.months
        return any(first <= bucket < end for first, end in self.days)


def refresh_rollups(
    connection: Connection, rollups: tuple[Rollup, ...], params: dict[str, str], reads: Reads | None = None
) -> int:
    """Bring the rollups up to date before a refresh reads them; returns the number of days and months rebuilt.

    Only the marked days and months the refresh reads are rebuilt (None: all): the partial days at a period's edges,
    today among them, are read live, so the tickets agents work on today cost no rebuild. Commits on the connection;
    a change committed while a refresh runs shows in the next refresh (its day stays marked). A failure rolls back
    with the connection and leaves the days marked.
    """
    stored = tuple(sorted(params.items()))
    expected = fingerprint(rollups, stored)
    if not _current(connection, expected):
        log.info("building the KPI rollups")
        _reset(connection, rollups, expected)
    marked = [day for (day,) in connection.execute(select(DIRTY.c.day).where(DIRTY.c.day.is_not(None)))]
    days = [d for d in marked if len(d) == DAY_LENGTH and (reads is None or reads.wants(d))]
    months = {d[:7] for d in days} | {m for m in marked if len(m) == MONTH_LENGTH}
    due = sorted(m for m in months if reads is None or reads.wants(m))
    if days or due:
        _rebuild(connection, rollups, days, due, stored)
    return len(days) + len(due)
