"""Bring a database from an older CareDesk schema up to date without losing rows.

Older databases also hold plaintext in columns that are encrypted now (message bodies, drafts, ...):
`upgrade_schema` encrypts those values in place, once; tokens already there are left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, and_, bindparam, func, inspect, not_, select, text, type_coerce, update
from sqlalchemy.engine import Connection
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.schema import Column
from sqlmodel import SQLModel

from engine.privacy.compaction import compact_database
from engine.privacy.crypto import MIN_TOKEN_CHARS, TOKEN_PREFIX, EncryptedText

log = logging.getLogger(__name__)


class SchemaError(RuntimeError):
    """The database cannot be upgraded automatically; the message says what to do."""


def upgrade_schema(db: SAEngine) -> list[str]:
    """Add the columns and indexes that stored tables lack, encrypt legacy plaintext; returns what changed."""
    inspector = inspect(db)
    added: list[str] = []
    with db.begin() as connection:
        for table in SQLModel.metadata.sorted_tables:
            if not inspector.has_table(table.name):
                continue
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                connection.execute(text(_add_column_sql(table.name, column, db)))
                computed = _computed_default(column)
                if computed is not None:
                    fill = text(f'UPDATE "{table.name}" SET "{column.name}" = :value')
                    connection.execute(fill.bindparams(bindparam("value", computed, type_=column.type)))
                added.append(f"{table.name}.{column.name}")
            indexed = {index["name"] for index in inspector.get_indexes(table.name)}
            for index in table.indexes:
                if index.name not in indexed:
                    index.create(connection)
                    added.append(f"index {index.name}")
    if added:
        log.warning("upgraded an older database schema: added %s", ", ".join(added))
    return added + encrypt_plaintext(db)


def encrypted_columns() -> list[Column]:
    """Every EncryptedText column of the schema."""
    return [
        column
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText)
    ]


def write_values(connection: Connection, column: Column, rows: Sequence[Sequence[Any]], batch: int = 1000) -> None:
    """Store each (primary key, plaintext) of `rows` in `column`, encrypted under the newest key."""
    (pk,) = column.table.primary_key.columns
    write = (
        update(column.table).where(pk == bindparam("key")).values({column.name: bindparam("plain", type_=column.type)})
    )
    for start in range(0, len(rows), batch):
        connection.execute(write, [{"key": key, "plain": plain} for key, plain in rows[start : start + batch]])


def encrypt_plaintext(db: SAEngine) -> list[str]:
    """Encrypt, in place, values of encrypted columns that are not Fernet tokens (written by an older version).

    Needs the cipher (`set_cipher`). Idempotent: a value shaped like a token is left alone, so a second run finds
    nothing. When something was encrypted the database is compacted so no old plaintext page remains. Returns one
    note per column it changed.
    """
    inspector = inspect(db)
    notes: list[str] = []
    for column in encrypted_columns():
        table = column.table
        if not inspector.has_table(table.name):
            continue
        (pk,) = table.primary_key.columns
        stored = type_coerce(column, Text)  # the value as stored: no decryption
        token_shaped = and_(
            func.substr(stored, 1, len(TOKEN_PREFIX)) == TOKEN_PREFIX, func.length(stored) >= MIN_TOKEN_CHARS
        )
        query = select(pk, stored).where(stored.is_not(None), stored != "", not_(token_shaped))
        with db.begin() as connection:
            rows = connection.execute(query).all()
            write_values(connection, column, rows)
        if rows:
            notes.append(f"encrypted {len(rows)} plaintext {table.name}.{column.name}")
    if notes:
        notes += compact_database(db)  # the plaintext stays in freed pages and the WAL until they are rewritten
        log.warning("encrypted values an older version stored in plaintext: %s", ", ".join(notes))
    return notes


def _add_column_sql(table: str, column: Column, db: SAEngine) -> str:
    column_type = column.type.compile(dialect=db.dialect)
    default = _literal_default(column)
    if not column.nullable and default is None and _computed_default(column) is None:
        raise SchemaError(
            f"column {table}.{column.name} is required but missing; back up the database and run `python main.py` "
            "with a new CAREDESK_DATA_DIR, then re-import"
        )
    suffix = f" DEFAULT {default}" if default is not None else ""
    null = " NOT NULL" if not column.nullable and default is not None else ""
    return f'ALTER TABLE "{table}" ADD COLUMN "{column.name}" {column_type}{null}{suffix}'


def _computed_default(column: Column) -> object | None:
    """The value of a callable default (such as `utcnow`) to fill existing rows with."""
    default = column.default
    value = getattr(default, "arg", None) if default is not None else None
    return value(None) if callable(value) else None


def _literal_default(column: Column) -> str | None:
    default = column.default
    value = getattr(default, "arg", None) if default is not None else None
    if value is None or callable(value):
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
