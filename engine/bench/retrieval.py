"""Retrieval bench: index DOCS with the product's knowledge-base pipeline and rank each query's gold document."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.knowledge.documents import DocumentSpec
from engine.knowledge.knowledge_base import KnowledgeBase
from engine.nlp.embedder import MiniLMEmbedder
from engine.store.db import make_db

log = logging.getLogger(__name__)

RANK_DEPTH = 10  # documents looked at per query for MRR; a gold document ranked lower counts 0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file (blank lines skipped); ValueError naming the line when one is not JSON."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
    return rows


def run(*, docs: Path, queries: Path) -> dict[str, Any]:
    """Recall@1/@5, MRR and per-query latency (query embedding included) of hybrid search over `docs`."""
    doc_rows, query_rows = read_jsonl(docs), read_jsonl(queries)
    embedder = MiniLMEmbedder()
    embedder.load()
    with tempfile.TemporaryDirectory(prefix="caredesk-bench-") as tmp:
        kb = KnowledgeBase(make_db(f"sqlite:///{tmp}/bench.db"), embedder, Path(tmp) / "index")
        start = time.perf_counter()
        for row in doc_rows:
            text = str(row["text"])
            title = str(row.get("title") or text.strip().split("\n", 1)[0][:120])
            kb.add_document(DocumentSpec(key=str(row["id"]), title=title, text=text, source=docs.name))
        kb.ensure_index()
        index_seconds = time.perf_counter() - start
        log.info("indexed %d documents in %.1f s", len(doc_rows), index_seconds)
        kb.search("warm up", k=1)
        ranks, latencies = [], []
        for row in query_rows:
            start = time.perf_counter()
            hits = kb.search(str(row["query"]), k=RANK_DEPTH)
            latencies.append((time.perf_counter() - start) * 1000)
            keys = [hit.document_key for hit in hits]
            ranks.append(keys.index(str(row["gold_id"])) + 1 if str(row["gold_id"]) in keys else 0)
    found = np.array(ranks)
    return {
        "documents": len(doc_rows),
        "queries": len(query_rows),
        "recall_at_1": round(float(np.mean(found == 1)), 4),
        "recall_at_5": round(float(np.mean((found >= 1) & (found <= 5))), 4),
        "mrr": round(float(np.mean(np.where(found > 0, 1.0 / np.maximum(found, 1), 0.0))), 4),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "index_seconds": round(index_seconds, 2),
        "embedder": embedder.name,
    }
