"""TOTP second factor (RFC 6238, 30 s steps, 6 digits): secrets, provisioning URIs, QR codes, verification."""

from __future__ import annotations

import base64
import io
import time

import pyotp
import segno
from pyotp.utils import strings_equal

ISSUER = "CareDesk"


def new_totp_secret() -> str:
    """A new random base32 secret (160 bits) to store with the user."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account_name: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app enrols from."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def qr_data_url(uri: str) -> str:
    """`uri` as a QR code in an SVG data URL, ready for an <img src=...>."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=4, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def totp_counter(secret: str, code: str, *, for_time: float | None = None) -> int | None:
    """The time step `code` belongs to (now or one step either side), or None; store it to refuse replays."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(time.time() if for_time is None else for_time)
    return next((step for step in (now, now - 1, now + 1) if strings_equal(totp.generate_otp(step), code)), None)


def verify_totp(secret: str, code: str, *, for_time: float | None = None) -> bool:
    """True when `code` is valid now, allowing one 30 s step of clock drift (valid_window=1)."""
    return totp_counter(secret, code, for_time=for_time) is not None
