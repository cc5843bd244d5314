"""Routing-test fixtures: the demo store on loopback, reading the test's database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as SAEngine

from engine.demo import DemoStoreServer, StoreData


@pytest.fixture
def store(db: SAEngine, tmp_path: Path) -> Iterator[DemoStoreServer]:
    """The demo store's API served on loopback for the test, with its own accounts file."""
    server = DemoStoreServer(StoreData(db, tmp_path / "store.sqlite3"))
    server.start()
    yield server
    server.stop()
