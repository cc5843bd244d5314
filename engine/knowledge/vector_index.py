"""Nearest-neighbour search over int-labelled unit vectors: exact numpy below a size, hnswlib above, on disk.

Files under `path` (a base name): `<path>.npz` holds the ids and vectors (the source of truth), `<path>.hnsw`
the graph with its checksum in the npz, `<path>.journal` the adds/removes since the last save. A graph file that
is missing, corrupt or from another snapshot is rebuilt from the vectors with a WARNING, never a crash.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EXACT_BELOW = 20_000  # below this many vectors exact search is faster than the graph and exact
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 64
COMPACT_AFTER = 1024  # journal records before a save folds them into the snapshot
_ADD, _REMOVE = 1, 2


class VectorIndex:
    """Cosine similarity search (inner product of L2-normalised vectors) with persistent int ids."""

    def __init__(
        self,
        path: Path,
        dim: int,
        *,
        exact_below: int = EXACT_BELOW,
        m: int = HNSW_M,
        ef_construction: int = HNSW_EF_CONSTRUCTION,
        ef_search: int = HNSW_EF_SEARCH,
        threads: int = 2,
    ) -> None:
        self.path = path
        self.dim = dim
        self.exact_below = exact_below
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.threads = threads
        self._lock = threading.RLock()
        self._record = np.dtype([("op", "<i1"), ("id", "<i8"), ("vector", "<f4", (dim,))])
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._row: dict[int, int] = {}
        self._graph: Any = None
        self._load()

    @property
    def files(self) -> tuple[Path, Path, Path]:
        """The snapshot, graph and journal files."""
        return (
            self.path.with_name(self.path.name + ".npz"),
            self.path.with_name(self.path.name + ".hnsw"),
            self.path.with_name(self.path.name + ".journal"),
        )

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row

    def ids(self) -> list[int]:
        """Every id in the index."""
        with self._lock:
            return list(self._row)

    def similarity(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Exact cosine similarity of one query vector to each of these ids (absent ids are left out)."""
        with self._lock:
            present = [int(i) for i in ids if int(i) in self._row]
            scores = self._vectors[[self._row[i] for i in present]] @ np.asarray(vector, dtype=np.float32).reshape(-1)
            return dict(zip(present, scores.tolist(), strict=True))

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Add or replace vectors (rows of `vectors`, L2-normalised) under non-negative int ids; journaled."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        id_array = np.asarray(ids, dtype=np.int64)
        if len(id_array) != len(vectors):
            raise ValueError(f"{len(id_array)} ids for {len(vectors)} vectors")
        if len(id_array) and int(id_array.min()) < 0:
            raise ValueError("ids must be non-negative")
        with self._lock:
            self._apply_add(id_array, vectors)
            self._journal(_ADD, id_array, vectors)

    def remove(self, ids: Iterable[int]) -> int:
        """Remove ids (absent ones are ignored); returns how many were removed; journaled."""
        with self._lock:
            present = np.asarray([i for i in dict.fromkeys(int(i) for i in ids) if i in self._row], dtype=np.int64)
            self._apply_remove(present)
            self._journal(_REMOVE, present, np.zeros((len(present), self.dim), dtype=np.float32))
            return len(present)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k most similar ids per query row, best first, as (ids int64, cosine scores float32) of shape (q, k')."""
        queries = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            k = min(k, len(self._row))
            if k <= 0:
                return np.zeros((len(queries), 0), dtype=np.int64), np.zeros((len(queries), 0), dtype=np.float32)
            if self._graph is not None:
                self._graph.set_ef(max(self.ef_search, k))
                try:
                    labels, distances = self._graph.knn_query(queries, k=k, num_threads=1)
                    return labels.astype(np.int64), (1.0 - distances).astype(np.float32)
                except RuntimeError as exc:  # too few reachable live elements: exact is always right
                    log.warning("graph search fell back to exact search: %s", exc)
            return self._exact(queries, k)

    def save(self) -> None:
        """Write the snapshot (and graph) atomically and empty the journal."""
        snapshot, graph_file, journal = self.files
        with self._lock:
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            graph_sha = ""
            if self._graph is not None:
                tmp = graph_file.with_name(graph_file.name + ".tmp")
                self._graph.save_index(str(tmp))
                graph_sha = _sha(tmp)
                os.replace(tmp, graph_file)
            elif graph_file.exists():
                graph_file.unlink()
            n = len(self._row)
            tmp = snapshot.with_name(snapshot.name + ".tmp")
            with tmp.open("wb") as handle:
                np.savez(handle, ids=self._ids[:n], vectors=self._vectors[:n], graph_sha=np.array(graph_sha))
            os.replace(tmp, snapshot)
            journal.unlink(missing_ok=True)

    def _exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self._row)
        scores = queries @ self._vectors[:n].T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (len(queries), 1))
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        rows = np.take_along_axis(top, order, axis=1)
        return self._ids[rows], np.take_along_axis(top_scores, order, axis=1).astype(np.float32)

    def _apply_add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        last = {int(item_id): row for row, item_id in enumerate(ids)}  # the last vector of a repeated id wins
        ids, vectors = ids[list(last.values())], vectors[list(last.values())]
        known = np.fromiter((int(i) in self._row for i in ids), dtype=bool, count=len(ids))
        for item_id, vector in zip(ids[known], vectors[known], strict=True):
            self._vectors[self._row[int(item_id)]] = vector
        new_ids, new_vectors = ids[~known], vectors[~known]
        start = len(self._row)
        self._reserve(start + len(new_ids))
        self._vectors[start : start + len(new_ids)] = new_vectors
        self._ids[start : start + len(new_ids)] = new_ids
        self._row.update((int(item_id), start + offset) for offset, item_id in enumerate(new_ids))
        if self._graph is not None:
            self._graph_add(ids, vectors)
        elif len(self._row) >= self.exact_below:
            self._build_graph()

    def _apply_remove(self, ids: np.ndarray) -> None:
        for item_id in (int(i) for i in ids):
            row = self._row.pop(item_id, None)
            if row is None:
                continue
            last = len(self._row)
            if row != last:  # move the last row into the hole
                moved = int(self._ids[last])
                self._ids[row], self._vectors[row] = moved, self._vectors[last]
                self._row[moved] = row
            if self._graph is not None:
                self._scrub_from_graph(item_id)

    def _scrub_from_graph(self, item_id: int) -> None:
        """Hide an id from graph search and overwrite its stored vector (an erased customer leaves no embedding)."""
        noise = np.random.default_rng().standard_normal((1, self.dim)).astype(np.float32)
        self._graph.add_items(noise / np.linalg.norm(noise), np.asarray([item_id]), num_threads=1)
        self._graph.mark_deleted(item_id)

    def _reserve(self, size: int) -> None:
        if size <= len(self._ids):
            return
        capacity = max(size, 2 * len(self._ids), 64)
        vectors = np.zeros((capacity, self.dim), dtype=np.float32)
        ids = np.zeros(capacity, dtype=np.int64)
        vectors[: len(self._row)] = self._vectors[: len(self._row)]
        ids[: len(self._row)] = self._ids[: len(self._row)]
        self._vectors, self._ids = vectors, ids

    def _graph_add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        needed = self._graph.element_count + len(ids)
        if needed > self._graph.max_elements:
            self._graph.resize_index(max(needed, 2 * self._graph.max_elements))
        self._graph.add_items(vectors, ids, num_threads=self.threads)

    def _build_graph(self) -> None:
        import hnswlib

        n = len(self._row)
        log.info("building the HNSW graph of %s over %d vectors", self.path.name, n)
        graph = hnswlib.Index(space="ip", dim=self.dim)
        graph.init_index(max_elements=max(2 * n, 1024), ef_construction=self.ef_construction, M=self.m)
        self._graph = graph
        self._graph_add(self._ids[:n], self._vectors[:n])

    def _journal(self, op: int, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        records = np.zeros(len(ids), dtype=self._record)
        records["op"], records["id"], records["vector"] = op, ids, vectors
        journal = self.files[2]
        journal.parent.mkdir(parents=True, exist_ok=True)
        with journal.open("ab") as handle:
            handle.write(records.tobytes())
            size = handle.tell()
        if size // self._record.itemsize > max(COMPACT_AFTER, len(self._row)):
            self.save()

    def _load(self) -> None:
        snapshot, graph_file, journal = self.files
        graph_sha = self._load_snapshot(snapshot)
        if len(self._row) >= self.exact_below:
            self._load_graph(graph_file, graph_sha)
        if journal.exists():
            self._replay(journal)

    def _load_snapshot(self, snapshot: Path) -> str:
        if not snapshot.exists():
            return ""
        try:
            with np.load(snapshot, allow_pickle=False) as data:
                ids, vectors, graph_sha = data["ids"], data["vectors"], str(data["graph_sha"])
            if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(ids) != len(vectors):
                raise ValueError(f"shape {vectors.shape} does not fit dim {self.dim}")
        except (OSError, ValueError, KeyError, EOFError) as exc:
            log.warning("vector snapshot %s is unreadable (%s); starting it empty", snapshot, exc)
            return ""
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._ids = ids.astype(np.int64)
        self._row = {int(item_id): row for row, item_id in enumerate(self._ids)}
        return graph_sha

    def _load_graph(self, graph_file: Path, graph_sha: str) -> None:
        import hnswlib

        if graph_file.exists() and graph_sha and _sha(graph_file) == graph_sha:
            graph = hnswlib.Index(space="ip", dim=self.dim)
            try:
                graph.load_index(str(graph_file), max_elements=2 * len(self._row))
                self._graph = graph
                return
            except RuntimeError as exc:
                log.warning("HNSW graph %s would not load (%s)", graph_file, exc)
        log.warning("HNSW graph %s is missing, corrupt or stale: rebuilding it from %d vectors", graph_file, len(self))
        self._build_graph()
        self.save()

    def _replay(self, journal: Path) -> None:
        raw = journal.read_bytes()
        whole = len(raw) // self._record.itemsize * self._record.itemsize
        if whole != len(raw):
            log.warning("journal %s ends with a torn record; ignoring its last %d bytes", journal, len(raw) - whole)
        records = np.frombuffer(raw[:whole], dtype=self._record)
        starts = [0, *(np.flatnonzero(np.diff(records["op"])) + 1).tolist(), len(records)]
        for start, end in itertools.pairwise(starts):  # runs of the same operation, in order
            run = records[start:end]
            if run["op"][0] == _ADD:
                self._apply_add(run["id"].astype(np.int64), np.ascontiguousarray(run["vector"], dtype=np.float32))
            else:
                self._apply_remove(run["id"].astype(np.int64))
        if len(records):
            log.info("replayed %d journal records into %s", len(records), self.path.name)


def _sha(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
