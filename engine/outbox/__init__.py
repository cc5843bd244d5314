"""The outbox: every reply queued in its own transaction and delivered once over the ticket's channel."""

from engine.outbox.channels import Channels, current_channels, save_channels
from engine.outbox.config import OutboxSettings, too_long
from engine.outbox.courier import Courier, recover
from engine.outbox.desk import (
    Delivery,
    delivery_counts,
    failed_deliveries,
    retry_delivery,
    send_notice,
    send_test_message,
    ticket_deliveries,
)
from engine.outbox.enqueue import enqueue_reply
from engine.outbox.errors import DeliveryError

__all__ = [
    "Channels",
    "Courier",
    "Delivery",
    "DeliveryError",
    "OutboxSettings",
    "current_channels",
    "delivery_counts",
    "enqueue_reply",
    "failed_deliveries",
    "recover",
    "retry_delivery",
    "save_channels",
    "send_notice",
    "send_test_message",
    "ticket_deliveries",
    "too_long",
]
