"""Similar resolved tickets: a persisted vector index over ticket embeddings, keyed by ticket id."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.knowledge.vector_index import VectorIndex

log = logging.getLogger(__name__)


class SimilarTickets:
    """Find the tickets whose embeddings are closest to a new ticket's embedding."""

    def __init__(self, index_dir: Path, dim: int, *, name: str = "tickets") -> None:
        self._index = VectorIndex(index_dir / name, dim)

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, ticket_id: object) -> bool:
        return ticket_id in self._index

    def add(self, ticket_id: int, vector: np.ndarray) -> None:
        """Index (or re-index) one ticket's embedding; kept on disk at once through the journal."""
        self._index.add([ticket_id], np.asarray(vector, dtype=np.float32).reshape(1, -1))

    def add_many(self, ticket_ids: Sequence[int], vectors: np.ndarray) -> None:
        """Index many tickets at once (backfill); call save() afterwards to compact the journal."""
        self._index.add(ticket_ids, vectors)

    def remove(self, ticket_id: int) -> bool:
        """Forget a ticket (erasure, deletion); True if it was indexed."""
        return self._index.remove([ticket_id]) == 1

    def search(self, vector: np.ndarray, k: int = 5, exclude: int | None = None) -> list[tuple[int, float]]:
        """The k most similar tickets as (ticket_id, cosine similarity), best first, never `exclude`."""
        ids, scores = self._index.search(np.asarray(vector, dtype=np.float32), k + (exclude is not None))
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if int(i) != exclude]
        return pairs[:k]

    def similarity(self, vector: np.ndarray, ticket_ids: Sequence[int]) -> dict[int, float]:
        """Exact cosine similarity of a vector to each of these tickets (tickets not indexed are left out)."""
        return self._index.similarity(np.asarray(vector, dtype=np.float32), ticket_ids)

    def save(self) -> None:
        """Write a compact snapshot of the index (the journal already keeps every change)."""
        self._index.save()
