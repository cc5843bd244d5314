"""Tamper-evident audit log: appends chain, and altering, deleting or reordering rows is caught by verify."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from engine.privacy import audit
from engine.store.audit_models import AuditEntry
from engine.store.db import make_db, session_scope


@pytest.fixture
def db(tmp_path: Path) -> Engine:
    return make_db(f"sqlite:///{tmp_path / 'audit.db'}")


def _fill(db: Engine, n: int) -> None:
    with session_scope(db) as session:
        for i in range(1, n + 1):
            audit.append(session, actor="alice", action="reveal_pii", subject=f"ticket:{i}", details={"n": i, "k": [1]})


def _verify(db: Engine) -> audit.VerifyResult:
    with session_scope(db) as session:
        return audit.verify(session)


def test_appended_rows_chain_and_verify(db: Engine) -> None:
    _fill(db, 5)
    with session_scope(db) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert rows[2].details == {"n": 3, "k": [1]}
    assert _verify(db) == audit.VerifyResult(True, 5, None, "5 rows, chain intact")


def test_empty_log_verifies(db: Engine) -> None:
    assert _verify(db).ok and _verify(db).checked == 0


def test_altered_row_is_named(db: Engine) -> None:
    _fill(db, 5)
    with db.begin() as conn:
        conn.execute(text('UPDATE auditentry SET details = \'{"n": 99, "k": [1]}\' WHERE id = 3'))
    result = _verify(db)
    assert not result.ok and result.first_broken_id == 3 and result.checked == 2
    assert "altered" in result.reason


def test_altered_actor_with_recomputed_hash_breaks_the_next_link(db: Engine) -> None:
    _fill(db, 4)
    with session_scope(db) as session:
        row = session.get(AuditEntry, 2)
        assert row is not None
        row.actor = "mallory"
        row.hash = audit._hash_of(row)  # a forger who rehashes the row still breaks row 3's link
    result = _verify(db)
    assert not result.ok and result.first_broken_id == 3
    assert "removed or reordered" in result.reason


def test_deleted_row_is_named(db: Engine) -> None:
    _fill(db, 5)
    with db.begin() as conn:
        conn.execute(text("DELETE FROM auditentry WHERE id = 3"))
    result = _verify(db)
    assert not result.ok and result.first_broken_id == 4
    assert "missing" in result.reason


def test_reordered_rows_are_named(db: Engine) -> None:
    _fill(db, 5)
    with db.begin() as conn:  # swap the ids of rows 2 and 3
        conn.execute(text("UPDATE auditentry SET id = -1 WHERE id = 2"))
        conn.execute(text("UPDATE auditentry SET id = 2 WHERE id = 3"))
        conn.execute(text("UPDATE auditentry SET id = 3 WHERE id = -1"))
    result = _verify(db)
    assert not result.ok and result.first_broken_id == 2


def test_cut_tail_is_caught_with_a_saved_head(db: Engine) -> None:
    _fill(db, 4)
    with session_scope(db) as session:
        saved = audit.head(session)
    assert saved is not None and saved[0] == 4
    with db.begin() as conn:
        conn.execute(text("DELETE FROM auditentry WHERE id = 4"))
    assert _verify(db).ok  # the chain alone cannot see a cut tail
    with session_scope(db) as session:
        result = audit.verify(session, expected_head=saved)
    assert not result.ok and result.first_broken_id == 4


def test_rolled_back_append_leaves_no_row(db: Engine) -> None:
    _fill(db, 2)
    with pytest.raises(RuntimeError), session_scope(db) as session:
        audit.append(session, actor="bob", action="erase_customer", subject="customer:1")
        raise RuntimeError("the erasure failed")
    _fill(db, 1)
    assert _verify(db).ok and _verify(db).checked == 3


def test_concurrent_appends_from_threads_keep_one_chain(db: Engine) -> None:
    def work(worker: int) -> None:
        for i in range(10):
            with session_scope(db) as session:
                audit.append(session, actor=f"w{worker}", action="ai_route", details={"i": i})

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = _verify(db)
    assert result.ok and result.checked == 40


def test_a_batch_of_rows_chains_onto_single_appends(db: Engine) -> None:
    _fill(db, 2)
    records = [audit.Record("model:v1", "ai_route", f"ticket:{i}", {"route": "escalate"}) for i in range(3)]
    with session_scope(db) as session:
        entries = audit.append_many(session, records)
    _fill(db, 1)

    assert [e.id for e in entries] == [3, 4, 5]
    with session_scope(db) as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
    assert [r.subject for r in rows] == ["ticket:1", "ticket:2", "ticket:0", "ticket:1", "ticket:2", "ticket:1"]
    assert _verify(db) == audit.VerifyResult(True, 6, None, "6 rows, chain intact")
