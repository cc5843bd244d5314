"""Shared fixtures: a fresh data dir and database per test; fast fakes unless a test asks for real models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.config import Settings
from engine.store.db import make_db

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a temp data dir, fake models, a small demo queue."""
    return Settings.load(data_dir=tmp_path / "data", model_backend="fake", demo_ticket_count=30)


@pytest.fixture
def db(tmp_path: Path) -> SAEngine:
    """A fresh SQLite database."""
    return make_db(f"sqlite:///{tmp_path / 'test.db'}")


@pytest.fixture
def session(db: SAEngine) -> Iterator[Session]:
    with Session(db, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def artifacts() -> Path:
    """Where UI tests save screenshots for people to look at (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
