"""Right of access and right to erasure: export or delete everything CareDesk holds about one customer.

What belongs to a customer is found by following foreign keys from the customer row through every table
(tickets, then their messages, drafts, triage results, feedback, surveys, attachments, and any table added later
that points at one of them), plus dead letters that mention the customer's e-mail or handle, the original
attachment files, and the ticket vectors of the similar-ticket index.

Erasure deletes all of it in one transaction that also appends a tombstone to the audit log (customer id and
counts, no personal data). Then it removes the vectors and rewrites the index files, deletes attachment files no
other ticket shares, checkpoints the SQLite WAL and VACUUMs so freed pages keep no copy, and finally scans every
file under the data dir for fragments of the erased text and for the erased vectors the running app held:
`ErasureReport.leftover_files` names any file that still holds some (a saved model that kept training texts:
retrain it and delete its older versions; an HNSW graph file, which keeps deleted vectors until it is rebuilt).

Model files: the intent model is trained from the shipped demo labels plus the first customer message of tickets
agents confirmed (engine.feedback.training_data.confirmed_rows); those rows are read from the database at training
time, so erased tickets are gone from every later training run. What a saved model version keeps on disk is up to
the model registry; the leftover scan checks it after every erasure.
Audit rows are never deleted (the chain would break); they carry ids and decisions, not message text.
"""

from __future__ import annotations

import base64
import json
import logging
import mmap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Table, delete, func, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, SQLModel, col, select

from engine.feedback.retrain import retrain_after_erasure
from engine.feedback.training_data import training_texts
from engine.ingest.dead_letter_store import unpack_raw
from engine.knowledge.similar_tickets import SimilarTickets
from engine.nlp.embedder import DIM
from engine.privacy import audit
from engine.privacy.compaction import compact_database
from engine.privacy.erasure_models import ModelPurge, purge_models
from engine.privacy.file_crypto import read_decrypted
from engine.runtime import Engine
from engine.store.attachment_models import Attachment
from engine.store.audit_models import AuditEntry
from engine.store.models import Customer, DeadLetter, Message, Ticket, utcnow

log = logging.getLogger(__name__)

EXPORT_FORMAT = "caredesk-customer-export/1"
_ROOT = "customer"
_IN_CHUNK = 500  # ids per IN (...) list
_MIN_FRAGMENT_WORDS = 5
_MAX_FRAGMENT_CHARS = 120
_MAX_FRAGMENTS = 200
_MIN_CODE_CHARS = 6


class CustomerNotFound(LookupError):
    """No customer has this id (already erased, or never existed)."""


@dataclass
class ErasureReport:
    """What one erasure removed, and whether any file under the data dir still holds the customer's text."""

    customer_id: int
    rows: dict[str, int] = field(default_factory=dict)  # table name -> rows deleted
    vectors: int = 0
    attachment_files: int = 0
    audit_entry_id: int | None = None
    leftover_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    models: ModelPurge = field(default_factory=ModelPurge)

    @property
    def complete(self) -> bool:
        """True when no file under the data dir still holds a fragment of the erased text."""
        return not self.leftover_files

    def summary(self) -> str:
        """The report in a few lines for a person."""
        removed = ", ".join(f"{n} {table}" for table, n in self.rows.items() if n) or "nothing"
        lines = [
            f"Erased customer {self.customer_id}: {removed}.",
            f"Removed {self.vectors} ticket vectors and {self.attachment_files} attachment files.",
            f"Tombstone: audit row {self.audit_entry_id}.",
        ]
        if self.leftover_files:
            lines.append("Still holding fragments of this customer's text: " + ", ".join(self.leftover_files))
        else:
            lines.append("No file under the data dir still holds this customer's text.")
        return "\n".join(lines + self.notes)


@dataclass(frozen=True)
class CustomerMatch:
    """One customer found by `find_customers`, for the admin page's export and erase buttons."""

    id: int
    name: str
    email: str | None
    handle: str | None
    tickets: int


