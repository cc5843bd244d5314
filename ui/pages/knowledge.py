"""Knowledge base: articles drafts may quote, guidance for agents only, their chunks, uploads, folders, deletion."""

from __future__ import annotations

from nicegui import events, run, ui

from engine.accounts import Permission, User, can
from engine.knowledge.documents import DocumentError, load_file, load_folder
from engine.knowledge.knowledge_base import KnowledgeBase
from engine.runtime import Engine
from engine.server_paths import PathNotAllowed, inside
from ui.auth import current_user
from ui.state import engine
from ui.theme import frame

UPLOAD_LIMIT_BYTES = 20 * 1024 * 1024


def knowledge_base(desk: Engine) -> KnowledgeBase | None:
    """The loaded knowledge base, or None while the models load."""
    services = desk.services
    return services.kb if services is not None else None


def add_uploaded(desk: Engine, name: str, data: bytes) -> str:
    """Index one uploaded file; returns a sentence for the agent (errors raise DocumentError)."""
    kb = knowledge_base(desk)
    if kb is None:
        raise DocumentError("the knowledge index is still loading; try again in a moment")
    spec = load_file(name, data)
    kb.add_document(spec)
    return f"Indexed {spec.title}"


def add_folder(desk: Engine, folder: str, user: User | None) -> str:
    """Index every supported file under a server folder (admins, inside the configured roots); bad files listed."""
    if not can(user, Permission.INDEX_SERVER_FOLDERS):
        raise DocumentError("only an admin may index a folder on the server; upload the files instead")
    kb = knowledge_base(desk)
    if kb is None:
        raise DocumentError("the knowledge index is still loading; try again in a moment")
    try:
        path = inside(folder.strip(), desk.settings.knowledge_root_paths, what="a folder to index")
    except PathNotAllowed as exc:
        raise DocumentError(f"{exc} (CAREDESK_KNOWLEDGE_ROOTS)") from exc
    if not path.is_dir():
        raise DocumentError(f"{path} is not a folder on this machine")
    specs, errors = load_folder(path)
    for spec in specs:
        kb.add_document(spec)
    skipped = f"; skipped {len(errors)}: " + "; ".join(str(e) for e in errors[:3]) if errors else ""
    return f"Indexed {len(specs)} documents from {path}{skipped}"


def knowledge_page() -> None:
    desk = engine()

    def show_chunks(document_id: int, title: str) -> None:
        kb = knowledge_base(desk)
        chunks_card.clear()
        with chunks_card, ui.card().classes("cd-card w-full gap-2").mark("chunks"):
            ui.label(f"Chunks of {title}").classes("cd-section-title")
            for chunk in kb.chunks(document_id) if kb else []:
                with ui.expansion(chunk.heading or f"chunk {chunk.ordinal + 1}").classes("w-full"):
                    ui.label(chunk.text).classes("cd-source")

    async def delete(key: str) -> None:
        kb = knowledge_base(desk)
        if kb is not None and await run.io_bound(kb.remove_document, key):
            ui.notify(f"Deleted {key} and its vectors", type="positive")
        refresh_documents()

    def confirm_delete(key: str, title: str) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(f"Delete “{title}”? Drafts will no longer cite it.")
            with ui.row():
                ui.button("Delete", on_click=lambda: (dialog.close(), delete(key))[1]).props("color=negative").mark(
                    "confirm-delete"
                )
                ui.button("Cancel", on_click=dialog.close).props("flat")
        dialog.open()

    async def set_kind(key: str, title: str, kind: str) -> None:
        kb = knowledge_base(desk)
        if kb is not None and await run.io_bound(kb.set_kind, key, kind):
            ui.notify(f"{title} is now {'guidance (never sent to customers)' if kind == 'guidance' else 'an article'}")

    def refresh_documents() -> None:
        kb = knowledge_base(desk)
        documents_card.clear()
        with documents_card, ui.card().classes("cd-card w-full gap-1").mark("documents"):
            if kb is None:
                ui.label("The knowledge index is loading…").classes("cd-muted")
                return
            documents = kb.documents()
            ui.label(f"{len(documents)} documents").classes("cd-section-title")
            for document in documents:
                with ui.row().classes("items-center w-full no-wrap gap-2"):
                    ui.button(document.title, on_click=lambda d=document: show_chunks(d.id or 0, d.title)).props(
                        "flat no-caps align=left"
                    ).classes("grow text-left")
                    ui.label(document.source or "").classes("cd-muted text-xs")
                    ui.toggle(
                        {"article": "Article", "guidance": "Guidance"},
                        value=document.kind,
                        on_change=lambda e, d=document: set_kind(d.key, d.title, str(e.value)),
                    ).props("dense no-caps size=sm").tooltip(
                        "Article: customer-facing, drafts may quote and cite it. "
                        "Guidance: internal procedure, shown to agents beside the draft, never sent."
                    ).mark(f"kind-{document.id}")
                    ui.button(icon="delete", on_click=lambda d=document: confirm_delete(d.key, d.title)).props(
                        "flat round dense color=negative"
                    ).tooltip("Delete this document and its vectors")

    def add_card() -> None:
        with ui.card().classes("cd-card w-full gap-2"):
            ui.label("Add knowledge").classes("cd-section-title")
            ui.label(
                "Markdown, text, HTML or PDF, up to 20 MB each. Re-adding a file re-indexes it only if it changed."
            ).classes("cd-muted text-sm")

            async def uploaded(e: events.UploadEventArguments) -> None:
                try:
                    data = await e.file.read()
                    message = await run.io_bound(add_uploaded, desk, e.file.name, data)
                except DocumentError as exc:
                    ui.notify(str(exc), type="warning", multi_line=True)
                    return
                ui.notify(message, type="positive")
                refresh_documents()

            ui.upload(on_upload=uploaded, multiple=True, auto_upload=True, max_file_size=UPLOAD_LIMIT_BYTES).props(
                'accept=".md,.markdown,.txt,.text,.html,.htm,.pdf" flat bordered'
            ).classes("w-full").mark("kb-upload")
            if can(current_user(), Permission.INDEX_SERVER_FOLDERS):
                folder_card()

    def folder_card() -> None:
        roots = ", ".join(str(p) for p in desk.settings.knowledge_root_paths) or "none configured"
        folder = ui.input(f"Or a server folder under: {roots}").props("outlined dense").classes("w-full")
        folder.mark("kb-folder")

        async def index_folder() -> None:
            try:
                message = await run.io_bound(add_folder, desk, folder.value or "", current_user())
            except DocumentError as exc:
                ui.notify(str(exc), type="warning")
                return
            ui.notify(message, type="positive", multi_line=True)
            refresh_documents()

        ui.button("Index folder", icon="folder_open", on_click=index_folder).props("flat").mark("kb-index-folder")

    with frame("Knowledge"), ui.row().classes("w-full gap-4 items-start no-wrap"):
        with ui.column().classes("gap-4").style("flex: 3; min-width: 0"):
            documents_card = ui.column().classes("w-full")
        with ui.column().classes("gap-4").style("flex: 2; min-width: 0"):
            chunks_card = ui.column().classes("w-full")
            add_card()
    refresh_documents()
    waiting = ui.timer(
        1.0, lambda: (refresh_documents(), waiting.deactivate()) if knowledge_base(desk) is not None else None
    )
