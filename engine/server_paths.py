"""Files and folders on the server that staff may point CareDesk at: only inside the folders configured for it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class PathNotAllowed(PermissionError):
    """The path lies outside every allowed folder (or no folder is allowed); the message names them."""


def inside(path: str | Path, roots: Sequence[Path], *, what: str) -> Path:
    """`path` resolved (symlinks and `..` followed), when it lies inside one of `roots`; else PathNotAllowed."""
    resolved = Path(path).expanduser().resolve()
    allowed = [Path(root).expanduser().resolve() for root in roots]
    if not allowed:
        raise PathNotAllowed(f"no folder is configured for {what}")
    if not any(resolved == root or resolved.is_relative_to(root) for root in allowed):
        raise PathNotAllowed(f"{what} must be inside {' or '.join(str(root) for root in allowed)}")
    return resolved
