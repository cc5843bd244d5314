"""Similar-ticket search at scale: HNSW recall@10 against exact search, latency and memory on vectors of real texts.

A few thousand real support texts (Bitext, Banking77, CLINC150, TWCS inbound tweets from ../shared/data) are
embedded once (cached), then copied with small Gaussian noise and renormalised until there are n vectors.
Queries are fresh noisy copies that are not in the index.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import REPO_ROOT
from engine.knowledge.similar_tickets import SimilarTickets
from engine.nlp.embedder import MiniLMEmbedder

log = logging.getLogger(__name__)

SHARED_DATA = Path(os.environ.get("CAREDESK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
CACHE_DIR = Path(tempfile.gettempdir()) / "caredesk-cache"
TEXTS_PER_SOURCE = 2000
NOISE = 0.02  # per-dimension standard deviation: a noisy copy keeps a cosine of about 0.93 to its text
QUERIES = 1000
BATCH = 20_000
K = 10


def real_texts(per_source: int = TEXTS_PER_SOURCE, seed: int = 0) -> list[str]:
    """Up to `per_source` distinct texts from each support data set in the shared data folder."""
    rng = np.random.default_rng(seed)
    sources = {
        "bitext": lambda: _csv_column(
            SHARED_DATA / "bitext_customer_support" / "Bitext_Sample_Customer_Support_Training_Dataset.csv",
            "instruction",
        ),
        "banking77": lambda: _csv_column(SHARED_DATA / "banking77" / "train.csv", "text"),
        "clinc150": lambda: [
            pair[0]
            for pair in json.loads((SHARED_DATA / "clinc150" / "data_full_train_only.json").read_text())["train"]
        ],
        "twcs": lambda: _csv_column(SHARED_DATA / "twcs" / "twcs_random5000.csv", "text", only=("inbound", "True")),
    }
    texts: list[str] = []
    for name, load in sources.items():
        try:
            pool = sorted(set(t.strip() for t in load() if t.strip()))
        except (OSError, KeyError, ValueError) as exc:
            log.warning("skipping %s: %s", name, exc)
            continue
        texts += [pool[i] for i in rng.choice(len(pool), size=min(per_source, len(pool)), replace=False)]
    if not texts:
        raise FileNotFoundError(f"no texts found under {SHARED_DATA}")
    return texts


def run(*, n: int) -> dict[str, Any]:
    """Build the similar-ticket index over n vectors and compare its top-10 with exact search."""
    base = _embedded(real_texts())
    rng = np.random.default_rng(1)
    vectors = _noisy(base[rng.integers(0, len(base), size=n)], rng)
    queries = _noisy(base[rng.integers(0, len(base), size=QUERIES)], rng)
    log.info("%d vectors from %d real texts, %d held-out queries", n, len(base), QUERIES)
    rss_before = _rss_mb()
    with tempfile.TemporaryDirectory(prefix="caredesk-ann-") as tmp:
        tickets = SimilarTickets(Path(tmp), base.shape[1])
        start = time.perf_counter()
        for offset in range(0, n, BATCH):
            tickets.add_many(range(offset, min(n, offset + BATCH)), vectors[offset : offset + BATCH])
            log.info("indexed %d / %d", min(n, offset + BATCH), n)
        tickets.save()
        build_seconds = time.perf_counter() - start
        rss_after = _rss_mb()
        latencies, found = [], []
        for query in queries:
            start = time.perf_counter()
            hits = tickets.search(query, k=K)
            latencies.append((time.perf_counter() - start) * 1000)
            found.append([ticket_id for ticket_id, _ in hits])
        index_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20
    recall = float(
        np.mean([len(set(got) & set(exact)) / K for got, exact in zip(found, _exact(vectors, queries), strict=True)])
    )
    return {
        "n": n,
        "base_texts": len(base),
        "build_seconds": round(build_seconds, 1),
        "recall_at_10": round(recall, 4),
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p95_ms": round(float(np.percentile(latencies, 95)), 3),
        "rss_mb": round(rss_after, 1),
        "index_rss_mb": round(rss_after - rss_before, 1),
        "index_disk_mb": round(index_mb, 1),
    }


def _embedded(texts: list[str]) -> np.ndarray:
    """MiniLM vectors of the texts, cached as .npy so the bench embeds each text set once."""
    embedder = MiniLMEmbedder()
    key = hashlib.blake2b("\n".join([embedder.name, *texts]).encode(), digest_size=8).hexdigest()
    cache = CACHE_DIR / f"ann-texts-{key}.npy"
    if cache.is_file():
        return np.load(cache)
    log.info("embedding %d texts (cached afterwards in %s)", len(texts), cache)
    vectors = embedder.encode(texts, batch_size=64)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def _noisy(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = vectors + rng.normal(0.0, NOISE, size=vectors.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def _exact(vectors: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    """Ground truth: the exact top-K ids by inner product, in blocks to bound memory."""
    out: list[list[int]] = []
    for start in range(0, len(queries), 100):
        scores = queries[start : start + 100] @ vectors.T
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        out += [row.tolist() for row in top]
    return out


def _csv_column(path: Path, column: str, only: tuple[str, str] | None = None) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle) if only is None or row.get(only[0]) == only[1]]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
