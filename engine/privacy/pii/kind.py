"""The kinds of personal data the redactor finds, and what a detector yields."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IBAN = "iban"
    ADDRESS = "address"
    ORDER = "order"
    ACCOUNT = "account"
    NAME = "name"


Found = Iterator[tuple[int, int]]  # (start, end) of each value a single-kind detector finds
