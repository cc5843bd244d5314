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


def basis_line(draft: Draft, basis: dict[str, Any]) -> None:
    """Where the draft came from: the past reply it starts from (linked), the articles, or why it holds back."""
    with ui.row().classes("items-center gap-2 w-full").mark("draft-basis"):
        if draft.basis == "past_reply" and basis:
            ui.icon("history", color="primary")
            ui.label("Based on the reply to")
            ui.link(f"#{basis['ticket_id']}", f"/ticket/{basis['ticket_id']}").mark("basis-link")
            record = (
                f"sent {basis['sent']} times, {basis['unchanged']} unchanged" if basis["sent"] else "not reused yet"
            )
            if basis.get("against"):
                record += f", {basis['against']} rejected or reopened"
            ui.label(f"({record}; similarity {draft.confidence:.2f})").classes("cd-muted text-sm")
        elif draft.basis == "holding":
            ui.icon("pause_circle", color="warning")
            ui.label("Holding reply").classes("font-medium")
        elif draft.basis in ("article", "model"):
            ui.icon("menu_book", color="primary")
            ui.label("Written from help-centre articles (citations checked below)")
    if draft.note:
        ui.label(draft.note).classes("text-sm bg-orange-1 rounded p-2 w-full").mark("draft-note")


def field_inputs(fields: list[str], on_change: Callable[[], None]) -> dict[str, Any]:
    """One input per [[field]] the agent must fill before the reply can be sent."""
    inputs: dict[str, Any] = {}
    if not fields:
        return inputs
    with ui.column().classes("w-full gap-1").mark("draft-fields"):
        ui.label("Fill in before sending").classes("cd-section-title")
        for number, name in enumerate(fields, start=1):
            inputs[name] = (
                ui.input(name, on_change=lambda _: on_change())
                .props("dense outlined")
                .classes("w-full")
                .mark(f"field-{number}")
            )
    return inputs


def alternative_buttons(alternatives: list[dict[str, Any]], on_pick: Callable[[dict[str, Any]], None]) -> None:
    """The next past replies, one click away."""
    if not alternatives:
        return
    with ui.row().classes("items-center gap-2 w-full").mark("draft-alternatives"):
        ui.label("Other past replies:").classes("cd-muted text-sm")
        for number, option in enumerate(alternatives, start=1):
            ui.button(
                f"#{option['ticket_id']} ({option['similarity']:.2f})", on_click=lambda o=option: on_pick(o)
            ).props("outline dense no-caps size=sm").mark(f"alternative-{number}")


def guidance_card(
    guidance: list[dict[str, Any]],
    action_for: Callable[[str], str | None] = lambda _: None,
    on_action: Callable[[str], Any] = lambda _: None,
) -> None:
    """Internal steps for this case, beside the draft: for the agent, never sent to the customer. A step the desk
    can carry out (action_for names its action) is a button that runs on_action; the others are labels."""
    if not guidance:
        return
    with ui.card().classes("cd-card w-full gap-1").mark("guidance"):
        ui.label("Steps for this case").classes("cd-section-title")
        for item in guidance:
            ui.label(f"{item.get('title', '')} (internal guidance, not sent)").classes("cd-muted text-sm")
            for number, step in enumerate(item.get("steps", []), start=1):
                ui.label(f"{number}. {step}").classes("text-sm cd-text")
            if item.get("actions"):
                with ui.row().classes("gap-1 items-center"):
                    for label in item["actions"]:
                        action = action_for(label)
                        if action is None:
                            ui.chip(label).props("dense outline").tooltip("Done outside the desk")
                        else:
                            ui.button(label, icon="bolt", on_click=lambda a=action: on_action(a)).props(
                                "outline dense no-caps size=sm"
                            ).tooltip("Preview this action for the ticket").mark(f"step-action-{action}")
