"""The demo shop's values for template slots in past replies ({{Website Name}} ...); a team sets its own."""

from __future__ import annotations

from engine.config import Settings

DEMO_REPLY_VALUES = {
    "Company Name": "CareDesk Demo Store",
    "Website Name": "shop.caredesk.example",
    "Website URL": "https://shop.caredesk.example",
    "Customer Support Phone Number": "+1 555 0100",
    "Customer Support Hours": "9 am to 6 pm, Monday to Friday",
    "Customer Support Availability": "9 am to 6 pm, Monday to Friday",
    "Customer Support Email": "help@shop.caredesk.example",
    "Live Chat": "live chat",
    "Live Chat Support": "live chat",
}


def reply_values(settings: Settings) -> dict[str, str]:
    """The values the desk fills into slots: `reply_values` from the settings, the demo shop's on demo data."""
    return dict(settings.reply_values) or (dict(DEMO_REPLY_VALUES) if settings.demo else {})
