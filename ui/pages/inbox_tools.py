"""Inbox tools: import past tickets from a file with a progress bar, and the dead letters to retry or discard."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nicegui import events, run, ui

from engine.ingest.bulk_import import FORMATS, ImportProgress, import_tickets
from engine.ingest.dead_letter_store import IngestError
from engine.ingest.dead_letters import (
    DeadLetterRow,
    dead_letter_capacity,
    discard_dead_letter,
    list_dead_letters,
    retry_dead_letter,
)
from engine.ingest.uploads import create_upload, discard_upload
from engine.runtime import Engine
from ui.auth import signed_in_name
from ui.components.attention import attention_card
from ui.state import engine
from ui.theme import frame

log = logging.getLogger(__name__)

COLUMNS: list[dict[str, Any]] = [
    {"name": "id", "label": "#", "field": "id", "sortable": True, "align": "left"},
    {"name": "created", "label": "Received", "field": "created", "sortable": True, "align": "left"},
    {"name": "source", "label": "Source", "field": "source", "sortable": True, "align": "left"},
    {
        "name": "error",
        "label": "Reason",
        "field": "error",
        "align": "left",
        "style": "max-width: 520px; white-space: normal",
    },
    {"name": "received", "label": "Times", "field": "received", "sortable": True, "align": "left"},
    {"name": "retries", "label": "Retries", "field": "retries", "sortable": True, "align": "left"},
    {"name": "state", "label": "State", "field": "state", "align": "left"},
]


def dead_letters_page() -> None:
    """Import history files and work through what could not be ingested."""
    desk = engine()
    with frame("Inbox tools"):
        attention_card(desk)
        import_slot = ui.column().classes("w-full")
        reload_letters = dead_letter_card(desk)
        with import_slot:
            import_card(desk, on_done=reload_letters)


def import_card(desk: Engine, on_done: Callable[[], None]) -> None:
    """Upload a .csv, .jsonl, .mbox or .eml file; the import runs in the background with a progress bar."""
    state: dict[str, Any] = {"progress": None, "running": False, "message": ""}
    with ui.card().classes("cd-card w-full gap-2"):
        ui.label("Import past tickets").classes("cd-section-title")
        ui.label(
            "CSV or JSONL with a text column (optional: external_id, channel, customer, email, created_at, status, "
            "reply, intent), an mbox archive or a single .eml. The file is deleted when its import ends; upload an "
            "interrupted import again and it continues where it stopped. Rows already stored are skipped, bad rows "
            "go to the dead letters below."
        ).classes("cd-muted text-sm")
        upload = (
            ui.upload(label="Choose a file", auto_upload=True, max_files=1)
            .props(f"accept={','.join(sorted(FORMATS))} flat bordered")
            .classes("w-96")
            .mark("import-upload")
        )
        bar = (
            ui.linear_progress(value=0.0, show_value=False)
            .props("rounded size=12px")
            .classes("w-full")
            .mark("import-progress")
        )
        status = ui.label("").classes("text-sm").mark("import-status")

    def on_progress(progress: ImportProgress) -> None:  # called from the import thread: only store, the timer shows
        state["progress"] = progress

    async def on_upload(event: events.UploadEventArguments) -> None:
        if state["running"]:
            ui.notify("An import is already running", type="warning")
            return
        state.update(running=True, progress=None, message=f"Importing {event.file.name}…")
        target, handle = create_upload(desk.settings, event.file.name)
        try:
            with handle:
                async for chunk in event.file.iterate():
                    handle.write(chunk)
            result = await run.io_bound(import_tickets, desk, target, progress=on_progress)
        except IngestError as exc:
            state["message"] = f"Not imported: {exc}"
            ui.notify(state["message"], type="warning")
        except Exception as exc:  # the page must not stay on "Importing…": say what stopped it
            log.warning("the import of %s stopped: %s", target.name, exc, exc_info=True)
            state["message"] = f"The import stopped: {exc}. Committed rows are kept; upload the file again to continue."
            ui.notify(state["message"], type="negative")
        else:
            if result is not None:  # None: the app is shutting down
                state.update(progress=result, message=summary(result))
                ui.notify(state["message"], type="positive")
        finally:
            discard_upload(target)
            state["running"] = False
            upload.reset()
            on_done()

    def show() -> None:
        progress: ImportProgress | None = state["progress"]
        bar.value = progress.fraction if progress else 0.0
        status.text = summary(progress) if progress and state["running"] else state["message"]

    upload.on_upload(on_upload)
    ui.timer(0.5, show)


def summary(progress: ImportProgress) -> str:
    """One line about an import's counts."""
    head = "Imported" if progress.complete else f"{progress.done:,} of {progress.total:,} rows:"
    resumed = f" (continued after row {progress.resumed_from:,})" if progress.resumed_from else ""
    return (
        f"{head} {progress.imported:,} new, {progress.duplicates:,} already there, "
        f"{progress.failed:,} to the dead letters{resumed}"
    )


