"""The alternatives worth showing next to an intent: other intents that carry real probability."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MIN_PROBABILITY = 0.05  # below this an alternative is noise, not a second opinion


def close_alternatives(
    alternatives: Iterable[Mapping[str, Any]], *, chosen: str, limit: int = 2
) -> list[tuple[str, float]]:
    """Up to `limit` (label, probability) other than `chosen` with at least MIN_PROBABILITY, most likely first."""
    shown = [
        (str(a["label"]), float(a["p"]))
        for a in alternatives
        if a["label"] != chosen and float(a["p"]) >= MIN_PROBABILITY
    ]
    return sorted(shown, key=lambda pair: -pair[1])[:limit]
