"""TOTP second factor: codes with clock drift, replay detection, provisioning URI and QR code."""

from __future__ import annotations

import time

import pyotp

from engine.privacy.totp import new_totp_secret, provisioning_uri, qr_data_url, totp_counter, verify_totp


def test_totp_round_trip_with_one_step_of_clock_drift() -> None:
    secret = new_totp_secret()
    now = time.time()
    totp = pyotp.TOTP(secret)
    assert verify_totp(secret, totp.at(now), for_time=now)
    assert verify_totp(secret, totp.at(now - 30), for_time=now)  # previous step still accepted
    assert verify_totp(secret, " " + totp.at(now)[:3] + " " + totp.at(now)[3:], for_time=now)
    assert not verify_totp(secret, totp.at(now - 90), for_time=now)
    assert not verify_totp(secret, "abcdef", for_time=now)
    assert not verify_totp(new_totp_secret(), totp.at(now), for_time=now)


def test_totp_counter_lets_the_caller_refuse_a_replayed_code() -> None:
    secret = new_totp_secret()
    now = time.time()
    code = pyotp.TOTP(secret).at(now)
    step = totp_counter(secret, code, for_time=now)
    assert step == pyotp.TOTP(secret).timecode(now)
    assert totp_counter(secret, "000000" if code != "000000" else "111111", for_time=now) is None


def test_provisioning_uri_and_qr_code() -> None:
    secret = new_totp_secret()
    uri = provisioning_uri(secret, "alice@caredesk.local")
    assert uri.startswith("otpauth://totp/CareDesk:alice%40caredesk.local?secret=" + secret)
    assert "issuer=CareDesk" in uri
    url = qr_data_url(uri)
    assert url.startswith("data:image/svg+xml;base64,")
    assert len(url) > 500
