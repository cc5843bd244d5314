"""Read `text,label` CSV files for training and benchmarks, with errors that name the row."""

from __future__ import annotations

import csv
import io
from pathlib import Path

TEXT_COLUMNS = ("text", "sentence", "instruction", "utterance")
LABEL_COLUMNS = ("label", "intent", "category", "airline_sentiment")


class LabeledDataError(ValueError):
    """The file cannot be used for training; the message says where and why."""


def read_labeled_csv(path: Path, *, min_classes: int = 2) -> tuple[list[str], list[str]]:
    """Return (texts, labels) from a CSV with a text and a label column."""
    raw = Path(path).read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LabeledDataError(f"{path}: line {line} is not valid UTF-8 (byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    text_col = next((c for c in TEXT_COLUMNS if c in header), None)
    label_col = next((c for c in LABEL_COLUMNS if c in header), None)
    if text_col is None or label_col is None:
        raise LabeledDataError(f"{path}: needs columns 'text' and 'label', found {header or 'no header'}")
    original = {h.strip().lower(): h for h in reader.fieldnames or []}
    texts: list[str] = []
    labels: list[str] = []
    for row_number, row in enumerate(reader, start=2):
        text = (row.get(original[text_col]) or "").strip()
        label = (row.get(original[label_col]) or "").strip()
        if not text:
            raise LabeledDataError(f"{path}: row {row_number} has empty text")
        if not label:
            raise LabeledDataError(f"{path}: row {row_number} has an empty label")
        texts.append(text)
        labels.append(label)
    if len(set(labels)) < min_classes:
        raise LabeledDataError(f"{path}: needs at least {min_classes} different labels, found {sorted(set(labels))}")
    return texts, labels
