"""CSV files with broken quoting: bad rows are dead-lettered with their line numbers, the rest import, counts add up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from engine.config import REPO_ROOT
from engine.ingest.bulk_import import import_tickets
from engine.ingest.dead_letters import list_dead_letters
from engine.store.models import Customer, Message, Ticket
from tests.engine.test_ingest_import import count, make_engine

HEADER = "external_id,customer,email,text\n"


def good_row(i: int) -> str:
    return f'r-{i},Customer {i},c{i}@example.com,"Order {i} did not arrive, please help."\n'


def test_an_unclosed_quote_does_not_merge_the_next_rows_into_one_ticket(tmp_path: Path) -> None:
    rows = [good_row(i) for i in range(1, 11)]
    rows[2] = 'r-3,Customer 3,c3@example.com,"My parcel is late and nobody answers\n'  # the quote is never closed
    path = tmp_path / "history.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    engine = make_engine(tmp_path / "data")
    report = import_tickets(engine, path)
    assert (report.total, report.imported, report.failed) == (10, 9, 1)
    assert report.imported + report.duplicates + report.failed == 10, "the counts add up to the rows in the file"
    (letter,) = list_dead_letters(engine)
    assert "line 4" in letter.error and "quote" in letter.error
    assert "My parcel is late" in letter.preview
    with engine.session() as session:
        bodies = [m.body for m in session.exec(select(Message))]
        emails = {c.email for c in session.exec(select(Customer))}
    assert len(bodies) == 9 and not any("@example.com" in body for body in bodies), "no row swallowed another"
    assert emails == {f"c{i}@example.com" for i in range(1, 11) if i != 3}


def test_a_quoted_field_that_swallows_whole_rows_is_caught_even_when_its_quote_closes_later(tmp_path: Path) -> None:
    text = (
        HEADER
        + good_row(1)
        + 'r-2,Customer 2,c2@example.com,"Refund please\n'  # opened here ...
        + "r-3,Customer 3,c3@example.com,Where is my order?\n"
        + 'r-4,Customer 4,c4@example.com,Cancel it" \n'  # ... and closed by a stray quote two rows later
        + good_row(5)
    )
    path = tmp_path / "history.csv"
    path.write_text(text, encoding="utf-8")
    engine = make_engine(tmp_path / "data")
    report = import_tickets(engine, path)
    assert report.imported + report.failed == report.total
    assert report.failed >= 1
    errors = " ".join(letter.error for letter in list_dead_letters(engine))
    assert "line 3" in errors
    with engine.session() as session:
        bodies = [m.body for m in session.exec(select(Message))]
    assert not any("c3@example.com" in body for body in bodies)


def test_a_multi_line_text_in_quotes_is_one_row(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        HEADER + 'r-1,Ann,a@example.com,"Hello,\nmy order never came.\nThanks"\n' + good_row(2), encoding="utf-8"
    )
    engine = make_engine(tmp_path / "data")
    report = import_tickets(engine, path)
    assert (report.total, report.imported, report.failed) == (2, 2, 0)


def test_a_large_file_with_an_unclosed_quote_imports_the_rest_from_the_command_line(tmp_path: Path) -> None:
    rows = [good_row(i) for i in range(1, 3001)]
    rows[99] = 'r-100,Customer 100,c100@example.com,"unclosed ' + "x" * 50 + "\n"
    path = tmp_path / "big.csv"
    path.write_text(HEADER + "".join(rows) + 'r-3001,Last,last@example.com,"no end ' + "y" * 140_000 + "\n")
    env = {"CAREDESK_DATA_DIR": str(tmp_path / "data"), "CAREDESK_DEMO": "false", "CAREDESK_MODEL_BACKEND": "fake"}
    done = subprocess.run(
        [sys.executable, "main.py", "import", "tickets", str(path)],
        cwd=REPO_ROOT,
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    engine = make_engine(tmp_path / "data")
    letters = list_dead_letters(engine)
    assert count(engine, Ticket) == 2999 and len(letters) == 2
    assert {"line 101", "line 3002"} <= {e for letter in letters for e in letter.error.split(":")[:1]}
