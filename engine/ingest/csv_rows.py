"""Read an import CSV record by record with line numbers; broken quoting marks one row bad instead of the file.

A quote that is never closed makes Python's csv reader take every following line into one field: the rows below
end up in another customer's ticket, or the field outgrows the field limit and the whole read fails. Here each
record is read strictly (a quote must close before a delimiter), and a record that fails, or whose quoted field
holds lines that parse as whole rows of the file, is reported as a bad row at its first line; reading goes on
from the next line, so the rows it swallowed are read as themselves.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from engine.ingest.dead_letter_store import IngestError


@dataclass(frozen=True)
class CsvRecord:
    """One row: its fields by lower-case column name, or why it is bad, with its first line in the file."""

    line: int
    fields: dict[str, Any] | None = None
    error: str = ""
    raw: bytes = b""


class _Lines:
    """The file's lines, numbered, with the lines of the current record kept so a bad record can be re-read."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle
        self._pending: deque[str] = deque()
        self.line = 0  # number of the last line handed out
        self.taken: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        text = self._pending.popleft() if self._pending else next(self._handle)
        self.line += 1
        self.taken.append(text)
        return text

    def begin(self) -> int:
        """Start a record; returns the number of its first line."""
        self.taken = []
        return self.line + 1

    def keep_first(self) -> str:
        """Give back every line of the record but its first, to be read again; returns the first."""
        first, rest = self.taken[0], self.taken[1:]
        self._pending.extendleft(reversed(rest))
        self.line -= len(rest)
        self.taken = [first]
        return first


def csv_columns(path: Path) -> list[str]:
    """The lower-case column names in the header of `path`; IngestError if the header is unusable."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        try:
            return [c.strip().lower() for c in next(csv.reader(handle, strict=True), [])]
        except csv.Error as exc:
            raise IngestError(f"{path.name}: the header line cannot be read ({exc})") from exc


def csv_records(path: Path) -> Iterator[CsvRecord]:
    """The rows of `path` after its header, blank lines skipped; IngestError if the header is unusable."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        lines = _Lines(handle)
        columns = csv_columns(path)
        next(csv.reader(lines), None)  # past the header
        while True:
            first_line = lines.begin()
            try:
                values = next(csv.reader(lines, strict=True))
            except StopIteration:
                return
            except csv.Error as exc:
                if not lines.taken:
                    return
                yield _bad(first_line, lines.keep_first(), f"unclosed or misplaced quote ({exc})")
                continue
            if not any(v.strip() for v in values):
                continue
            if _swallows_rows(lines.taken[1:], len(columns)):
                last = lines.line
                reason = f"a quoted field runs from line {first_line} to {last} over what look like whole rows"
                yield _bad(first_line, lines.keep_first(), reason + "; check its quotes")
                continue
            yield _record(first_line, columns, values)


def _record(line: int, columns: list[str], values: list[str]) -> CsvRecord:
    fields = dict(zip(columns, values, strict=False))
    if len(values) > len(columns):
        return CsvRecord(line, fields, error=f"{len(values) - len(columns)} more values than columns")
    return CsvRecord(line, fields)


def _bad(line: int, text: str, reason: str) -> CsvRecord:
    return CsvRecord(line, error=reason, raw=text.rstrip("\r\n").encode("utf-8", errors="surrogateescape"))


def _swallows_rows(continuation: list[str], width: int) -> bool:
    """Whether a line inside a multi-line field reads on its own as a full row of `width` columns."""
    if width < 2:
        return False
    for text in continuation[:-1]:  # the last line closes the field and is never a whole row inside it
        try:
            row = next(csv.reader([text], strict=True), [])
        except csv.Error:
            continue
        if len(row) == width and all(v.strip() for v in row):
            return True
    return False
