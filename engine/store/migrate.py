"""Bring a database from an older CareDesk schema up to date without losing rows."""

from __future__ import annotations

import logging

from sqlalchemy import bindparam, inspect, text
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.schema import Column
from sqlmodel import SQLModel

log = logging.getLogger(__name__)


class SchemaError(RuntimeError):
    """The database cannot be upgraded automatically; the message says what to do."""


def upgrade_schema(db: SAEngine) -> list[str]:
    """Add the columns that newer tables have and the stored ones lack; returns what was added."""
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
    if added:
        log.warning("upgraded an older database schema: added %s", ", ".join(added))
    return added


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
