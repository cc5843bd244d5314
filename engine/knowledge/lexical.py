"""Lexical search over knowledge chunks: an SQLite FTS5 table ranked by BM25, in the app's own database."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, text

TABLE = "knowledge_fts"
TITLE_WEIGHT, HEADING_WEIGHT, TEXT_WEIGHT = 3.0, 1.0, 1.0  # BM25 column weights (measured on StackFAQ tune split)
MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "be",
        "do",
        "does",
        "did",
        "i",
        "my",
        "me",
        "how",
        "can",
        "what",
        "why",
        "when",
        "where",
        "which",
        "who",
        "it",
        "this",
        "that",
        "with",
        "from",
        "at",
        "by",
        "as",
        "you",
        "your",
        "we",
        "our",
    }
)


def create_table(conn: Connection) -> None:
    """Create the FTS5 table (rowid = chunk id) if it is missing."""
    conn.execute(
        text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5("
            "title, heading, text, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    )


def insert(conn: Connection, rows: Iterable[tuple[int, str, str, str]]) -> None:
    """Index (chunk_id, title, heading, text) rows."""
    params = [{"id": i, "title": title, "heading": heading, "text": body} for i, title, heading, body in rows]
    if params:
        statement = f"INSERT INTO {TABLE}(rowid, title, heading, text) VALUES (:id, :title, :heading, :text)"
        conn.execute(text(statement), params)


def delete(conn: Connection, chunk_ids: Sequence[int]) -> None:
    """Drop the rows of these chunks."""
    if chunk_ids:
        conn.execute(text(f"DELETE FROM {TABLE} WHERE rowid = :id"), [{"id": i} for i in chunk_ids])


def indexed_ids(conn: Connection) -> set[int]:
    """Every chunk id that has a row."""
    return {int(row[0]) for row in conn.execute(text(f"SELECT rowid FROM {TABLE}"))}


def match_expression(query: str) -> str:
    """An FTS5 query that matches any content word of `query` (each quoted, so no FTS syntax leaks through)."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
    content = [w for w in words if w not in _STOPWORDS] or words
    return " OR ".join(f'"{w}"' for w in content[:MAX_TERMS])


def search(conn: Connection, query: str, limit: int) -> dict[int, float]:
    """chunk_id -> BM25 relevance (higher is better) for the best `limit` chunks matching any query word."""
    expression = match_expression(query)
    if not expression:
        return {}
    rows = conn.execute(
        text(
            f"SELECT rowid, -bm25({TABLE}, {TITLE_WEIGHT}, {HEADING_WEIGHT}, {TEXT_WEIGHT}) AS score "
            f"FROM {TABLE} WHERE {TABLE} MATCH :expression ORDER BY score DESC LIMIT :limit"
        ),
        {"expression": expression, "limit": limit},
    )
    return {int(chunk_id): float(score) for chunk_id, score in rows}
