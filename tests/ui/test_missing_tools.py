"""The desk without an optional system tool: the feature says what is missing and how to add it, the rest works."""

from __future__ import annotations

import io

import pytesseract
import pytest
from nicegui.testing import User
from PIL import Image, ImageDraw

from engine.ingest.attachments import extract_attachments, save_attachment
from engine.ingest.intake import InboundMessage, intake
from tests.ui.conftest import sign_in, wait_for_async
from ui.state import engine


def png(text: str) -> bytes:
    image = Image.new("RGB", (600, 120), "white")
    ImageDraw.Draw(image).text((20, 40), text, fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_without_tesseract_the_ticket_says_ocr_is_missing_and_how_to_add_it(
    user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    await sign_in(user, "agent", "agent-demo")
    await wait_for_async(lambda: engine().ready, what="the models to load")
    with engine().transaction() as session:
        result = intake(session, InboundMessage(channel="chat", customer_name="Ana", text="Screenshot of the error."))
        attachment = save_attachment(
            session,
            engine().settings,
            ticket_id=result.ticket_id,
            message_id=result.message_id,
            filename="error.png",
            content_type="image/png",
            data=png("Error 4512: payment declined"),
        )
    assert extract_attachments(engine(), [attachment.id or 0]) == 0
    await user.open(f"/ticket/{result.ticket_id}")
    await user.should_see("error.png")
    await user.should_see("OCR needs Tesseract, which is not installed")
    await user.should_see("sudo apt-get install tesseract-ocr")
    await user.should_see("Screenshot of the error.")
