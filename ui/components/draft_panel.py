"""The draft's check (each sentence with its citation and support) and the cards of its sources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from engine.desk import Draft


def needs_check(row: dict[str, Any]) -> bool:
    """A claim its cited source does not support (courtesy sentences need no source)."""
    return not row.get("supported") and not row.get("courtesy")


def draft_check(draft: Draft, on_cite: Callable[[int], None]) -> None:
    """Every sentence of the draft, green when its cited source supports it, amber to check before sending."""
    rows: list[dict[str, Any]] = draft.sentence_support or []
    if not rows:
        return
    unsupported = sum(1 for r in rows if needs_check(r))
    title = "Every sentence is supported by its source" if not unsupported else f"{unsupported} sentence(s) to check"
    with ui.expansion(title, icon="fact_check", value=True).classes("w-full").mark("draft-check"):
        for row in rows:
            supported = not needs_check(row)
            with ui.row().classes("items-start gap-1 w-full no-wrap"):
                ui.label(row.get("sentence", "")).classes(
                    "cd-sentence grow" + ("" if supported else " cd-sentence-unsupported")
                ).mark("supported-sentence" if supported else "unsupported-sentence")
                for number in row.get("cited", []):
                    ui.button(f"[{number}]", on_click=lambda n=number: on_cite(n)).props(
                        "flat dense size=sm no-caps"
                    ).mark(f"cite-{number}")


def source_cards(sources: list[dict[str, Any]]) -> None:
    """The retrieved knowledge chunks the draft may cite, numbered as in the draft."""
    with ui.card().classes("cd-card w-full gap-1").mark("sources"):
        ui.label("Sources").classes("cd-section-title")
        for source in sources:
            caption = source.get("heading") or source.get("document_key", "")
            with (
                ui.expansion(f"[{source.get('n')}] {source.get('title', '')}", caption=caption)
                .classes("w-full")
                .mark(f"source-{source.get('n')}")
            ):
                ui.label(source.get("text", "")).classes("cd-source")
