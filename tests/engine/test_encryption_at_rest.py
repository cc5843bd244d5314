"""Encryption at rest: what customers wrote is not in the database file or the attachment files, yet reads back."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import col, select

from engine.app import build_engine
from engine.config import Settings
from engine.feedback.capture import send_reply
from engine.ingest.attachments import ATTACHMENTS_DIR, attachment_file, extract_attachments, save_attachment
from engine.ingest.dead_letter_store import record_dead_letter
from engine.ingest.intake import InboundMessage, intake
from engine.nlp.embedder import MiniLMEmbedder
from engine.privacy import cli_ops
from engine.privacy.crypto import KEY_FILE, Cipher, DecryptionError, set_cipher
from engine.privacy.log_redaction import RedactingFilter, install_log_redaction
from engine.runtime import Engine
from engine.store.attachment_models import Attachment, AttachmentStatus
from engine.store.models import DeadLetter, Draft, Feedback, Message, Survey, Ticket

BODY = "My parcel to the lighthouse never arrived and the courier says marmalade-kestrel-8841 was delivered."
SECRET = "marmalade-kestrel-8841"
RECEIPT = b"Receipt for the copper kettle, serial walrus-9931, paid in full."


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    settings = Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo=False)
    return build_engine(settings)


def stored_bytes(data_dir: Path) -> bytes:
    """Every byte of the database files (main file, WAL, shared memory) as they are on disk."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("caredesk.db*")) if p.is_file())


def raw_select(data_dir: Path, sql: str) -> list[tuple[object, ...]]:
    """A query straight through sqlite3, as someone holding a copy of the file would run it."""
    with sqlite3.connect(data_dir / "caredesk.db") as connection:
        return connection.execute(sql).fetchall()


def store_ticket(engine: Engine, body: str = BODY, external_id: str = "m1") -> tuple[int, int]:
    with engine.transaction() as session:
        result = intake(
            session, InboundMessage(channel="email", customer_name="Ines", text=body, external_id=external_id)
        )
        assert result.message_id is not None
        return result.ticket_id, result.message_id


def attach(engine: Engine, ticket_id: int, data: bytes = RECEIPT) -> int:
    with engine.transaction() as session:
        attachment = save_attachment(
            session,
            engine.settings,
            ticket_id=ticket_id,
            message_id=None,
            filename="receipt (1).txt",
            content_type="text/plain",
            data=data,
        )
        assert attachment.id is not None
        return attachment.id


def test_customer_text_is_not_in_the_database_file_but_reads_back(engine: Engine) -> None:
    ticket_id, _ = store_ticket(engine)
    with engine.transaction() as session:
        draft = Draft(ticket_id=ticket_id, text=f"Sorry about {SECRET}, a new parcel is on its way.")
        session.add(draft)
        session.flush()
        send_reply(session, ticket_id=ticket_id, draft_id=draft.id, text=f"Re-sent {SECRET} today.", agent="ann")
        session.add(Survey(ticket_id=ticket_id, token="s1", comment=f"quick help with {SECRET}"))
        record_dead_letter(session, source="email:bad", raw=f"Subject: {SECRET}\n\n(broken)", error="bad MIME")
    extract_attachments(engine, [attach(engine, ticket_id)])

    data_dir = engine.settings.data_dir
    on_disk = stored_bytes(data_dir)
    assert SECRET.encode() not in on_disk and b"lighthouse" not in on_disk and b"copper kettle" not in on_disk
    (body, subject), *_ = raw_select(
        data_dir,
        f"SELECT body, subject FROM message JOIN ticket ON ticket.id = message.ticket_id WHERE ticket_id = {ticket_id}",
    )
    assert str(body).startswith("gAAAAA") and str(subject).startswith("gAAAAA")  # Fernet tokens
    with engine.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.subject == "My parcel to the lighthouse never arrived and the…"
        bodies = session.exec(select(Message.body).where(Message.ticket_id == ticket_id).order_by(col(Message.id)))
        assert list(bodies) == [BODY, f"Re-sent {SECRET} today."]
        feedback = session.exec(select(Feedback)).one()
        assert SECRET in feedback.draft_text and feedback.final_text == f"Re-sent {SECRET} today."
        assert SECRET in session.exec(select(Survey.comment)).one()
        assert SECRET in session.exec(select(DeadLetter.raw)).one()
        assert "copper kettle" in session.exec(select(Attachment.extracted_text)).one()


