"""PII detectors: each finds one kind of personal data in text (the redactor combines them)."""

from engine.privacy.pii.address import find_postal_addresses
from engine.privacy.pii.contact import find_addresses, find_emails
from engine.privacy.pii.context import ID_KEYWORD_BEFORE_RE, find_ids
from engine.privacy.pii.kind import Found, PiiKind
from engine.privacy.pii.names import Entities, cued_names, kept, known_names, lexicon_names, ner_names
from engine.privacy.pii.numbers import find_phones
from engine.privacy.pii.payment import find_cards, find_ibans
from engine.privacy.pii.phone import find_phone_numbers, known_region, plausible_phone

__all__ = [
    "ID_KEYWORD_BEFORE_RE",
    "Entities",
    "Found",
    "PiiKind",
    "cued_names",
    "find_addresses",
    "find_cards",
    "find_emails",
    "find_ibans",
    "find_ids",
    "find_phone_numbers",
    "find_phones",
    "find_postal_addresses",
    "kept",
    "known_names",
    "known_region",
    "lexicon_names",
    "ner_names",
    "plausible_phone",
]
