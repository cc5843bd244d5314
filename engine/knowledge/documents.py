"""Knowledge documents: the DocumentSpec record and reading files (Markdown, text, HTML, PDF) into it."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


@dataclass(frozen=True)
class DocumentSpec:
    """One document to index: a stable key, a title, its text (Markdown or plain) and where it came from."""

    key: str
    title: str
    text: str
    source: str = ""
    kind: str = "article"  # article: customer-facing help page | guidance: internal procedure, shown to agents only


ARTICLE = "article"
GUIDANCE = "guidance"


class DocumentError(ValueError):
    """A file that cannot become a document; the message says why, in words an agent understands."""


def load_file(name: str, data: bytes, *, source: str = "upload") -> DocumentSpec:
    """Turn an uploaded or on-disk file into a DocumentSpec, or raise DocumentError saying why not."""
    path = safe_relative_name(name)
    if len(data) > MAX_FILE_BYTES:
        raise DocumentError(f"{name}: {len(data) / 1e6:.1f} MB is over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{name}: unsupported file type {suffix or '(none)'}; use Markdown, text, HTML or PDF")
    if not data.strip():
        raise DocumentError(f"{name}: the file is empty")
    if suffix in PDF_SUFFIXES:
        text = pdf_text(data, name)
    elif suffix in HTML_SUFFIXES:
        text = html_to_markdown(_decode(data))
    else:
        text = _decode(data)
    text = text.strip()
    if not text:
        raise DocumentError(f"{name}: no text found in the file")
    return DocumentSpec(key=str(path), title=_title(text, path), text=text, source=source)


def load_folder(folder: Path) -> tuple[list[DocumentSpec], list[DocumentError]]:
    """Read every supported file under `folder`; bad files are returned as errors, not raised."""
    specs: list[DocumentSpec] = []
    errors: list[DocumentError] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES):
        try:
            specs.append(load_file(path.relative_to(folder).as_posix(), path.read_bytes(), source=str(path)))
        except (DocumentError, OSError) as exc:
            log.warning("skipping %s: %s", path, exc)
            errors.append(exc if isinstance(exc, DocumentError) else DocumentError(f"{path}: {exc}"))
    return specs, errors


def safe_relative_name(name: str) -> PurePosixPath:
    """A file name as a relative path with no '..', absolute or empty part; DocumentError otherwise."""
    path = PurePosixPath(name.replace("\\", "/"))
    if not name.strip() or path.is_absolute() or any(part in {"..", ""} for part in path.parts) or not path.parts:
        raise DocumentError(f"{name!r} is not an acceptable file name")
    return path


def pdf_text(data: bytes, name: str = "PDF") -> str:
    """The text of every page of a PDF, pages separated by blank lines; DocumentError if it will not parse."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise DocumentError(f"{name}: the PDF could not be read ({exc})") from exc
    return "\n\n".join(page.strip() for page in pages if page.strip())


_BLOCK_TAGS = {"p", "div", "section", "article", "li", "ul", "ol", "tr", "table", "br", "blockquote", "pre", "dd", "dt"}
_SKIP_TAGS = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
_HEADING = re.compile(r"^h([1-6])$")


class _MarkdownWriter(HTMLParser):
    """Keeps the visible text of an HTML page, headings as Markdown headings, blocks as paragraphs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif match := _HEADING.match(tag):
            self.parts.append("\n\n" + "#" * int(match.group(1)) + " ")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n- " if tag == "li" else "\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif _HEADING.match(tag) or tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_markdown(html: str) -> str:
    """Visible text of an HTML document with its headings kept as Markdown headings (scripts and styles dropped)."""
    writer = _MarkdownWriter()
    writer.feed(html)
    writer.close()
    lines = [line.strip() for line in "".join(writer.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line for line in lines if line != "-")).strip()


def looks_like_html(text: str) -> bool:
    """True when the text is an HTML page or fragment rather than Markdown or plain text."""
    head = text.lstrip()[:1000].lower()
    return head.startswith(("<!doctype html", "<html")) or bool(re.search(r"<(p|div|h[1-6]|body|ul|table)[\s>]", head))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _title(text: str, path: PurePosixPath) -> str:
    match = re.search(r"^#\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
    if match:
        return match.group(1).strip()
    return re.sub(r"[_-]+", " ", path.stem).strip().capitalize() or path.name
