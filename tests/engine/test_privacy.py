"""Privacy primitives: PII redaction, consent keywords, encryption at rest, passwords and TOTP."""

from __future__ import annotations

import os
import random
import stat
import time
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select, text

from engine.privacy import crypto
from engine.privacy.consent import wants_human
from engine.privacy.crypto import Cipher, DecryptionError, EncryptedText, load_keys, load_or_create_key, rotate_key
from engine.privacy.passwords import hash_password, needs_rehash, verify_password
from engine.privacy.redaction import PiiKind, redact, restore
from engine.privacy.synthetic import GENERATORS
from engine.privacy.totp import new_totp_secret, provisioning_uri, qr_data_url, totp_counter, verify_totp


def kinds_found(text: str) -> list[tuple[str, str]]:
    return [(span.kind.value, span.value) for span in redact(text).spans]


# ------------------------------------------------------------------------------------------------ redaction


@pytest.mark.parametrize(
    "text, value",
    [
        ("Email me at john.smith@example.com please", "john.smith@example.com"),
        ("reply to MARIA_GARCIA+Orders@Mail.Example.CO.UK.", "MARIA_GARCIA+Orders@Mail.Example.CO.UK"),
        ("<o'brien@firm-name.ie>", "o'brien@firm-name.ie"),
        ("mailto:wei.li99@sub.domain.io", "wei.li99@sub.domain.io"),
        ("contact: a.b-c@x.consulting, thanks", "a.b-c@x.consulting"),
        ("{'email': 'ines@example.com'}", "ines@example.com"),  # quoted, as %r writes it in a log line
    ],
)
def test_emails_are_redacted(text: str, value: str) -> None:
    assert kinds_found(text) == [("email", value)]


@pytest.mark.parametrize(
    "value",
    [
        "(555) 123-4567",
        "555-123-4567",
        "555.123.4567",
        "555 123 4567",
        "+1 555 123 4567",
        "+1-555-123-4567",
        "1-800-555-0199",
        "+1 (212) 555-0147",
        "07911 123456",
        "07911 123 456",
        "+44 7911 123456",
        "+44 (0)20 7946 0958",
        "020 7946 0958",
        "0161 496 0018",
        "+49 30 901820",
        "+49 (0)171 1234567",
        "030/4021987",
        "0171 2345678",
        "06 12 34 56 78",
        "+33 1 42 68 53 00",
        "06.12.34.56.78",
        "+91 98765 43210",
        "+61 2 9876 5432",
        "0412 345 678",
        "(02) 9876 5432",
        "+34 612 34 56 78",
        "+55 11 98765-4321",
        "+81 3-1234-5678",
        "0044 20 7946 0958",
        "+353 1 234 5678",
    ],
)
def test_phone_numbers_in_many_formats_are_redacted(value: str) -> None:
    assert kinds_found(f"You can call me on {value} after six.") == [("phone", value)]


def test_bare_digit_phone_needs_words_that_say_phone() -> None:
    assert kinds_found("call me at 5551234567 tomorrow") == [("phone", "5551234567")]
    assert kinds_found("5551234567 is my cell") == [("phone", "5551234567")]
    assert kinds_found("I was charged 5551234567 times") == []


@pytest.mark.parametrize(
    "text",
    [
        "It happened on 03/14/2023 at 10:45 am.",
        "Between 2019-2021 and again 2022-03-14 they reported it late.",
        "On 14.03.2023 I paid €1.249,99 and on March 14, 2023 I paid $1,249.99.",
        "The balance went from $12,345.67 to 1 200 dollars.",
        "Under 15 U.S.C. 1681s-2(b) they must investigate within 30 days.",
        "The rate went from 19.99% to 24.5% in 2023.",
        "My zip is 62704-1234 and my SSN is not your business.",
        "I called 12 times over 3 weeks, version 2.3.10 still crashes.",
        "I ordered 3 items for 1500 dollars.",
        "Reference 12 CFR 1026.13 applies.",
    ],
)
def test_dates_amounts_and_numbers_are_not_pii(text: str) -> None:
    assert kinds_found(text) == []


@pytest.mark.parametrize(
    "value",
    [
        "4111 1111 1111 1111",  # Visa
        "4111111111111111",
        "5500-0000-0000-0004",  # Mastercard
        "2223 0031 2200 3222",  # Mastercard 2-series
        "3782 822463 10005",  # Amex 4-6-5
        "371449635398431",
        "6011 1111 1111 1117",  # Discover
        "3056 930902 5904",  # Diners 4-6-4
        "3530 1113 3330 0000",  # JCB
        "6200 0000 0000 0005",  # UnionPay
        "4222222222222",  # Visa 13 digits
    ],
)
def test_luhn_valid_cards_are_redacted(value: str) -> None:
    assert kinds_found(f"my card {value} was charged twice") == [("card", value)]


