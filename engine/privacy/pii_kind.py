"""The kinds of personal data the redactor finds."""

from __future__ import annotations

from enum import StrEnum


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IBAN = "iban"
    ADDRESS = "address"
    ORDER = "order"
    ACCOUNT = "account"
