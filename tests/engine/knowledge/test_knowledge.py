"""Knowledge base: chunking, file loading, hybrid search, index repair, vector index and similar tickets."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from engine.config import DEMO_DATA_DIR
from engine.knowledge.chunking import chunk_document
from engine.knowledge.demo_kb import abcd_documents
from engine.knowledge.documents import DocumentError, DocumentSpec, load_file, load_folder
from engine.knowledge.knowledge_base import KnowledgeBase
from engine.knowledge.similar_tickets import SimilarTickets
from engine.knowledge.vector_index import VectorIndex
from engine.nlp.embedder import HashingEmbedder, MiniLMEmbedder
from engine.store.db import make_db

RETURNS = DocumentSpec(
    key="help/returns.md",
    title="Returns and refunds",
    text="# Returns and refunds\n\n## Return window\n\nYou can return an unworn item within 30 days of delivery "
    "for a full refund.\n\n## Refund method\n\nRefunds go back to the original card within 5 business days.",
)
SHIPPING = DocumentSpec(
    key="help/shipping.md",
    title="Shipping and delivery",
    text="# Shipping and delivery\n\nStandard shipping takes 3 to 5 business days. Express shipping arrives the next "
    "day when ordered before noon. Track your parcel with the tracking link in the confirmation email.",
)
PASSWORD = DocumentSpec(
    key="help/password.md",
    title="Reset your password",
    text="# Reset your password\n\nClick 'Forgot password' on the sign-in page and follow the link we email you. "
    "The link expires after one hour.",
)


class CountingEmbedder(HashingEmbedder):
    """The hashing fake, counting the texts it was asked to embed."""

    def __init__(self) -> None:
        self.embedded = 0

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        self.embedded += len(texts)
        return super().encode(texts, batch_size, show_progress)


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_db(f"sqlite:///{tmp_path / 'kb.db'}")


@pytest.fixture
def kb(db, tmp_path: Path) -> KnowledgeBase:  # type: ignore[no-untyped-def]
    knowledge = KnowledgeBase(db, CountingEmbedder(), tmp_path / "index")
    for spec in (RETURNS, SHIPPING, PASSWORD):
        knowledge.add_document(spec)
    return knowledge


def _fts_rows(db, chunk_ids: list[int]) -> int:  # type: ignore[no-untyped-def]
    with db.connect() as conn:
        rows = conn.execute(text("SELECT rowid FROM knowledge_fts")).all()
    return len({row[0] for row in rows} & set(chunk_ids))


def test_chunks_follow_the_heading_path_and_respect_the_size_limit() -> None:
    long_section = " ".join(f"Sentence number {i} explains one more detail of the policy." for i in range(40))
    markdown = (
        f"# Guide\n\nIntro line.\n\n## Returns\n\nShort rule.\n\n### By mail\n\n{long_section}\n\n## Fees\n\nNone."
    )

    chunks = chunk_document("Guide", markdown, max_words=60)

    assert [c.heading for c in chunks[:3]] == ["", "Returns", "Returns > By mail"]
    assert chunks[-1].heading == "Fees" and chunks[-1].text == "None."
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(len(c.text.split()) <= 60 for c in chunks)
    by_mail = " ".join(c.text for c in chunks if c.heading == "Returns > By mail")
    assert by_mail.split() == long_section.split()  # nothing lost or repeated when a section is cut


def test_html_keeps_headings_and_drops_scripts() -> None:
    html = (
        "<html><head><title>x</title><style>p {color: red}</style></head><body>"
        "<h2>Exchanges</h2><p>Swap a size in store &amp; online.</p><script>alert('no')</script></body></html>"
    )

    chunks = chunk_document("Help", html)

    assert [(c.heading, c.text) for c in chunks] == [("Exchanges", "Swap a size in store & online.")]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("../../etc/passwd.md", b"# hi", "not an acceptable file name"),
        ("empty.md", b"  \n", "empty"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "could not be read"),
        ("big.txt", b"x" * (21 * 1024 * 1024), "limit"),
        ("tool.exe", b"MZ", "unsupported file type"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(name: str, data: bytes, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        load_file(name, data)


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF with these lines of Helvetica text, written by hand."""
    content = "BT /F1 12 Tf 72 720 Td " + " ".join(f"({line}) Tj 0 -16 Td" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    return out + f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()


def test_a_pdf_becomes_a_searchable_document(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = load_file("policies/refunds.pdf", _pdf(["Refund policy", "Returns are accepted within 30 days."]))
    kb = KnowledgeBase(db, HashingEmbedder(), tmp_path / "index")
    kb.add_document(spec)

    hit = kb.search("are returns accepted within 30 days", k=1)[0]

    assert spec.key == "policies/refunds.pdf" and spec.title == "Refunds"
    assert hit.document_key == spec.key and "within 30 days" in hit.text


def test_a_folder_loads_good_files_and_reports_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "returns.md").write_text("# Returns\n\nThirty days.")
    (tmp_path / "page.html").write_text("<h1>Sizes</h1><p>Our jeans run small.</p>")
    (tmp_path / "empty.txt").write_text("")

    specs, errors = load_folder(tmp_path)

    assert {(s.key, s.title) for s in specs} == {("faq/returns.md", "Returns"), ("page.html", "Sizes")}
    assert len(errors) == 1 and "empty" in str(errors[0])


def test_hybrid_search_finds_the_right_document(kb: KnowledgeBase) -> None:
    hits = kb.search("how many days do I have to return an item for a refund", k=3)

    assert hits[0].document_key == "help/returns.md"
    assert hits[0].heading == "Return window" and "30 days" in hits[0].text
    assert len({h.document_id for h in hits}) == len(hits)  # one passage per document
    assert kb.search("forgot password link", k=1)[0].title == "Reset your password"


def test_search_uses_the_given_query_vector_instead_of_embedding_again(kb: KnowledgeBase) -> None:
    embedder = kb._embedder
    assert isinstance(embedder, CountingEmbedder)
    vector = embedder.encode(["express shipping next day"])[0]
    before = embedder.embedded

    hits = kb.search("express shipping next day", k=1, query_vector=vector)

    assert hits[0].document_key == "help/shipping.md"
    assert embedder.embedded == before


def test_adding_an_unchanged_document_does_not_reindex(kb: KnowledgeBase) -> None:
    embedder = kb._embedder
    assert isinstance(embedder, CountingEmbedder)
    document_id = next(d.id for d in kb.documents() if d.key == RETURNS.key)
    assert document_id is not None
    chunk_ids = [c.id for c in kb.chunks(document_id)]
    before = embedder.embedded

    assert kb.add_document(RETURNS) == document_id
    assert embedder.embedded == before
    assert [c.id for c in kb.chunks(document_id)] == chunk_ids

    changed = DocumentSpec(RETURNS.key, RETURNS.title, RETURNS.text.replace("30 days", "60 days"))
    assert kb.add_document(changed) == document_id
    assert embedder.embedded > before
    assert kb.search("return window days", k=1)[0].text.count("60 days") == 1
    assert _fts_rows(kb._db, [i for i in chunk_ids if i is not None]) == 0  # old rows gone


def test_removing_a_document_deletes_its_chunks_vectors_and_fulltext_rows(kb: KnowledgeBase) -> None:
    document_id = next(d.id for d in kb.documents() if d.key == SHIPPING.key)
    assert document_id is not None
    chunk_ids = [c.id for c in kb.chunks(document_id) if c.id is not None]
    assert _fts_rows(kb._db, chunk_ids) == len(chunk_ids) > 0

    assert kb.remove_document(SHIPPING.key) is True

    assert kb.chunks(document_id) == []
    assert SHIPPING.key not in {d.key for d in kb.documents()}
    assert _fts_rows(kb._db, chunk_ids) == 0
    assert not any(i in kb._chunk_vectors for i in chunk_ids)
    assert all(h.document_key != SHIPPING.key for h in kb.search("express shipping tracking parcel", k=5))
    assert kb.remove_document(SHIPPING.key) is False


def test_a_corrupt_index_file_is_rebuilt_on_startup(db, kb: KnowledgeBase, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    snapshot = kb._chunk_vectors.files[0]
    kb._chunk_vectors.save()
    snapshot.write_bytes(b"this is not a numpy file")
    kb._chunk_vectors.files[2].unlink(missing_ok=True)

    with caplog.at_level(logging.WARNING):
        reopened = KnowledgeBase(db, HashingEmbedder(), tmp_path / "index")
        repaired = reopened.ensure_index()

    assert repaired == len(reopened._owner) > 0
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    assert reopened.search("reset password link", k=1)[0].document_key == PASSWORD.key


def test_vector_index_rebuilds_a_corrupt_graph_from_its_vectors(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(tmp_path / "v", 16, exact_below=100)
    index.add(list(range(1000, 1300)), vectors)
    index.save()
    expected = index.search(vectors[:5], 3)[0]
    index.files[1].write_bytes(b"\x00" * 64)

    with caplog.at_level(logging.WARNING):
        reopened = VectorIndex(tmp_path / "v", 16, exact_below=100)

    assert len(reopened) == 300
    assert np.array_equal(reopened.search(vectors[:5], 3)[0], expected)
    assert "rebuilding" in caplog.text


def test_vector_index_graph_matches_exact_search_and_grows(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = VectorIndex(tmp_path / "exact", 32, exact_below=10**9)
    graph = VectorIndex(tmp_path / "graph", 32, exact_below=50, ef_search=200)
    for start in range(0, 3000, 500):  # the graph starts small and must resize as vectors arrive
        exact.add(range(start, start + 500), vectors[start : start + 500])
        graph.add(range(start, start + 500), vectors[start : start + 500])
    graph.remove(range(0, 100))
    exact.remove(range(0, 100))

    ids_exact, scores_exact = exact.search(vectors[100:150], 5)
    ids_graph, _ = graph.search(vectors[100:150], 5)

    assert np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ids_exact, ids_graph, strict=True)]) > 0.95
    assert np.allclose(scores_exact[:, 0], 1.0, atol=1e-5)  # each vector finds itself first
    assert not set(graph.search(vectors[:100], 5)[0].ravel().tolist()) & set(range(100))


def test_a_removed_vector_is_gone_from_every_index_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(200, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(tmp_path / "graph", 32, exact_below=50)
    index.add(range(200), vectors)
    index.save()
    files = [f for f in index.files if f.exists()]
    assert any(vectors[7].tobytes() in f.read_bytes() for f in files)  # the check below can fail

    index.remove([7])
    index.save()

    assert not any(vectors[7].tobytes() in f.read_bytes() for f in index.files if f.exists())
    assert 7 not in VectorIndex(tmp_path / "graph", 32, exact_below=50).search(vectors[7], 5)[0].ravel().tolist()


def test_similar_tickets_persist_exclude_and_forget(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    texts = ["where is my parcel it has not arrived", "my parcel never arrived where is it", "change my password"]
    vectors = embedder.encode(texts)
    tickets = SimilarTickets(tmp_path, embedder.dim)
    for ticket_id, vector in zip((11, 12, 13), vectors, strict=True):
        tickets.add(ticket_id, vector)

    reopened = SimilarTickets(tmp_path, embedder.dim)  # no save(): the journal alone keeps the adds
    hits = reopened.search(vectors[0], k=2, exclude=11)

    assert [ticket_id for ticket_id, _ in hits] == [12, 13]
    assert hits[0][1] > hits[1][1]
    assert reopened.remove(12) is True and reopened.remove(12) is False
    reopened.save()
    assert [t for t, _ in SimilarTickets(tmp_path, embedder.dim).search(vectors[0], k=5)] == [11, 13]


def test_demo_kb_has_one_article_per_subflow_with_policy_and_steps() -> None:
    documents = abcd_documents(DEMO_DATA_DIR / "abcd_guidelines")

    assert len(documents) == 55
    by_key = {d.key: d for d in documents}
    returns = by_key["abcd/Product Defect/Return Due to Size"]
    assert returns.title == "Return Due to Size"
    assert "## Policy" in returns.text and "## Steps" in returns.text
    assert "within the last 90 days" in returns.text and "<or>" not in returns.text
    assert "Required actions: Pull up account → Validate purchase" in returns.text
    headings = {c.heading for c in chunk_document(returns.title, returns.text)}
    assert {"Policy", "Steps"} <= headings


@pytest.mark.real_models
def test_minilm_finds_the_return_policy_in_the_demo_kb(tmp_path: Path) -> None:
    kb = KnowledgeBase(make_db(f"sqlite:///{tmp_path / 'kb.db'}"), MiniLMEmbedder(), tmp_path / "index")
    for spec in abcd_documents(DEMO_DATA_DIR / "abcd_guidelines"):
        kb.add_document(spec)

    hits = kb.search("how long do I have to return an item", k=3)

    assert hits[0].title.startswith(("Return", "Refund", "Initiate Refund", "Policy"))
    assert any("days" in hit.text for hit in hits)
