"""PII detectors: each finds one kind of personal data in text (the redactor combines them)."""

from engine.privacy.pii.contact import find_addresses, find_emails
from engine.privacy.pii.context import find_ids
from engine.privacy.pii.kind import Found, PiiKind
from engine.privacy.pii.numbers import find_cards, find_ibans, find_phones

__all__ = [
    "Found",
    "PiiKind",
    "find_addresses",
    "find_cards",
    "find_emails",
    "find_ibans",
    "find_ids",
    "find_phones",
]
