"""PII redaction: each kind of personal data is found and replaced by a typed placeholder, and restored verbatim."""

from __future__ import annotations

import random
import time

import pytest

from engine.privacy.redaction import PiiKind, redact, restore
from engine.privacy.synthetic import GENERATORS


def kinds_found(text: str) -> list[tuple[str, str]]:
    return [(span.kind.value, span.value) for span in redact(text).spans]


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