@pytest.mark.parametrize("value", ["4111 1111 1111 1112", "5500-0000-0000-0005", "378282246310006"])
def test_luhn_invalid_numbers_are_not_cards(value: str) -> None:
    assert "card" not in [kind for kind, _ in kinds_found(f"the code {value} is printed on the box")]


def test_card_followed_by_another_number_keeps_its_own_digits() -> None:
    assert kinds_found("card 4111 1111 1111 1111 2023 expired") == [("card", "4111 1111 1111 1111")]


@pytest.mark.parametrize(
    "value",
    [
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "GB82 WEST 1234 5698 7654 32",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
        "ch9300762011623852957",
        "BE68 5390 0754 7034",
    ],
)
def test_ibans_with_valid_check_digits_are_redacted(value: str) -> None:
    assert kinds_found(f"Please refund to IBAN {value} thanks") == [("iban", value)]


def test_iban_with_wrong_check_digits_is_not_an_iban() -> None:
    assert "iban" not in [kind for kind, _ in kinds_found("IBAN DE88 3704 0044 0532 0130 00")]


@pytest.mark.parametrize(
    "value",
    [
        "221B Baker Street, London NW1 6XE",
        "1600 Pennsylvania Ave NW, Washington, DC 20500",
        "742 Evergreen Terrace",
        "350 Fifth Avenue, Apt 12B, New York, NY 10118",
        "12 oak st apt 3",
        "Flat 2, 10 Downing Street",
        "Unit 5/23 George St, Sydney NSW 2000",
        "Hauptstraße 5, 10115 Berlin",
        "12 rue de la Paix, 75002 Paris",
        "P.O. Box 1234",
    ],
)
def test_street_addresses_are_redacted(value: str) -> None:
    assert kinds_found(f"Ship it to {value}. Thanks") == [("address", value)]


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("cancel order 732201349959 please", "order", "732201349959"),
        ("Order #A12-99881 never came", "order", "A12-99881"),
        ("my order number is 113-4567890-1234567.", "order", "113-4567890-1234567"),
        ("where is purchase113542617735902?", "order", "113542617735902"),
        ("invoice #37777 is wrong", "order", "37777"),
        ("Order ID: ORD-2023-004512", "order", "ORD-2023-004512"),
        ("ORD-2023-004512 is my order number", "order", "ORD-2023-004512"),
        ("help cancelling purhase 00123842", "order", "00123842"),  # a typo in the keyword
        ("account number 12345678", "account", "12345678"),
        ("acct #A1234567 was locked", "account", "A1234567"),
        ("Account no. 1234 5678 9012", "account", "1234 5678 9012"),
        ("my customer ID is CUST-884213", "account", "CUST-884213"),
        ("member ID: XK99812", "account", "XK99812"),
    ],
)
def test_order_and_account_numbers_are_found_by_context(text: str, kind: str, value: str) -> None:
    assert kinds_found(text) == [(kind, value)]


@pytest.mark.parametrize(
    "text",
    [
        "I want to upgrade my platinum account",
        "I placed an order for 300 dollars",
        "I have 2 orders and 3 accounts",
        "my account 1700.00 dollars short",
        "the order of 2019 items",
    ],
)
def test_keywords_without_an_id_are_left_alone(text: str) -> None:
    assert kinds_found(text) == []


def test_orders_listed_together_are_each_redacted() -> None:
    assert [v for _, v in kinds_found("orders 12345, 67890 and 24680 arrived broken")] == ["12345", "67890", "24680"]


def test_same_value_gets_same_placeholder_and_restore_is_verbatim() -> None:
    text = "Mail a@b.com or a@b.com; call +44 7911 123456 or 020 7946 0958. Card 4111 1111 1111 1111."
    result = redact(text)
    assert result.text == "Mail [EMAIL_1] or [EMAIL_1]; call [PHONE_1] or [PHONE_2]. Card [CARD_1]."
    assert [s.placeholder for s in result.spans] == ["[EMAIL_1]", "[EMAIL_1]", "[PHONE_1]", "[PHONE_2]", "[CARD_1]"]
    assert all(text[s.start : s.end] == s.value for s in result.spans)
    assert restore(result.text, result.spans) == text


