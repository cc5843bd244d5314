"""Draft bench: n demo tickets drafted against the demo knowledge base, timed against plain llama-cpp-python."""

from __future__ import annotations

import csv
import logging
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import DEMO_DATA_DIR, Settings
from engine.drafting import GENERATION, CachingEmbedder, DraftResult, LlamaDrafter, sources_from_hits
from engine.knowledge.demo_kb import abcd_documents
from engine.knowledge.knowledge_base import KnowledgeBase
from engine.nlp.embedder import MiniLMEmbedder
from engine.store.db import make_db

log = logging.getLogger(__name__)

SEED = 20240909
TICKETS_CSV = DEMO_DATA_DIR / "bitext_customer_support" / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
KB_FOLDER = DEMO_DATA_DIR / "abcd_guidelines"


def demo_messages(n: int, *, seed: int = SEED, path: Path = TICKETS_CSV) -> list[str]:
    """A fixed-seed sample of n customer messages (the `instruction` column), duplicates removed."""
    with path.open(encoding="utf-8", newline="") as handle:
        texts = list(dict.fromkeys(row["instruction"].strip() for row in csv.DictReader(handle)))
    return random.Random(seed).sample(texts, min(n, len(texts)))


def run(*, n: int) -> dict[str, Any]:
    """Draft n demo tickets; report time to first token, prompt size, generation speed and grounding rates."""
    settings = Settings.load()
    messages = demo_messages(n)
    embedder = MiniLMEmbedder()
    embedder.load()
    with tempfile.TemporaryDirectory(prefix="caredesk-draft-bench-") as tmp:
        kb = KnowledgeBase(make_db(f"sqlite:///{Path(tmp) / 'kb.db'}"), embedder, Path(tmp) / "index")
        for spec in abcd_documents(KB_FOLDER):
            kb.add_document(spec)
        log.info("demo knowledge base built: %d documents", len(kb.documents()))
        drafter = LlamaDrafter(
            settings.llm_path,
            n_threads=settings.llm_threads,
            n_ctx=settings.llm_context,
            max_tokens=settings.draft_max_tokens,
            embedder=CachingEmbedder(embedder),
        )
        drafter.load()
        plain = _plain_llama(settings)
        results: list[DraftResult] = []
        plain_runs: list[tuple[int, float, float]] = []
        for i, message in enumerate(messages, start=1):
            sources = sources_from_hits(kb.search(message, k=settings.retrieval_k))
            result = drafter.draft(customer_message=message, sources=sources)
            results.append(result)
            tokens = drafter.prompt_tokens(customer_message=message, sources=sources)
            plain_runs.append(_plain_generation(plain, tokens, max(result.completion_tokens, 2)))
            log.info(
                "%d/%d ttft %.0f ms, %d prompt tokens (%d cached), fallback=%s: %s",
                i,
                len(messages),
                result.ttft_ms,
                result.prompt_tokens,
                result.cached_prompt_tokens,
                result.is_fallback,
                message[:60],
            )
    return summarize(results, plain_runs)


def summarize(results: list[DraftResult], plain_runs: list[tuple[int, float, float]]) -> dict[str, Any]:
    """The bench's JSON: latency percentiles, speeds (drafter vs plain, same prompts) and grounding rates."""
    ttft = np.array([r.ttft_ms for r in results])
    claims = [s for r in results for s in r.sentence_support if not s.courtesy]
    model_claims = [s for r in results if not r.is_fallback for s in r.sentence_support if not s.courtesy]
    markers = [n for r in results for s in r.sentence_support for n in s.cited]
    valid = [n for r in results for s in r.sentence_support for n in s.cited if 1 <= n <= len(r.sources)]
    tps = _rate([(max(r.completion_tokens - 1, 0), r.generation_ms / 1000) for r in results])
    raw_tps = _rate([(tokens, seconds) for tokens, seconds, _ in plain_runs])
    return {
        "n": len(results),
        "ttft_p50_ms": round(float(np.percentile(ttft, 50)), 1),
        "ttft_p95_ms": round(float(np.percentile(ttft, 95)), 1),
        "plain_cold_ttft_p50_ms": round(float(np.median([ms for _, _, ms in plain_runs])), 1),
        "prompt_tokens_p50": float(np.median([r.prompt_tokens for r in results])),
        "new_prompt_tokens_p50": float(np.median([r.prompt_tokens - r.cached_prompt_tokens for r in results])),
        "tokens_per_second": tps,
        "raw_tokens_per_second": raw_tps,
        "speed_ratio": round(tps / raw_tps, 3) if raw_tps else 0.0,
        "citation_valid_rate": round(len(valid) / len(markers), 4) if markers else 1.0,
        "raw_citation_valid_rate": round(float(np.mean([r.raw_citation_valid_rate for r in results])), 4),
        "supported_sentence_rate": round(sum(s.supported for s in claims) / len(claims), 4) if claims else 0.0,
        "model_supported_sentence_rate": (
            round(sum(s.supported for s in model_claims) / len(model_claims), 4) if model_claims else 0.0
        ),
        "fallback_rate": round(sum(r.is_fallback for r in results) / len(results), 4) if results else 0.0,
        "latency_p50_ms": round(float(np.median([r.latency_ms for r in results])), 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _plain_llama(settings: Settings) -> Any:
    """A second, untouched llama-cpp-python model with the same settings: the speed baseline."""
    from llama_cpp import Llama

    return Llama(
        model_path=str(settings.llm_path),
        n_ctx=settings.llm_context,
        n_threads=settings.llm_threads,
        n_threads_batch=settings.llm_threads,
        verbose=False,
    )


def _plain_generation(llm: Any, tokens: list[int], max_tokens: int) -> tuple[int, float, float]:
    """Plain create_completion from an empty KV cache: (tokens after the first, seconds from first to last token,
    ms to the first token), counted as for the drafter."""
    llm.reset()
    started = time.perf_counter()
    first = last = 0.0
    for chunk in llm.create_completion(tokens, max_tokens=max_tokens, stream=True, **GENERATION):
        last = time.perf_counter()
        if not first and chunk["choices"][0]["text"]:
            first = last
    return max(llm.n_tokens - len(tokens) - 1, 0), last - first, (first - started) * 1000


def _rate(pairs: list[tuple[int, float]]) -> float:
    tokens = sum(t for t, _ in pairs)
    seconds = sum(s for _, s in pairs)
    return round(tokens / seconds, 1) if seconds > 0 else 0.0
