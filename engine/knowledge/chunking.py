"""Heading-aware chunking: split Markdown, plain text or HTML into passages that each sit under one heading path."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.knowledge.documents import html_to_markdown, looks_like_html

DEFAULT_MAX_WORDS = 120

_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-{3,})$")
_LIST_OR_QUOTE = re.compile(r"^\s*([-*+>]|\d+[.)])\s")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@dataclass(frozen=True)
class ChunkSpec:
    """One passage: its position in the document, the heading path above it and its text."""

    ordinal: int
    heading: str
    text: str


@dataclass
class _Section:
    heading: str
    lines: list[str]


def chunk_document(title: str, text: str, *, max_words: int = DEFAULT_MAX_WORDS) -> list[ChunkSpec]:
    """Split a document into passages of at most `max_words` words that never straddle a heading."""
    if looks_like_html(text):
        text = html_to_markdown(text)
    chunks: list[ChunkSpec] = []
    for section in _sections(title, text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")):
        for passage in _pack(_paragraphs(section.lines), max_words):
            chunks.append(ChunkSpec(ordinal=len(chunks), heading=section.heading, text=passage))
    return chunks


def _sections(title: str, text: str) -> list[_Section]:
    """Cut the text at headings; each section carries its heading path ("Returns > By mail")."""
    sections = [_Section("", [])]
    stack: list[tuple[int, str]] = []
    in_fence = False
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        if _FENCE.match(lines[index]):
            in_fence = not in_fence
        heading = None if in_fence else _heading(lines, index)
        if heading is None:
            sections[-1].lines.append(lines[index])
            index += 1
            continue
        level, name, used = heading
        index += used
        if level == 1 and name.lower() == title.strip().lower():
            continue
        stack = [(lvl, n) for lvl, n in stack if lvl < level] + [(level, name)]
        sections.append(_Section(" > ".join(n for _, n in stack), []))
    return [s for s in sections if any(line.strip() for line in s.lines)]


def _heading(lines: list[str], index: int) -> tuple[int, str, int] | None:
    """(level, name, lines used) when an ATX heading or a one-line setext heading starts at `index`."""
    line = lines[index]
    match = _ATX.match(line)
    if match:
        return len(match.group(1)), match.group(2).strip(), 1
    underline = lines[index + 1].strip() if index + 1 < len(lines) else ""
    starts_paragraph = index == 0 or not lines[index - 1].strip()
    if starts_paragraph and line.strip() and _SETEXT.match(underline) and not _LIST_OR_QUOTE.match(line):
        return (1 if underline.startswith("=") else 2), line.strip(), 2
    return None


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            is_list = any(_LIST_OR_QUOTE.match(line) for line in current)
            paragraphs.append("\n".join(current) if is_list else " ".join(current))
            current = []
    return paragraphs


def _pack(paragraphs: list[str], max_words: int) -> list[str]:
    """Greedily join paragraphs into passages of at most max_words; cut longer paragraphs at lines, then sentences."""
    passages: list[str] = []
    current, count = "", 0
    for paragraph in paragraphs:
        for position, (separator, unit) in enumerate(_units(paragraph, max_words)):
            words = len(unit.split())
            if current and count + words > max_words:
                passages.append(current)
                current, count = "", 0
            current = f"{current}{separator if position else chr(10) * 2}{unit}" if current else unit
            count += words
    if current:
        passages.append(current)
    return passages


def _units(paragraph: str, max_words: int) -> list[tuple[str, str]]:
    """(separator, text) pieces of a paragraph, each at most max_words: the whole paragraph when it fits."""
    if len(paragraph.split()) <= max_words:
        return [("", paragraph)]
    units: list[tuple[str, str]] = []
    for line in paragraph.split("\n"):
        sentences = _SENTENCE_END.split(line) if len(line.split()) > max_words else [line]
        for sentence_number, sentence in enumerate(sentences):
            words = sentence.split()
            for start in range(0, len(words), max_words):
                separator = "\n" if sentence_number == 0 and start == 0 else " "
                units.append((separator, " ".join(words[start : start + max_words])))
    return units