def test_restore_fills_placeholders_in_a_reply_and_leaves_unknown_ones() -> None:
    result = redact("I am jane@doe.org, order 99887766")
    reply = "Hi, we emailed [EMAIL_1] about [ORDER_1]; [PHONE_3] is not ours."
    assert restore(reply, result.spans) == "Hi, we emailed jane@doe.org about 99887766; [PHONE_3] is not ours."


def test_text_without_pii_is_unchanged() -> None:
    text = "My parcel is late and the tracking page shows nothing since Monday."
    result = redact(text)
    assert result.text == text and not result.found


def test_every_generated_value_is_redacted_in_a_plain_sentence() -> None:
    rng = random.Random(7)
    wording = {
        PiiKind.EMAIL: "write to {v} today",
        PiiKind.PHONE: "my phone: {v}",
        PiiKind.CARD: "card {v} was charged",
        PiiKind.IBAN: "IBAN {v} please",
        PiiKind.ORDER: "order number {v}",
        PiiKind.ACCOUNT: "account number {v}",
    }
    for kind, sentence in wording.items():
        values = [GENERATORS[kind](rng) for _ in range(200)]
        missed = [v for v in values if (kind.value, v) not in kinds_found(sentence.format(v=v))]
        assert len(missed) <= 2, (kind, missed[:5])


@pytest.mark.real_models
def test_redacted_tickets_keep_their_meaning_for_the_real_embedder() -> None:
    from engine.nlp.embedder import MiniLMEmbedder

    rng = random.Random(3)
    asks = [
        "I want to cancel my order, it never arrived",
        "how do I change my shipping address",
        "I was charged twice for the same purchase",
        "please reset my password, I am locked out",
        "I want a refund for the broken blender",
    ]
    kinds = [PiiKind.EMAIL, PiiKind.PHONE, PiiKind.CARD, PiiKind.ORDER, PiiKind.ACCOUNT]
    values = [[GENERATORS[kind](rng) for kind in kinds] for _ in asks]
    tickets = [
        f"{ask}. order {v[3]}, account number {v[4]}. Email {v[0]} or call {v[1]}; card {v[2]}."
        for ask, v in zip(asks, values, strict=True)
    ]
    redacted = [redact(ticket).text for ticket in tickets]
    for clean, ticket_values in zip(redacted, values, strict=True):
        assert not any(value in clean for value in ticket_values), clean
    vectors = MiniLMEmbedder().encode(asks + redacted + tickets)
    n = len(asks)
    similarity = vectors[n : 2 * n] @ vectors[:n].T
    assert list(similarity.argmax(axis=1)) == list(range(n))  # each stays nearest to its own request
    assert float(similarity.diagonal().min()) > 0.7
    raw_similarity = (vectors[2 * n :] * vectors[:n]).sum(axis=1)
    assert similarity.diagonal().mean() > raw_similarity.mean()  # placeholders blur the request less than raw values


def test_redaction_is_fast_enough_for_every_message() -> None:
    text = "Hello, my order 732201349959 never came. Call +44 7911 123456 or mail a@b.com. " * 10
    started = time.perf_counter()
    for _ in range(100):
        redact(text)
    assert (time.perf_counter() - started) / 100 < 0.02  # under 20 ms for an 800-character message


@pytest.mark.parametrize(
    "text",
    [
        "1" * 20_000,
        " ".join(["1234"] * 5_000),
        "a@" * 10_000,
        "-".join(["12"] * 10_000),
        " ".join(random.Random(1).choice(["Main", "St", "12", "order", "#", "no.", "1234"]) for _ in range(10_000)),
    ],
)
def test_hostile_long_input_does_not_stall_redaction(text: str) -> None:
    started = time.perf_counter()
    result = redact(text)
    assert time.perf_counter() - started < 3.0
    assert restore(result.text, result.spans) == text


# ------------------------------------------------------------------------------------------------ consent


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human please?",
        "I want to speak to a real person",
        "agent please",
        "AGENT!!",
        "Representative.",
        "let me speak with a representative",
        "connect me to a live agent",
        "I need a human, not a bot",
        "transfer me to someone real",
        "is there an actual person I can chat with? put me through to one",
        "I don't want to talk to a bot",
        "stop the bot, get me a human",
        "I'd like to speak to your manager",
        "human please",
        "Operator",
        "I've been trying to reach a human for days",
        "can i get a real human on the line",
    ],
)
def test_requests_for_a_human_are_detected(text: str) -> None:
    assert wants_human(text)


