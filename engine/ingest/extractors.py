"""Text out of attachment bytes: PDF (pypdf), images (Tesseract OCR), zip archives and plain text, within limits."""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.ingest.html_text import html_to_text
from engine.ingest.text_decode import decode_text

log = logging.getLogger(__name__)

IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
TEXT_SUFFIXES = (".txt", ".text", ".log", ".md", ".csv", ".json", ".xml")
ZIP_MAGIC = b"PK\x03\x04"


OCR_MISSING = (
    "not read: OCR needs Tesseract, which is not installed on this machine. The file is kept; an admin can add "
    "it with `sudo apt-get install tesseract-ocr`, then retry it from the Inbox tools dead letters."
)


class ExtractionError(ValueError):
    """An attachment whose text cannot be extracted; the message says why."""


class Kind(StrEnum):
    PDF = "pdf"
    IMAGE = "image"
    ZIP = "zip"
    TEXT = "text"
    HTML = "html"
    MEDIA = "media"  # audio or video: kept, nothing to extract
    OTHER = "other"


@dataclass(frozen=True)
class Limits:
    """How much extraction may cost; each can be set under `[attachments]` in the settings."""

    max_bytes: int = 20_000_000
    pdf_max_pages: int = 50
    image_max_pixels: int = 40_000_000
    ocr_seconds: int = 60
    zip_max_members: int = 100
    zip_max_unpacked: int = 50_000_000
    zip_max_ratio: int = 100
    max_chars: int = 50_000

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> Limits:
        """Limits with the overrides found in the settings' `attachments` table."""
        given = extra.get("attachments", {})
        return cls(**{name: int(value) for name, value in given.items() if name in cls.__dataclass_fields__})


def kind_of(data: bytes, content_type: str, filename: str) -> Kind:
    """What an attachment is: the declared type and name first, the leading bytes when the declaration is vague."""
    declared = content_type.split(";")[0].strip().lower()
    name = filename.lower()
    if declared == "application/pdf" or name.endswith(".pdf") or data.startswith(b"%PDF-"):
        return Kind.PDF
    if declared.startswith("image/") or data.startswith(IMAGE_MAGIC) or _is_webp(data):
        return Kind.IMAGE
    if declared in {"application/zip", "application/x-zip-compressed"} or name.endswith(".zip"):
        return Kind.ZIP
    if declared == "text/html" or name.endswith((".html", ".htm")):
        return Kind.HTML
    if declared.startswith(("audio/", "video/")):
        return Kind.MEDIA
    if declared.startswith("text/") or name.endswith(TEXT_SUFFIXES):
        return Kind.TEXT
    if data.startswith(ZIP_MAGIC):
        return Kind.ZIP
    return Kind.OTHER


def extract_text(data: bytes, content_type: str, filename: str, limits: Limits, *, depth: int = 0) -> str | None:
    """The attachment's text; None when it is kept without text (media, unknown binary)."""
    if len(data) > limits.max_bytes:
        raise ExtractionError(f"{filename} is {len(data):,} bytes; the extraction limit is {limits.max_bytes:,}")
    kind = kind_of(data, content_type, filename)
    text: str | None
    if kind == Kind.PDF:
        text = pdf_text(data, limits)
    elif kind == Kind.IMAGE:
        text = image_text(data, limits)
    elif kind == Kind.ZIP:
        text = zip_text(data, limits) if depth == 0 else None
    elif kind == Kind.HTML:
        text = html_to_text(decode_text(data, _charset(content_type)))
    elif kind == Kind.TEXT:
        text = decode_text(data, _charset(content_type))
    else:
        text = None
    return text[: limits.max_chars] if text is not None else None


def pdf_text(data: bytes, limits: Limits) -> str:
    """The text layer of a PDF, refused beyond the page limit."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionError("the PDF is password-protected")
        pages = len(reader.pages)
        if pages > limits.pdf_max_pages:
            raise ExtractionError(f"the PDF has {pages} pages; the limit is {limits.pdf_max_pages}")
        texts: list[str] = []
        size = 0
        for page in reader.pages:
            texts.append(page.extract_text() or "")
            size += len(texts[-1])
            if size >= limits.max_chars:
                break
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionError(f"not a readable PDF: {exc}") from exc
    return "\n".join(t.strip() for t in texts if t.strip())


def image_text(data: bytes, limits: Limits) -> str:
    """Words in an image or screenshot, read by Tesseract."""
    import pytesseract
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            probe.verify()
    except Image.DecompressionBombError as exc:
        raise ExtractionError(f"the image is too large to open safely: {exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ExtractionError(f"not a valid image: {exc}") from exc
    if width * height > limits.image_max_pixels:
        raise ExtractionError(f"the image is {width}x{height} pixels; the limit is {limits.image_max_pixels:,} pixels")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return str(pytesseract.image_to_string(image.convert("RGB"), timeout=limits.ocr_seconds)).strip()
    except pytesseract.TesseractNotFoundError as exc:
        raise ExtractionError(OCR_MISSING) from exc
    except RuntimeError as exc:  # pytesseract's timeout
        raise ExtractionError(f"OCR gave up after {limits.ocr_seconds} s: {exc}") from exc
    except (OSError, ValueError, pytesseract.TesseractError) as exc:
        raise ExtractionError(f"the image could not be read: {exc}") from exc


def zip_text(data: bytes, limits: Limits) -> str:
    """The text of every member of a zip archive, refusing zip bombs (too many, too large or too compressed)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ExtractionError(f"not a valid zip archive: {exc}") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        _check_zip(members, limits)
        texts: list[str] = []
        for member in members:
            with archive.open(member) as handle:
                content = handle.read(member.file_size + 1)
            if len(content) > member.file_size:
                raise ExtractionError(f"zip member {member.filename} is larger than it declares")
            text = extract_text(content, "", member.filename, limits, depth=1)
            if text:
                texts.append(f"[{member.filename}]\n{text}")
    return "\n\n".join(texts)


def _check_zip(members: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(members) > limits.zip_max_members:
        raise ExtractionError(f"the zip archive has {len(members)} files; the limit is {limits.zip_max_members}")
    unpacked = sum(m.file_size for m in members)
    if unpacked > limits.zip_max_unpacked:
        raise ExtractionError(
            f"the zip archive unpacks to {unpacked:,} bytes; the limit is {limits.zip_max_unpacked:,} (zip bomb?)"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.zip_max_ratio:
            raise ExtractionError(
                f"zip member {member.filename} is compressed {ratio:.0f}:1; the limit is {limits.zip_max_ratio}:1 "
                "(zip bomb?)"
            )


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip()
    return None


def _is_webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
