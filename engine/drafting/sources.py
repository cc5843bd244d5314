"""The knowledge-base sources a draft may cite, numbered 1..k as the model and the agent see them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class _HitLike(Protocol):
    @property
    def chunk_id(self) -> int: ...
    @property
    def document_key(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def heading(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def score(self) -> float: ...


@dataclass(frozen=True)
class Source:
    """One retrieved knowledge-base chunk, numbered as it is cited: [n]."""

    n: int
    chunk_id: int
    document_key: str
    title: str
    heading: str
    text: str
    score: float

    @property
    def label(self) -> str:
        """Title and heading as one line, for the prompt and the source card."""
        return f"{self.title} — {self.heading}" if self.heading and self.heading != self.title else self.title


def sources_from_hits(hits: Iterable[_HitLike]) -> list[Source]:
    """Number retrieval hits 1..k in rank order."""
    return [
        Source(
            n=i,
            chunk_id=h.chunk_id,
            document_key=h.document_key,
            title=h.title,
            heading=h.heading,
            text=h.text,
            score=h.score,
        )
        for i, h in enumerate(hits, start=1)
    ]
