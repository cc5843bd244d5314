"""How a delivery attempt failed: worth retrying, refused for good, or unconfirmed (it may have arrived)."""

from __future__ import annotations


class DeliveryError(Exception):
    """A delivery attempt failed; the message is the reason shown on the ticket."""


class Transient(DeliveryError):
    """The channel did not take the reply this time (down, busy, timed out before accepting): try again later."""


class Permanent(DeliveryError):
    """The channel refused the reply for good (bad address, bounce, no route): a person must act."""


class Unconfirmed(DeliveryError):
    """The reply was handed over but the channel never confirmed it: it may have arrived, so it is not resent."""
