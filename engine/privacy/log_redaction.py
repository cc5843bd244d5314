"""Logs without personal data: a filter that redacts PII in every record a handler writes.

Installed on the root logger's handlers where logging is configured (`install_log_redaction()` right after
`logging.basicConfig`), so records from every module that propagate to the root are redacted before they are
formatted: the message with its arguments, the exception text and the stack.
"""

from __future__ import annotations

import logging

from engine.privacy.redaction import redact

_FORMATTER = logging.Formatter()
_DONE = "pii_redacted"


class RedactingFilter(logging.Filter):
    """Replaces e-mails, phones, cards, IBANs, addresses and order/account ids in a record by typed placeholders."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place (the merged message, exception and stack text); always lets it through."""
        if getattr(record, _DONE, False):  # a record reaches each handler: redact it once
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: keep both, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message).text, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text).text
        if record.stack_info:
            record.stack_info = redact(record.stack_info).text
        setattr(record, _DONE, True)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add one RedactingFilter to every handler of `logger` (the root by default); installing twice adds nothing."""
    target = logger or logging.getLogger()
    existing = next((f for h in target.handlers for f in h.filters if isinstance(f, RedactingFilter)), None)
    redacting = existing or RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
    return redacting
