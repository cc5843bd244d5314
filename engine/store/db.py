"""Database engine and sessions: one SQLAlchemy engine per Settings, a fresh one per test."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, SQLModel, create_engine

from engine.store import (  # noqa: F401  (the tables)
    account_models,
    action_models,
    attachment_models,
    audit_models,
    models,
    outbox_models,
    pulse_models,
    work_models,
)

log = logging.getLogger(__name__)


def make_db(url: str) -> SAEngine:
    """Create the engine for `url`, create missing tables, and turn on WAL for SQLite files."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    connect_args = {"check_same_thread": False, "timeout": 30} if url.startswith("sqlite") else {}
    db = create_engine(url, connect_args=connect_args)
    if url.startswith("sqlite"):
        event.listen(db, "connect", _sqlite_pragmas)
    SQLModel.metadata.create_all(db)
    return db


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def session_scope(db: SAEngine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(db, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


def begin_write(session: Session) -> None:
    """Take the database write lock now, not at the first flush: on SQLite a no-op UPDATE starts the write
    transaction, and no other connection can commit until this session commits or rolls back."""
    session.execute(text("UPDATE auditentry SET id = id WHERE 1 = 0"))