def letter_dict(letter: DeadLetterRow) -> dict[str, Any]:
    """A dead letter as the table's JSON."""
    return {
        "id": letter.id,
        "created": letter.created_at.strftime("%Y-%m-%d %H:%M"),
        "source": letter.source,
        "error": letter.error,
        "received": letter.received,
        "retries": letter.retries,
        "state": "resolved" if letter.resolved else "open",
        "preview": letter.preview,
    }


def dead_letter_card(desk: Engine) -> Callable[[], None]:
    """The dead letters: why each failed and its raw input; retry after a fix, or discard. Returns its reload."""
    show_resolved = {"value": False}
    with ui.card().classes("cd-card w-full gap-2"):
        with ui.row().classes("items-center w-full"):
            ui.label("Dead letters").classes("cd-section-title")
            ui.space()
            ui.switch("Show resolved", on_change=lambda e: toggle_resolved(e.value)).mark("show-resolved")
        full_notice = ui.label("").classes("text-sm text-negative").mark("dead-letters-full")
        table = (
            ui.table(
                columns=COLUMNS,
                rows=[],
                row_key="id",
                selection="single",
                pagination={"rowsPerPage": 15},
                on_select=lambda _: show_selected(),
            )
            .classes("w-full")
            .props("flat dense hide-selected-banner")
            .mark("dead-letters")
        )
        with ui.row().classes("gap-2"):
            retry_button = ui.button("Retry", icon="replay", on_click=lambda: retry()).mark("retry")
            discard_button = (
                ui.button("Discard", icon="delete_outline", on_click=lambda: discard())
                .props("flat color=negative")
                .mark("discard")
            )
        ui.label("Raw input").classes("cd-section-title")
        preview = (
            ui.label("Select a dead letter to see what arrived.")
            .classes("cd-muted text-sm font-mono w-full")
            .style("white-space: pre-wrap; word-break: break-all; max-height: 360px; overflow: auto")
            .mark("raw-preview")
        )

    def selected() -> dict[str, Any] | None:
        return table.selected[0] if table.selected else None

    def show_selected() -> None:
        row = selected()
        preview.text = row["preview"] if row else "Select a dead letter to see what arrived."
        open_row = row is not None and row["state"] == "open"
        retry_button.set_enabled(open_row)
        discard_button.set_enabled(open_row)

    def toggle_resolved(value: bool) -> None:
        show_resolved["value"] = value
        load()

    def load() -> None:
        room = dead_letter_capacity(desk)
        full_notice.text = (
            f"The dead-letter table is full ({room.rows:,} of {room.cap:,} rows): new refused requests are counted "
            "but not kept. Retry or discard letters, or raise dead_letter_max_rows."
            if room.full
            else ""
        )
        full_notice.visible = room.full
        current = table.selected[0]["id"] if table.selected else None
        letters = list_dead_letters(desk, include_resolved=show_resolved["value"])
        table.rows = [letter_dict(letter) for letter in letters]
        table.selected = [row for row in table.rows if row["id"] == current]
        table.update()
        show_selected()

    async def retry() -> None:
        row = selected()
        if row is None:
            return
        outcome = await run.io_bound(retry_dead_letter, desk, row["id"])
        if outcome is None:
            return
        ui.notify(
            f"Dead letter {row['id']}: {outcome.message}" if outcome.ok else f"Still failing: {outcome.message}",
            type="positive" if outcome.ok else "warning",
        )
        load()

    def discard() -> None:
        row = selected()
        if row is not None and discard_dead_letter(desk, row["id"], agent=signed_in_name()):
            ui.notify(f"Dead letter {row['id']} discarded (its raw input is kept)")
        load()

    load()
    return load
