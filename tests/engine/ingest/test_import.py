"""Bulk import of history: CSV, JSONL and mbox; bad rows dead-lettered; resumable without duplicates after a kill."""

from __future__ import annotations

import csv
import json
import mailbox
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from engine.app import build_engine
from engine.config import REPO_ROOT, Settings
from engine.ingest.bulk_import import ImportProgress, import_tickets
from engine.ingest.dead_letters import list_dead_letters
from engine.runtime import Engine
from engine.store.models import DeadLetter, Direction, Message, Ticket, TicketStatus
from tests.waiting import wait_for

COLUMNS = ["external_id", "channel", "customer", "email", "created_at", "status", "reply", "intent", "text"]


def make_engine(data_dir: Path) -> Engine:
    return build_engine(Settings.load(data_dir=data_dir, model_backend="fake", demo=False))


def history_csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(rows):
            writer.writerow(
                [
                    f"hist-{i}",
                    "chat",
                    f"Customer {i % 7}",
                    f"c{i % 7}@example.com",
                    f"2024-03-{1 + i % 28:02d}T10:00:00Z",
                    "resolved",
                    f"Here is how to fix case {i}.",
                    "refund",
                    f"Ticket {i}: I was charged twice, please refund.",
                ]
            )
    return path


def count(engine: Engine, table: type) -> int:
    with engine.session() as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def test_resolved_history_keeps_status_reply_and_gold_intent(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    report = import_tickets(engine, history_csv(tmp_path / "history.csv", 3))
    assert (report.imported, report.duplicates, report.failed, report.complete) == (3, 0, 0, True)
    with engine.session() as session:
        ticket = session.exec(select(Ticket).where(Ticket.external_id == "hist-1")).one()
        replies = session.exec(
            select(Message).where(Message.ticket_id == ticket.id, Message.direction == Direction.OUTBOUND)
        ).all()
    assert ticket.status == TicketStatus.RESOLVED and ticket.gold_intent == "refund" and ticket.channel == "chat"
    assert ticket.resolved_at is not None and ticket.resolved_at.date().isoformat() == "2024-03-02"
    assert [m.body for m in replies] == ["Here is how to fix case 1."]


def test_bad_rows_are_dead_lettered_with_row_number_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "text,created_at,status,channel\n"
        "Where is my order?,2024-01-05,open,email\n"
        ",2024-01-05,open,email\n"
        "My card is blocked,yesterday,open,email\n"
        "Cancel please,2024-01-06,archived,email\n"
        "Call me,2024-01-06,open,pigeon\n",
        encoding="utf-8",
    )
    engine = make_engine(tmp_path / "data")
    report = import_tickets(engine, path)
    assert (report.imported, report.failed) == (1, 4)
    errors = sorted(letter.error for letter in list_dead_letters(engine))
    assert errors[0].startswith("line 3: the text is empty")
    assert "line 4: date 'yesterday' is not ISO 8601" in errors[1]
    assert "line 5: status 'archived'" in errors[2] and "line 6: channel 'pigeon'" in errors[3]
    assert all(letter.source.startswith("import:mixed.csv#") for letter in list_dead_letters(engine))


def test_jsonl_import_survives_malformed_lines_and_legacy_encodings(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_bytes(
        b'{"external_id": "j1", "text": "Password reset link expired"}\n'
        b'{"external_id": "j2", "text": "broken\n'
        + json.dumps({"external_id": "j3", "text": "Caf\u00e9 order"}).encode("ascii").replace(b"\\u00e9", b"\xe9")
        + b"\n[1, 2]\n"
    )
    engine = make_engine(tmp_path / "data")
    report = import_tickets(engine, path)
    assert (report.imported, report.failed) == (2, 2)
    with engine.session() as session:
        bodies = set(session.exec(select(Message.body)).all())
    assert bodies == {"Password reset link expired", "Café order"}


def test_interrupted_import_resumes_without_duplicates(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    path = history_csv(tmp_path / "history.csv", 50)
    seen: list[int] = []

    def stop_after_two_batches(progress: ImportProgress) -> None:
        seen.append(progress.done)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_tickets(engine, path, progress=stop_after_two_batches, batch_rows=10)
    assert count(engine, Ticket) == 20
    report = import_tickets(engine, path, batch_rows=10)
    assert report.resumed_from == 20 and report.imported == 50 and report.duplicates == 0
    assert count(engine, Ticket) == 50 and count(engine, Message) == 100


def test_killed_import_restarts_without_duplicates_even_if_the_checkpoint_lags(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    path = history_csv(tmp_path / "history.csv", 120)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("bad-1,chat,x,,2024-01-01,resolved,,, \n")  # an empty text: a dead letter
    script = (
        "import sys, time; from pathlib import Path; from engine.app import build_engine;"
        "from engine.config import Settings;"
        "from engine.ingest.bulk_import import import_tickets;"
        "engine = build_engine(Settings.load(data_dir=Path(sys.argv[1]), model_backend='fake', demo=False));"
        "import_tickets(engine, Path(sys.argv[2]), batch_rows=7, progress=lambda p: time.sleep(0.3))"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(data_dir), str(path)], cwd=REPO_ROOT)
    checkpoints = data_dir / "imports"
    wait_for(
        lambda: any(json.loads(p.read_text()).get("done", 0) >= 21 for p in checkpoints.glob("*.json")),
        60,
        "three batches of the import to be checkpointed",
    )
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    engine = make_engine(data_dir)
    before = count(engine, Ticket)
    assert 21 <= before < 120, "the kill landed mid-import"
    (checkpoint,) = checkpoints.glob("*.json")
    state = json.loads(checkpoint.read_text())
    checkpoint.write_text(json.dumps(state | {"done": max(0, state["done"] - 14)}))  # as if killed before saving it

    report = import_tickets(engine, path, batch_rows=7)
    assert report.complete and report.failed == 1
    assert count(engine, Ticket) == 120 and count(engine, Message) == 240
    with engine.session() as session:
        distinct = session.exec(select(func.count(func.distinct(Ticket.external_id)))).one()
        letters = session.exec(select(func.count()).select_from(DeadLetter)).one()
    assert distinct == 120 and letters == 1
    again = import_tickets(engine, path, batch_rows=50)
    assert again.imported == 0 and again.duplicates == 120 and count(engine, Ticket) == 120
    assert count(engine, DeadLetter) == 1


def test_mbox_history_threads_replies_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "archive.mbox"
    box = mailbox.mbox(str(path))
    box.add(b"From: Kim <kim@example.com>\nSubject: Broken zipper\nMessage-ID: <z1@example.com>\n\nThe zipper broke.\n")
    box.add(
        b"From: Kim <kim@example.com>\nSubject: Re: Broken zipper\nMessage-ID: <z2@example.com>\n"
        b"In-Reply-To: <z1@example.com>\nReferences: <z1@example.com>\n\nPhotos attached soon.\n"
    )
    box.add(b"Subject: nobody\n\nno sender\n")
    box.flush()
    box.close()
    engine = make_engine(tmp_path / "data")
    report = import_tickets(engine, path)
    assert (report.imported, report.failed) == (2, 1)
    with engine.session() as session:
        ticket_ids = session.exec(select(Message.ticket_id).order_by(col(Message.id))).all()
    assert len(ticket_ids) == 2 and ticket_ids[0] == ticket_ids[1]
    assert list_dead_letters(engine)[0].source == "email:archive.mbox#3"
    assert import_tickets(engine, path).imported == 0 and count(engine, Message) == 2
