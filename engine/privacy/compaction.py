"""Leave no old copy behind: SQLite keeps deleted or rewritten values in free pages and the WAL until compacted."""

from __future__ import annotations

from sqlalchemy.engine import Engine as SAEngine


def compact_database(db: SAEngine) -> list[str]:
    """Checkpoint the WAL and VACUUM (SQLite) so deleted or replaced values leave no copy; returns notes."""
    if db.dialect.name != "sqlite":
        return [f"run your {db.dialect.name} database's own vacuum to drop deleted row versions"]
    notes: list[str] = []
    with db.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.exec_driver_sql("VACUUM")
        busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        if busy is not None and busy[0]:
            notes.append("the database was busy: the WAL will be cleared at the next checkpoint")
    return notes