def test_the_same_text_is_stored_differently_each_time(engine: Engine) -> None:
    store_ticket(engine, "Refund please", "a")
    store_ticket(engine, "Refund please", "b")
    tokens = [row[0] for row in raw_select(engine.settings.data_dir, "SELECT body FROM message")]
    assert len(tokens) == 2 and tokens[0] != tokens[1], "equal texts must not be recognisable as equal"


def test_a_repeated_dead_letter_is_recognised_although_each_copy_is_encrypted_differently(engine: Engine) -> None:
    raw = json.dumps({"text": SECRET, "from": "ines@example.com"})
    with engine.transaction() as session:
        first = record_dead_letter(session, source="webhook:crm", raw=raw, error="bad", unique=True)
        again = record_dead_letter(session, source="webhook:crm", raw=raw, error="bad", unique=True)
        other = record_dead_letter(session, source="webhook:crm", raw=raw + " ", error="bad", unique=True)
    assert again.id == first.id and other.id != first.id


def test_an_attachment_file_on_disk_is_encrypted_and_downloads_intact(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.app
    from engine.store.account_models import User
    from ui.app import download_attachment
    from ui.state import set_engine

    monkeypatch.setattr(ui.app, "current_user", lambda: User(username="ann", password_hash="-", role="agent"))
    ticket_id, _ = store_ticket(engine)
    attachment_id = attach(engine, ticket_id)
    files = [p for p in (engine.settings.data_dir / ATTACHMENTS_DIR).rglob("*") if p.is_file()]
    assert len(files) == 1 and RECEIPT not in files[0].read_bytes() and b"walrus" not in files[0].read_bytes()
    assert files[0].stat().st_mode & 0o777 == 0o600

    set_engine(engine)
    response = download_attachment(attachment_id)
    assert response.body == RECEIPT
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''receipt%20%281%29.txt"
    found = attachment_file(engine, attachment_id)
    assert found is not None and found[0] == RECEIPT and found[1].size == len(RECEIPT)


def test_an_altered_attachment_file_is_refused_not_served(engine: Engine) -> None:
    ticket_id, _ = store_ticket(engine)
    attachment_id = attach(engine, ticket_id)
    (path,) = [p for p in (engine.settings.data_dir / ATTACHMENTS_DIR).rglob("*") if p.is_file()]
    token = bytearray(path.read_bytes())
    token[120] ^= 1
    path.write_bytes(bytes(token))
    with pytest.raises(DecryptionError):
        attachment_file(engine, attachment_id)
    assert extract_attachments(engine, [attachment_id]) == 0
    with engine.session() as session:
        failed = session.get(Attachment, attachment_id)
    assert failed is not None and failed.status == AttachmentStatus.FAILED and "cannot be decrypted" in failed.error


def make_legacy(engine: Engine) -> tuple[int, int]:
    """What an older version left: plaintext rows and a plaintext attachment file."""
    ticket_id, message_id = store_ticket(engine)
    attachment_id = attach(engine, ticket_id)
    with engine.transaction() as session:
        record_dead_letter(session, source="webhook:crm", raw=json.dumps({"text": SECRET}), error="bad")
    digest = hashlib.sha256(RECEIPT).hexdigest()
    (engine.settings.data_dir / ATTACHMENTS_DIR / digest[:2] / digest).write_bytes(RECEIPT)
    with sqlite3.connect(engine.settings.data_dir / "caredesk.db") as connection:
        connection.execute("UPDATE message SET body = ? WHERE id = ?", (BODY, message_id))
        connection.execute("UPDATE ticket SET subject = 'My parcel to the lighthouse' WHERE id = ?", (ticket_id,))
        connection.execute("UPDATE deadletter SET raw = ?", (json.dumps({"text": SECRET}),))
    return ticket_id, attachment_id


def test_plaintext_rows_of_an_older_version_are_encrypted_at_startup_once(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    ticket_id, _ = make_legacy(engine)
    data_dir = engine.settings.data_dir
    assert SECRET.encode() in stored_bytes(data_dir)

    with caplog.at_level(logging.WARNING, logger="engine.store.migrate"):
        restarted = build_engine(engine.settings)
    assert {"encrypted 1 plaintext message.body", "encrypted 1 plaintext ticket.subject"} <= set(restarted.schema_notes)
    assert "encrypted 1 plaintext deadletter.raw" in restarted.schema_notes
    assert "plaintext" in caplog.text
    assert SECRET.encode() not in stored_bytes(data_dir), "the old plaintext pages are compacted away"
    with restarted.session() as session:
        assert session.exec(select(Message.body).where(Message.ticket_id == ticket_id)).one() == BODY
        assert session.exec(select(DeadLetter.raw)).one() == json.dumps({"text": SECRET})
    assert build_engine(engine.settings).schema_notes == [], "a second start finds nothing left to encrypt"


def test_a_plaintext_attachment_file_of_an_older_version_still_opens(engine: Engine) -> None:
    _, attachment_id = make_legacy(engine)
    restarted = build_engine(engine.settings)  # rows are encrypted at startup; the file stays as it was
    found = attachment_file(restarted, attachment_id)
    assert found is not None and found[0] == RECEIPT
    assert extract_attachments(restarted, [attachment_id]) == 1


def test_rotate_key_keeps_everything_readable_under_the_new_key_alone(engine: Engine) -> None:
    ticket_id, attachment_id = make_legacy(engine)  # a legacy plaintext file gets encrypted by the rotation too
    engine = build_engine(engine.settings)
    second_ticket, _ = store_ticket(engine, "Please cancel order walrus-9931 before it ships.", "m2")
    settings = engine.settings

    message = cli_ops.rotate_key(settings)

    assert "2 message.body" in message and "1 attachment files" in message
    newest_only = Cipher([(settings.data_dir / KEY_FILE).read_bytes().split()[0]])
    set_cipher(newest_only)  # the old key is gone: everything must open with the new one
    with engine.session() as session:
        bodies = set(session.exec(select(Message.body)))
    assert bodies == {BODY, "Please cancel order walrus-9931 before it ships."}
    found = attachment_file(engine, attachment_id)
    assert found is not None and found[0] == RECEIPT
    (path,) = [p for p in (settings.data_dir / ATTACHMENTS_DIR).rglob("*") if p.is_file()]
    assert RECEIPT not in path.read_bytes()
    assert second_ticket != ticket_id


def test_encrypting_and_decrypting_a_message_costs_little() -> None:
    cipher = Cipher([Cipher.generate_key(), Cipher.generate_key()])  # after a rotation: two keys
    bodies = [f"{BODY} ({i})" for i in range(2000)]
    start = time.perf_counter()
    tokens = [cipher.encrypt(body) for body in bodies]
    assert [cipher.decrypt(token) for token in tokens] == bodies
    per_message = (time.perf_counter() - start) / len(bodies)
    assert per_message < 0.0005, f"{per_message * 1e6:.0f} µs per message: ingest at 500 messages/s needs far less"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> tuple[logging.Logger, Records]:
    logger = logging.getLogger("caredesk.test.redaction")
    logger.propagate = False
    logger.handlers = [Records()]
    install_log_redaction(logger)
    return logger, logger.handlers[0]  # type: ignore[return-value]


def test_a_log_line_with_an_email_a_phone_and_a_card_is_written_with_placeholders(
    logged: tuple[logging.Logger, Records],
) -> None:
    logger, handler = logged
    logger.warning("reply from %s (call %s) paid with %s", "ines@example.com", "+44 20 7946 0958", "4111111111111111")
    (record,) = handler.records
    message = logging.Formatter("%(message)s").format(record)
    assert message == "reply from [EMAIL_1] (call [PHONE_1]) paid with [CARD_1]"
    assert "ines@example.com" not in repr(record.__dict__) and "4111111111111111" not in repr(record.__dict__)


def test_an_exception_in_a_log_record_is_redacted_too(logged: tuple[logging.Logger, Records]) -> None:
    logger, handler = logged
    try:
        raise ValueError("cannot parse mail from ines@example.com")
    except ValueError:
        logger.exception("ingest failed for %r", {"email": "ines@example.com"})
    text = logging.Formatter("%(message)s").format(handler.records[0])
    assert "ines@example.com" not in text and "[EMAIL_1]" in text and "ValueError" in text


def test_log_redaction_is_installed_once_per_handler(logged: tuple[logging.Logger, Records]) -> None:
    logger, handler = logged
    install_log_redaction(logger)
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1


@pytest.mark.real_models
def test_migrated_legacy_text_reaches_the_real_embedder_unchanged(engine: Engine) -> None:
    make_legacy(engine)
    store_ticket(engine, "How do I change the password of my account?", "m2")
    restarted = build_engine(engine.settings)
    with restarted.session() as session:
        bodies = list(session.exec(select(Message.body).order_by(col(Message.id))))
    embedder = MiniLMEmbedder()
    embedder.load()
    vectors = embedder.encode(bodies)
    query = embedder.encode(["the courier marked my package delivered but it never came"])[0]
    assert int(np.argmax(vectors @ query)) == bodies.index(BODY)
    assert np.allclose(vectors[bodies.index(BODY)], embedder.encode([BODY])[0], atol=1e-5)
