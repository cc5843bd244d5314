"""The real embedder: replicas, bfloat16 and the child process give the vectors one float32 model gives, in order."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from engine.nlp.embedder import MiniLMEmbedder
from engine.nlp.embedding_process import ProcessEmbedder

TEXTS = [
    "where is my parcel",
    "I was charged twice for the same order and nobody answers my emails, I want the money back today",
    "reset my password",
    "hi",
    "My card was declined at the shop although there is enough money on the account. What is going on?",
] * 7


@pytest.mark.real_models
def test_parallel_bfloat16_vectors_match_one_float32_model_row_by_row() -> None:
    reference = MiniLMEmbedder(workers=1, bfloat16=False).encode(TEXTS, batch_size=4)
    fast = MiniLMEmbedder(workers=2).encode(TEXTS, batch_size=4)  # bfloat16 where the CPU has it

    assert fast.shape == reference.shape == (len(TEXTS), 384)
    assert fast.dtype == np.float32
    cosine = (fast * reference).sum(axis=1)
    assert cosine.min() > 0.999
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-3)
    # each row is its own text's vector: unrelated texts stay apart
    assert float(fast[0] @ fast[2]) < 0.9
    assert np.allclose(fast[0], fast[5], atol=1e-3)


@pytest.mark.real_models
def test_the_embedding_process_gives_the_same_vectors_and_the_app_carries_on_when_it_dies() -> None:
    local = MiniLMEmbedder(workers=1)
    embedder = ProcessEmbedder(local, min_texts=len(TEXTS))
    try:
        embedder.load()
        here = local.encode(TEXTS, batch_size=8)
        in_child = embedder.encode(TEXTS, batch_size=8)
        assert float((in_child * here).sum(axis=1).min()) > 0.9999

        for process in list(embedder._pool._processes.values()):  # type: ignore[union-attr]
            os.kill(process.pid, signal.SIGKILL)
        after = embedder.encode(TEXTS, batch_size=8)  # embedded in this process now
        assert np.allclose(after, here, atol=1e-5)
    finally:
        embedder.close()
