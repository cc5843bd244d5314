"""Bytes to text when the declared charset is missing, wrong or unknown."""

from __future__ import annotations

import codecs

FALLBACK_CHARSET = "cp1252"  # the usual charset of mislabelled Western mail and spreadsheets


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode with the declared charset if it fits, else UTF-8, else cp1252 with replacement characters."""
    for charset in (_known(declared), "utf-8"):
        if charset is None:
            continue
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode(FALLBACK_CHARSET, errors="replace")


def repair_surrogates(text: str) -> str:
    """Text read with `surrogateescape`: re-decode the undecodable bytes as cp1252."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return decode_text(text.encode("utf-8", errors="surrogateescape"))
    return text


def _known(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip('"').lower()).name
    except LookupError:
        return None