def find_customers(engine: Engine, query: str, *, limit: int = 20) -> list[CustomerMatch]:
    """Customers whose id equals `query` or whose name, e-mail or handle contains it."""
    term = query.strip()
    if not term:
        return []
    conditions = [
        col(field).contains(term, autoescape=True) for field in (Customer.name, Customer.email, Customer.handle)
    ]
    if term.isdigit():
        conditions.append(col(Customer.id) == int(term))
    tickets = select(func.count()).where(Ticket.customer_id == Customer.id).scalar_subquery()
    query_rows = select(Customer, tickets).where(or_(*conditions)).order_by(col(Customer.id)).limit(limit)
    with engine.session() as session:
        return [
            CustomerMatch(customer.id or 0, customer.name, customer.email, customer.handle, count)
            for customer, count in session.exec(query_rows)
        ]


def _pk(table: Table) -> Any | None:
    keys = list(table.primary_key.columns)
    return keys[0] if len(keys) == 1 else None


def _chunks(ids: Iterable[Any]) -> Iterable[list[Any]]:
    items = sorted(ids)
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def owned_rows(session: Session, customer_id: int) -> dict[Table, set[Any]]:
    """Primary keys of every row that belongs to the customer, per table, found through foreign keys."""
    if session.get(Customer, customer_id) is None:
        raise CustomerNotFound(f"no customer with id {customer_id}")
    tables = SQLModel.metadata.sorted_tables  # parents before children
    found: dict[Table, set[Any]] = {SQLModel.metadata.tables[_ROOT]: {customer_id}}
    for table in tables:
        pk = _pk(table)
        for fk in table.foreign_keys:
            parent_ids = found.get(fk.column.table)
            if not parent_ids or fk.column.table is table:
                continue
            if pk is None or _pk(fk.column.table) is not fk.column:
                log.warning("erasure cannot follow %s -> %s (not a single-column key)", table.name, fk.target_fullname)
                continue
            for chunk in _chunks(parent_ids):
                rows = session.connection().execute(core_select(pk).where(fk.parent.in_(chunk))).scalars()
                found.setdefault(table, set()).update(rows)
    return found


def _dead_letters_mentioning(session: Session, customer: Customer) -> list[int]:
    """Ids of dead letters whose raw input (text or binary) contains the customer's e-mail or handle."""
    terms = [term.lower().encode("utf-8") for term in (customer.email, customer.handle) if term and len(term) >= 4]
    if not terms:
        return []
    rows = session.exec(select(DeadLetter.id, DeadLetter.raw).order_by(col(DeadLetter.id)))
    return [i for i, raw in rows if i is not None and any(t in unpack_raw(raw).lower() for t in terms)]


def _fragments(texts: Iterable[str]) -> list[str]:
    """Per text: its longest run of at least five words without digits or '@' (what survives redaction), and every
    word of 6+ characters holding a digit (an order number, a code: what a raw copy or a model's vocabulary keeps)."""
    out: list[str] = []
    for body in texts:
        best: list[str] = []
        run: list[str] = []
        for word in [*body.split(), "@"]:
            if "@" in word or any(ch.isdigit() for ch in word):
                best = run if len(run) > len(best) else best
                run = []
            else:
                run.append(word)
        if len(best) >= _MIN_FRAGMENT_WORDS:
            out.append(" ".join(best)[:_MAX_FRAGMENT_CHARS].rsplit(" ", 1)[0])
        codes = [_code(word) for word in body.split()]
        out += [code for code in codes if len(code) >= _MIN_CODE_CHARS and _is_code(code)]
    return list(dict.fromkeys(out))[:_MAX_FRAGMENTS]


def _code(word: str) -> str:
    return word.strip(".,;:!?()[]{}<>\"'")


def _is_code(word: str) -> bool:
    """A word that names one thing: it has a digit, and a letter too or 8+ characters (not a date or an amount)."""
    return "@" not in word and any(c.isdigit() for c in word) and (any(c.isalpha() for c in word) or len(word) >= 8)


def _needles(strings: Iterable[str]) -> list[bytes]:
    """Byte patterns to look for in files: UTF-8, and the \\u-escaped form JSON files use."""
    needles: list[bytes] = []
    for value in strings:
        needles.append(value.encode("utf-8"))
        escaped = json.dumps(value)[1:-1].encode("ascii")
        if escaped != needles[-1]:
            needles.append(escaped)
    return list(dict.fromkeys(needles))


