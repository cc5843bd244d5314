"""The one Engine the pages talk to, set when the app starts."""

from __future__ import annotations

from engine.runtime import Engine

_engine: Engine | None = None


def set_engine(engine: Engine) -> None:
    global _engine
    _engine = engine


def engine() -> Engine:
    """The running engine."""
    if _engine is None:
        raise RuntimeError("the engine is not built yet")
    return _engine
