"""The Inbox page: an uploaded import leaves no plaintext behind, and a full dead-letter table is said so."""

from __future__ import annotations

from pathlib import Path

import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from engine.ingest.dead_letter_store import record_dead_letter
from tests.ui.conftest import sign_in, wait_for_async
from ui.state import engine

MARKER = "Zanzibar-upload-7Q3X"


def data_dir_hits(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def test_an_uploaded_import_leaves_no_plaintext_copy_in_the_data_dir(user: User) -> None:
    await sign_in(user, "agent", "agent-demo")
    await user.open("/inbox")
    content = (
        "external_id,customer,email,text\n"
        f"u-1,Quentin Blake,quentin@example.com,My order {MARKER} is late\n"
        f'u-2,Rosa Diaz,rosa@example.com,"Refund {MARKER} please\n'  # an unclosed quote: one dead letter
        "u-3,Sam Lee,sam@example.com,Where is my parcel?\n"
    ).encode()
    upload = user.find(marker="import-upload").elements.pop()
    assert isinstance(upload, ui.upload)
    await upload.handle_uploads([SmallFileUpload(name="history.csv", content_type="text/csv", _data=content)])
    status = user.find(marker="import-status").elements.pop()
    await wait_for_async(lambda: status.text.startswith("Imported"), 60, "the import to finish")
    assert "2 new" in status.text and "1 to the dead letters" in status.text
    data_dir = engine().settings.data_dir
    assert not list((data_dir / "imports" / "uploads").glob("*")), "the upload is deleted when the import ends"
    assert list((data_dir / "imports").glob("*.json")), "the checkpoint stays, so a re-upload resumes"
    assert data_dir_hits(data_dir, MARKER.encode()) == []


@pytest.fixture
def small_dead_letter_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "caredesk.toml"
    config.write_text("dead_letter_max_rows = 2\n", encoding="utf-8")
    monkeypatch.setenv("CAREDESK_CONFIG", str(config))


async def test_the_inbox_says_when_the_dead_letter_table_is_full(small_dead_letter_cap: None, user: User) -> None:
    await sign_in(user, "agent", "agent-demo")
    with engine().transaction() as session:
        for i in range(2):
            record_dead_letter(session, source="webhook:refused@10.0.0.9", raw=f"x{i}", error="bad signature")
    await user.open("/inbox")
    await user.should_see("The dead-letter table is full (2 of 2 rows)")