def files_containing(root: Path, needles: Sequence[bytes]) -> list[str]:
    """Paths (relative to `root`) of the files under `root` holding any of `needles`."""
    hits: list[str] = []
    if not needles or not root.is_dir():
        return hits
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            with path.open("rb") as handle:
                if path.stat().st_size == 0:
                    continue
                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                    if any(data.find(needle) != -1 for needle in needles):
                        hits.append(path.relative_to(root).as_posix())
        except (OSError, ValueError) as exc:
            log.warning("could not scan %s: %s", path, exc)
    return hits


def _similar_index(engine: Engine) -> SimilarTickets | None:
    """The running app's similar-ticket index, or the one on disk when the models are not loaded (CLI)."""
    if engine.services is not None and engine.services.similar is not None:
        return engine.services.similar
    index_dir = engine.settings.data_dir / "index" / "tickets"
    return SimilarTickets(index_dir, DIM) if index_dir.is_dir() else None


def _remove_vectors(engine: Engine, ticket_ids: set[int]) -> tuple[int, list[bytes]]:
    """Forget the tickets' vectors; returns how many the index held and the float32 bytes of those in memory."""
    erased: list[bytes] = []
    if engine.services is not None:
        for ticket_id in ticket_ids:
            vector = engine.services.vectors.pop(ticket_id, None)
            if vector is not None:
                erased.append(np.asarray(vector, dtype=np.float32).tobytes())
    similar = _similar_index(engine)
    if similar is None:
        return 0, erased
    removed = sum(similar.remove(ticket_id) for ticket_id in sorted(ticket_ids))
    similar.save()  # rewrites the snapshot without them and empties the journal
    return removed, erased


def _remove_files(engine: Engine, paths: set[str]) -> int:
    """Delete attachment originals that no remaining attachment row shares (files are content-addressed)."""
    removed = 0
    with engine.session() as session:
        for relative in sorted(paths):
            if session.exec(select(func.count()).select_from(Attachment).where(Attachment.path == relative)).one():
                continue
            path = engine.settings.data_dir / relative
            if path.is_file():
                path.unlink()
                removed += 1
    return removed


def _unique_name(session: Session, customer: Customer) -> str | None:
    """The customer's name, when it is long enough to look for and no other customer has it."""
    name = customer.name.strip()
    if len(name) < _MIN_CODE_CHARS:
        return None
    others = select(func.count()).where(Customer.name == name, Customer.id != customer.id)
    return name if not session.exec(others).one() else None


def _shared_fragments(session: Session, fragments: list[str]) -> set[str]:
    """Fragments other customers' remaining messages also contain (not this customer's to erase).

    Bodies are encrypted, so SQL cannot search them: each remaining body is decrypted once and searched here.
    """
    pending, shared = set(fragments), set()
    bodies = session.exec(select(Message.body).execution_options(yield_per=_IN_CHUNK))
    for body in bodies:
        if not pending:
            break
        found = {fragment for fragment in pending if fragment in body}
        shared |= found
        pending -= found
    return shared


def _rows_of(session: Session, table: Table, ids: set[Any]) -> list[Any]:
    pk = _pk(table)
    assert pk is not None
    rows = [
        row for chunk in _chunks(ids) for row in session.connection().execute(core_select(table).where(pk.in_(chunk)))
    ]
    return sorted(rows, key=lambda row: row._mapping[pk.name])