@pytest.mark.parametrize(
    "text",
    [
        "I am a human, not a robot",
        "As a real person I find this annoying",
        "Your agent told me the refund was processed",
        "The representative was very helpful yesterday",
        "I spoke to an agent last week about my order",
        "human error on your side caused this",
        "I don't need a human, the bot answered my question",
        "please forward this to human resources",
        "my order has not arrived",
        "Is this a real person's account?",
        "I'm not a robot, stop asking me to click pictures",
    ],
)
def test_other_mentions_of_people_are_not_requests(text: str) -> None:
    assert not wants_human(text)


# ------------------------------------------------------------------------------------------------ crypto


def test_key_file_is_created_once_with_owner_only_permissions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREDESK_ENCRYPTION_KEY", raising=False)
    key = load_or_create_key(tmp_path)
    path = tmp_path / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path) == key


def test_key_from_env_var_wins_and_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Cipher.generate_key()
    monkeypatch.setenv("CAREDESK_ENCRYPTION_KEY", key.decode())
    assert load_or_create_key(tmp_path) == key
    assert not (tmp_path / "secret.key").exists()


def test_bad_key_in_env_var_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREDESK_ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(ValueError, match="CAREDESK_ENCRYPTION_KEY"):
        load_or_create_key(tmp_path)


def test_encrypt_round_trip_hides_the_text() -> None:
    cipher = Cipher([Cipher.generate_key()])
    token = cipher.encrypt("my card is 4111 1111 1111 1111 — ünïcode")
    assert "4111" not in token
    assert cipher.decrypt(token) == "my card is 4111 1111 1111 1111 — ünïcode"


def test_wrong_key_cannot_decrypt() -> None:
    token = Cipher([Cipher.generate_key()]).encrypt("secret")
    with pytest.raises(DecryptionError):
        Cipher([Cipher.generate_key()]).decrypt(token)


def test_rotation_keeps_old_data_readable_and_re_encrypts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREDESK_ENCRYPTION_KEY", raising=False)
    old_key = load_or_create_key(tmp_path)
    old_token = Cipher(load_keys(tmp_path)).encrypt("body")
    new_key = rotate_key(tmp_path)
    assert load_keys(tmp_path) == [new_key, old_key]
    assert load_or_create_key(tmp_path) == new_key
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    cipher = Cipher(load_keys(tmp_path))
    assert cipher.decrypt(old_token) == "body"
    fresh = cipher.rotate(old_token)
    assert Cipher([new_key]).decrypt(fresh) == "body"
    with pytest.raises(DecryptionError):
        Cipher([new_key]).decrypt(old_token)


def test_rotate_refuses_when_keys_come_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREDESK_ENCRYPTION_KEY", Cipher.generate_key().decode())
    with pytest.raises(RuntimeError, match="CAREDESK_ENCRYPTION_KEY"):
        rotate_key(tmp_path)


def test_encrypted_column_stores_ciphertext_and_reads_plaintext() -> None:
    metadata = MetaData()
    notes = Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", EncryptedText))
    db = create_engine("sqlite://")
    metadata.create_all(db)
    crypto.set_cipher(Cipher([Cipher.generate_key()]))
    try:
        with db.begin() as conn:
            conn.execute(notes.insert().values(id=1, body="call me on +44 7911 123456"))
            conn.execute(notes.insert().values(id=2, body=None))
        with db.connect() as conn:
            raw = conn.execute(text("SELECT body FROM notes WHERE id = 1")).scalar_one()
            assert "7911" not in raw
            stored = conn.execute(select(notes.c.body).where(notes.c.id == 1)).scalar_one()
            assert stored == "call me on +44 7911 123456"
            assert conn.execute(select(notes.c.body).where(notes.c.id == 2)).scalar_one() is None
    finally:
        crypto.set_cipher(None)


def test_encrypted_column_without_a_cipher_is_a_clear_error() -> None:
    crypto.set_cipher(None)
    with pytest.raises(RuntimeError, match="set_cipher"):
        EncryptedText().process_bind_param("x", None)


# ------------------------------------------------------------------------------------------------ passwords, TOTP


def test_password_hash_round_trip() -> None:
    hashed = hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$") and "correct" not in hashed
    assert verify_password("correct horse battery staple", hashed)
    assert not verify_password("Correct horse battery staple", hashed)
    assert not verify_password("anything", "not-a-hash")
    assert hash_password("same") != hash_password("same")  # salted
    assert not needs_rehash(hashed)


def test_empty_password_is_refused() -> None:
    with pytest.raises(ValueError):
        hash_password("")


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


def test_key_file_is_owner_only_even_with_a_loose_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREDESK_ENCRYPTION_KEY", raising=False)
    old = os.umask(0)
    try:
        load_or_create_key(tmp_path / "fresh")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "fresh" / "secret.key").stat().st_mode) == 0o600
