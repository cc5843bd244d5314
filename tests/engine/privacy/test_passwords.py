"""Password hashing with Argon2id."""

from __future__ import annotations

import pytest

from engine.privacy.passwords import hash_password, needs_rehash, verify_password


def test_password_hash_round_trip() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$") and "correct" not in hashed
    assert verify_password("correct horse battery staple", hashed)
    assert not verify_password("Correct horse battery staple", hashed)
    assert not verify_password("anything", "not-a-hash")
    assert hash_password("same") != hash_password("same")  # salted
    assert not needs_rehash(hashed)


def test_empty_password_is_refused() -> None:
    with pytest.raises(ValueError):
        hash_password("")
