"""Attachments: PDF text, OCR of a rendered screenshot, limits against hostile files, originals kept."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfWriter
from sqlmodel import select

from engine.app import build_engine
from engine.config import Settings
from engine.ingest.attachments import attachment_file, extract_attachments, extracted_texts, save_attachment
from engine.ingest.dead_letters import list_dead_letters, retry_dead_letter
from engine.ingest.extractors import ExtractionError, Limits, extract_text
from engine.ingest.intake import InboundMessage, intake
from engine.ingest.webhook import build_router
from engine.ingest.webhook_auth import signed_headers
from engine.runtime import Engine
from engine.store.attachment_models import Attachment, AttachmentStatus
from engine.store.models import Ticket, utcnow
from tests.waiting import wait_for

LIMITS = Limits()


def text_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a real text layer (Helvetica), written by hand so the test needs no PDF library."""
    ops = " ".join(f"BT /F1 14 Tf 72 {720 - 20 * i} Td ({line}) Tj ET" for i, line in enumerate(lines))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(ops), ops.encode()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def screenshot(text: str) -> bytes:
    """A PNG 'screenshot' with dark text on white, rendered with Pillow."""
    image = Image.new("RGB", (900, 160), "white")
    ImageDraw.Draw(image).text((30, 50), text, fill="black", font=ImageFont.load_default(size=44))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    settings = Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo=False, webhook_secrets={"app": "k"})
    return build_engine(settings)


def attach(engine: Engine, filename: str, content_type: str, data: bytes) -> tuple[int, int]:
    """A ticket with one attachment; returns (ticket id, attachment id)."""
    with engine.transaction() as session:
        result = intake(session, InboundMessage(channel="chat", customer_name="Ana", text="See attached."))
        ticket = session.get(Ticket, result.ticket_id)
        assert ticket is not None
        ticket.triaged_at = utcnow()
        attachment = save_attachment(
            session,
            engine.settings,
            ticket_id=result.ticket_id,
            message_id=result.message_id,
            filename=filename,
            content_type=content_type,
            data=data,
        )
    assert attachment.id is not None
    return result.ticket_id, attachment.id


def row(engine: Engine, attachment_id: int) -> Attachment:
    with engine.session() as session:
        found = session.get(Attachment, attachment_id)
    assert found is not None
    return found


def test_pdf_text_joins_the_ticket_and_sends_it_back_to_triage(engine: Engine) -> None:
    ticket_id, attachment_id = attach(
        engine, "invoice.pdf", "application/pdf", text_pdf(["Invoice 8812", "Total 42 EUR"])
    )
    assert extract_attachments(engine, [attachment_id]) == 1
    stored = row(engine, attachment_id)
    assert stored.status == AttachmentStatus.DONE and "Invoice 8812" in stored.extracted_text
    with engine.session() as session:
        texts = extracted_texts(session, [stored.message_id or 0])
        assert "Total 42 EUR" in texts[stored.message_id or 0]
        assert session.get(Ticket, ticket_id).triaged_at is None  # type: ignore[union-attr]


def test_screenshot_is_read_with_tesseract_through_the_webhook(engine: Engine) -> None:
    app = FastAPI()
    app.include_router(build_router(engine))
    body = {
        "channel": "social",
        "external_id": "dm-1",
        "customer_handle": "@lena",
        "text": "",
        "attachments": [
            {
                "name": "error.png",
                "content_type": "image/png",
                "data": base64.b64encode(screenshot("PAYMENT DECLINED 4711")).decode(),
            }
        ],
    }
    raw = json.dumps(body).encode()
    response = TestClient(app).post("/api/v1/messages", content=raw, headers=signed_headers("app", "k", raw))
    assert response.status_code == 202, response.text

    def extracted() -> bool:
        with engine.session() as session:
            found = list(session.exec(select(Attachment)))
        return bool(found) and found[0].status != AttachmentStatus.PENDING

    wait_for(extracted, 60, "the attachment to be read")
    with engine.session() as session:
        (attachment,) = session.exec(select(Attachment))
    assert attachment.status == AttachmentStatus.DONE, attachment.error
    words = attachment.extracted_text.upper()
    assert "PAYMENT" in words and "DECLINED" in words and "4711" in words


def test_an_image_that_is_not_an_image_is_dead_lettered_with_the_reason(engine: Engine) -> None:
    _, attachment_id = attach(engine, "photo.png", "image/png", b"this is a text file pretending to be a PNG")
    assert extract_attachments(engine, [attachment_id]) == 0
    assert row(engine, attachment_id).status == AttachmentStatus.FAILED
    (letter,) = list_dead_letters(engine)
    assert letter.source == f"attachment:{attachment_id}" and "not a valid image" in letter.error
    data, _ = attachment_file(engine, attachment_id) or (None, None)
    assert data == b"this is a text file pretending to be a PNG", "the original is kept"
    assert not retry_dead_letter(engine, letter.id).ok


def test_a_500_page_pdf_is_refused_with_the_page_count() -> None:
    writer = PdfWriter()
    for _ in range(500):
        writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ExtractionError, match="500 pages; the limit is 50"):
        extract_text(out.getvalue(), "application/pdf", "huge.pdf", LIMITS)


def test_a_zip_bomb_is_refused_but_a_normal_zip_is_read() -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.txt", b"\0" * 20_000_000)
    with pytest.raises(ExtractionError, match="zip bomb"):
        extract_text(bomb.getvalue(), "application/zip", "logs.zip", LIMITS)
    normal = io.BytesIO()
    with zipfile.ZipFile(normal, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("notes.txt", "The router restarts every night at 2 am.")
    assert "restarts every night" in (extract_text(normal.getvalue(), "application/zip", "notes.zip", LIMITS) or "")


def test_plain_text_in_a_legacy_charset_is_decoded() -> None:
    text = extract_text("Rückerstattung für Bestellung 55".encode("cp1252"), "text/plain", "note.txt", LIMITS)
    assert text == "Rückerstattung für Bestellung 55"


def test_limits_come_from_the_settings(tmp_path: Path) -> None:
    toml = tmp_path / "caredesk.toml"
    toml.write_text("[attachments]\npdf_max_pages = 2\nunknown = 1\n", encoding="utf-8")
    assert Limits.from_table(Settings.load(toml).attachments).pdf_max_pages == 2