def erase_customer(engine: Engine, customer_id: int, *, actor: str = "system") -> ErasureReport:
    """Delete everything held about a customer, leave an audit tombstone, and report what was removed."""
    report = ErasureReport(customer_id=customer_id)
    tables = SQLModel.metadata.tables
    with engine.transaction() as session:
        found = owned_rows(session, customer_id)
        customer = session.get(Customer, customer_id)
        assert customer is not None
        bodies = [row.body for row in _rows_of(session, tables["message"], found.get(tables["message"], set()))]
        attachments = _rows_of(session, tables["attachment"], found.get(tables["attachment"], set()))
        bodies += [text for row in attachments for text in (row.extracted_text, row.filename) if text]
        paths = {row.path for row in attachments}
        ticket_ids = {int(i) for i in found.get(tables["ticket"], set())}
        identifiers = [term for term in (customer.email, customer.handle, _unique_name(session, customer)) if term]
        trained_texts = training_texts(session, sorted(ticket_ids))
        dead_letters = _dead_letters_mentioning(session, customer)
        for table in reversed(SQLModel.metadata.sorted_tables):  # children before parents
            pk = _pk(table)
            if table in found and pk is not None:
                for chunk in _chunks(found[table]):
                    session.connection().execute(delete(table).where(pk.in_(chunk)))
                report.rows[table.name] = len(found[table])
        if dead_letters:
            session.exec(delete(DeadLetter).where(col(DeadLetter.id).in_(dead_letters)))
            report.rows["deadletter"] = len(dead_letters)
        fragments = _fragments(bodies)
        shared = _shared_fragments(session, fragments)
        tombstone = audit.append(
            session,
            actor=actor,
            action="erase_customer",
            subject=f"customer:{customer_id}",
            details={"rows": report.rows},
        )
        report.audit_entry_id = tombstone.id
    report.vectors, erased_vectors = _remove_vectors(engine, ticket_ids)
    report.attachment_files = _remove_files(engine, paths)
    needles = _needles([*sorted(set(fragments) - shared), *identifiers]) + erased_vectors
    report.models = purge_models(
        engine.settings.models_dir,
        trained_texts,
        holds_needles=lambda folder: bool(files_containing(folder, needles)),
        retrain_active=lambda: retrain_after_erasure(engine.services, engine.settings, engine.db),
    )
    report.notes += report.models.notes()
    with engine.transaction() as session:  # which model versions the erasure changed: version ids only
        details = {"dropped": report.models.dropped, "retrained": report.models.retrained}
        audit.append(
            session, actor=actor, action="erase_customer_models", subject=f"customer:{customer_id}", details=details
        )
    report.notes += compact_database(engine.db)
    if shared:
        report.notes.append(f"{len(shared)} text fragments also occur in other customers' messages: not checked")
    report.leftover_files = files_containing(engine.settings.data_dir, needles)
    if report.leftover_files:
        log.warning("after erasing customer %d, files still hold their text: %s", customer_id, report.leftover_files)
    log.info("erased customer %d: %s", customer_id, report.rows)
    return report


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _row_dict(row: Any) -> dict[str, Any]:
    return {key: _jsonable(value) for key, value in row._mapping.items()}


def export_customer(engine: Engine, customer_id: int, *, actor: str = "system") -> dict[str, Any]:
    """Everything held about a customer as one JSON-serialisable dict (the export is audited)."""
    with engine.transaction() as session:
        found = owned_rows(session, customer_id)
        customer = session.get(Customer, customer_id)
        assert customer is not None
        records = {
            table.name: [_row_dict(row) for row in _rows_of(session, table, found[table])]
            for table in SQLModel.metadata.sorted_tables
            if table.name != _ROOT and table in found and _pk(table) is not None
        }
        dead_letter_ids = _dead_letters_mentioning(session, customer)
        dead_letters = session.exec(select(DeadLetter).where(col(DeadLetter.id).in_(dead_letter_ids))).all()
        ticket_subjects = [f"ticket:{row['id']}" for row in records.get("ticket", [])]
        audit_rows = session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.subject).in_([f"customer:{customer_id}", *ticket_subjects]))
            .order_by(col(AuditEntry.id))
        ).all()
        files = []
        for row in records.get("attachment", []):
            path = engine.settings.data_dir / row["path"]
            original = read_decrypted(path, row["sha256"]) if path.is_file() else None
            content = base64.b64encode(original).decode("ascii") if original is not None else None
            files.append({"attachment_id": row["id"], "filename": row["filename"], "content_base64": content})
        audit.append(session, actor=actor, action="export_customer", subject=f"customer:{customer_id}")
    similar = _similar_index(engine)
    indexed = sum(ticket_id in similar for ticket_id in (r["id"] for r in records.get("ticket", []))) if similar else 0
    return {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow().isoformat(),
        "customer": {key: _jsonable(value) for key, value in customer.model_dump().items()},
        "records": records,
        "attachment_files": files,
        "dead_letters": [{k: _jsonable(v) for k, v in d.model_dump().items()} for d in dead_letters],
        "audit": [{k: _jsonable(v) for k, v in a.model_dump().items()} for a in audit_rows],
        "derived": {
            "ticket_vectors": indexed,
            "note": "each indexed ticket also has a 384-number embedding of its text for similar-ticket search",
        },
    }
