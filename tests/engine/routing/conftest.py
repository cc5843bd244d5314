"""Routing-test fixtures: the demo store on loopback, reading the test's database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine as SAEngine

from engine.demo import DemoStoreServer, StoreData


@pytest.fixture
def store(db: SAEngine) -> Iterator[DemoStoreServer]:
    """The demo store's API served on loopback for the test."""
    server = DemoStoreServer(StoreData(db))
    server.start()
    yield server
    server.stop()
