"""Engine-test fixtures: every test gets its own encryption key, as the app sets one at startup."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.privacy.crypto import Cipher, set_cipher


@pytest.fixture(autouse=True)
def cipher() -> Iterator[Cipher]:
    """A fresh process-wide cipher for the encrypted columns (build_engine replaces it with the data dir's keys)."""
    fresh = Cipher([Cipher.generate_key()])
    set_cipher(fresh)
    yield fresh
    set_cipher(None)
