"""Redaction of data it was not written for: phones by libphonenumber, cards and IBANs by python-stdnum, person names
by the real NER model plus the customer record, postal addresses of the countries the desk serves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session

from engine.ingest.intake import InboundMessage, intake
from engine.nlp.intent import IntentClassifier
from engine.nlp.sentiment import SentimentScorer
from engine.privacy.redaction import PiiKind, RedactionContext, redact, redact_many, restore
from engine.privacy.redaction_context import configure, customer_context, region_from_email
from engine.triage import TriageModels, triage_tickets
from tests.engine.privacy.test_pii_never_reaches_models import RecordingEmbedder


def found(text: str, context: RedactionContext | None = None) -> list[tuple[str, str]]:
    return [(span.kind.value, span.value) for span in redact(text, context).spans]


@pytest.fixture
def desk() -> Iterator[None]:
    """The desk's settings as a deployment sets them: agents sign with their names, the company has one."""
    configure(phone_region="GB", keep_names=("Sam Taylor", "Northwind Traders"))
    yield
    configure(phone_region="US")


# ------------------------------------------------------------------------------------------------ phones


@pytest.mark.parametrize(
    "text, value, region",
    [
        ("call me on (257)202-1095x822 please", "(257)202-1095x822", "US"),  # extension, unassigned area code
        ("call me on 001-658-362-6673 please", "001-658-362-6673", "US"),  # 00 dials out
        ("my mobile: 0151 4960104", "0151 4960104", "GB"),
        ("ring 030 12345678 after lunch", "030 12345678", "DE"),
        ("call me on 9370-9473 tonight", "9370-9473", "AU"),  # a local number, with words that say phone
        ("Tel. +33 (0)5 82 61 31 86", "+33 (0)5 82 61 31 86", "US"),
        ("text me at 28 7975-4323", "28 7975-4323", "BR"),
    ],
)
def test_phones_in_the_customers_region_are_found(text: str, value: str, region: str) -> None:
    assert found(text, RedactionContext(regions=(region,))) == [("phone", value)]


@pytest.mark.parametrize(
    "text, region, kind, value",
    [
        # a number the account has is a phone number when it looks like one in the customer's region
        ("The number on the account is 0519971106, can you check it?", "FR", "phone", "0519971106"),
        ("The number on the account is 768-597-3776x85256, can you check it?", "US", "phone", "768-597-3776x85256"),
        ("the phone number linked to my account: +44 20 7946 0958", "US", "phone", "+44 20 7946 0958"),
        ("my mobile: 00161266467", "IN", "phone", "00161266467"),  # 00 that does not dial out
        ("call me on 612345678", "US", "phone", "612345678"),  # a Spanish mobile without gaps, on a US desk
        # a number the keyword names stays an id, however phone-like
        ("my account number is 0519971106", "FR", "account", "0519971106"),
        ("order 4363547303 never came", "US", "order", "4363547303"),
        ("004-926052-932 is my account number.", "US", "account", "004-926052-932"),
    ],
)
def test_a_sure_phone_number_beats_an_id_keyword_near_it_and_a_named_id_stays_an_id(
    text: str, region: str, kind: str, value: str
) -> None:
    assert found(text, RedactionContext(regions=(region,))) == [(kind, value)]


def test_the_customers_country_from_their_email_reads_national_numbers() -> None:
    assert region_from_email("klaas@web.de") == "DE"
    assert region_from_email("jo@gmail.com") is None
    assert customer_context("Klaas Hermann", "klaas@web.de").regions == ("DE",)
    text = "call me on 9370-9473 tonight"  # an Australian local number: eight digits, no area code
    assert found(text) == []  # a US desk does not read it as a phone number on its own
    assert found(text, customer_context("Bruce Lee", "bruce@example.com.au")) == [("phone", "9370-9473")]


@pytest.mark.parametrize(
    "text",
    [
        "The app is on version 17.5.6103.106 and still crashes.",
        "It stopped working after the update on 04.02.2024 at 02:00.",
        "I opened ticket INC9091050 about this on 20.07.2023.",
        "I opened ticket CS-2022-36267 about this.",
        "I was charged 5551234567 times",
        "My flight LA258 was cancelled, can I get a refund?",
    ],
)
def test_dates_versions_flights_and_tickets_are_not_personal_data(text: str) -> None:
    personal = {PiiKind.EMAIL, PiiKind.PHONE, PiiKind.CARD, PiiKind.IBAN, PiiKind.NAME, PiiKind.ADDRESS}
    assert [s for s in redact(text, RedactionContext(regions=("DE", "AU"))).spans if s.kind in personal] == []


# ------------------------------------------------------------------------------------------------ cards and IBANs


@pytest.mark.parametrize("value", ["630431252448", "180012345678905", "4111111111111111", "3782 822463 10005"])
def test_cards_of_every_valid_length_are_found(value: str) -> None:
    assert found(f"I paid with {value} yesterday") == [("card", value)]


def test_a_short_luhn_number_after_an_order_keyword_is_an_order_not_a_card() -> None:
    assert found("order 630431252448 never came") == [("order", "630431252448")]
    assert found("I paid with 630431252449 yesterday") == []  # the Luhn digit is wrong


def test_ibans_need_their_countrys_length_and_check_digits() -> None:
    assert found("IBAN: DE89 3704 0044 0532 0130 00") == [("iban", "DE89 3704 0044 0532 0130 00")]
    assert "iban" not in {kind for kind, _ in found("IBAN: DE88 3704 0044 0532 0130 00")}


# ------------------------------------------------------------------------------------------------ names


@pytest.mark.parametrize(
    "text, name",
    [
        ("Regards, Adam Parkin", "Adam Parkin"),
        ("my name is Klaas Hermann and my parcel is late", "Klaas Hermann"),
        ("The order is for Victoria Morris, my sister.", "Victoria Morris"),  # NER reads an organisation here
        ("Thanks,\nDipl.-Ing. Sepp Weller B.A.", "Dipl.-Ing. Sepp Weller B.A."),
        ("I spoke to Mr. O'Brien yesterday.", "Mr. O'Brien"),
    ],
)
def test_person_names_are_found_by_the_ner_model_cues_and_census_first_names(text: str, name: str) -> None:
    assert found(text) == [("name", name)]


@pytest.mark.parametrize(
    "text, name",
    [
        ("Please hand the parcel to Oxana Fournier at the door.", "Oxana Fournier"),  # a census surname
        ("The parcel was signed for by Enver Metz.", "Enver Metz"),  # the model finds "Metz" alone
        ("Kind regards\nAbdul Fiebig B.Eng.", "Abdul Fiebig B.Eng."),  # the model stops inside "B.Eng."
    ],
)
def test_names_the_first_name_list_does_not_know_are_found_by_their_surname_or_the_model(text: str, name: str) -> None:
    assert found(text) == [("name", name)]


def test_places_are_not_names_though_their_words_are_census_surnames() -> None:
    assert found("I moved to Los Angeles last year and to San Diego now.") == []


def test_the_customers_own_name_is_always_found_even_in_lower_case() -> None:
    context = customer_context("Jane Doe", "jane@example.com")
    assert found("hi its jane doe again, where is my refund", context) == [("name", "jane doe")]
    assert found("Thanks! JANE", context) == [("name", "JANE")]


def test_the_agents_and_the_companys_names_are_never_hidden(desk: None) -> None:
    text = "Sam Taylor from Northwind Traders promised me a refund, Regards, Adam Parkin"
    assert found(text) == [("name", "Adam Parkin")]


def test_restore_puts_names_back_verbatim() -> None:
    text = "Regards, Adam Parkin (adam@example.com)"
    result = redact(text)
    assert result.text == "Regards, [NAME_1] ([EMAIL_1])"
    reply = restore("Dear [NAME_1], we wrote to [EMAIL_1].", result.spans)
    assert reply == "Dear Adam Parkin, we wrote to adam@example.com."


def test_another_customers_name_is_removed_from_a_reused_past_reply(desk: None) -> None:
    """Reply memory: a past reply reused as an example must not carry the customer it was written for."""
    past_reply = (
        "Hi Maria, I am sorry the parcel went to 12 rue de la Paix, 75002 Paris. Mr. Jonathan Reeves at our "
        "warehouse has sent a new one.\n\nKind regards,\nSam Taylor"
    )
    scrubbed = redact(past_reply, customer_context("Maria Lopez", "maria@example.es")).text
    assert "Maria" not in scrubbed and "Reeves" not in scrubbed and "rue de la Paix" not in scrubbed
    assert scrubbed.startswith("Hi [NAME_1], I am sorry the parcel went to [ADDRESS_1]. [NAME_2] at our")
    assert scrubbed.endswith("Kind regards,\nSam Taylor")  # the agent signs as before


def test_many_texts_are_redacted_in_one_batch_like_one_by_one() -> None:
    texts = ["Regards, Adam Parkin", "nothing here", "My name is Klaas Hermann, call +44 20 7946 0958"]
    assert [r.text for r in redact_many(texts)] == [redact(t).text for t in texts]


# ------------------------------------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    "address",
    [
        "4140 Suzanne Vista, North Timothy, IA 12921",
        "Arnd-Rogge-Weg 15/86, 48775 Magdeburg",
        "Flat 3, Nicole Walks, West Samantha, E94 1YY",
        "709, rue Lambert, 71979 Charpentier",
        "Vicolo Sanguineti, 4 Appartamento 91, 51028, Limestre Pistoiese (PT)",
        "Calle de Camilo Burgos 19, Alicante, 06632",
        "Danadreef 628, 3948 GL, Zaandijk",
        "H.No. 62, Dalal Circle, Karaikudi 199351",
        "28/948 Dakota Rise, Lake Connor, NSW, 5093",
        "Via Calebe Barbosa, 115, Castelo, 01661-318 Araújo Verde / AM",
    ],
)
def test_postal_addresses_of_the_served_countries_are_found(address: str) -> None:
    assert found(f"Please ship it to {address} tomorrow.") == [("address", address)]


# ------------------------------------------------------------------------------------------------ models


def test_names_never_reach_the_triage_models(session: Session, db: SAEngine) -> None:
    embedder = RecordingEmbedder()
    intent = IntentClassifier()
    texts = ["refund my card please", "where is my parcel"] * 5
    intent.fit(texts, ["refund", "track"] * 5, embedder.encode(texts))
    embedder.seen.clear()
    message = "hi its jane again. My neighbour Klaas Hermann signed for the parcel but never gave it to me."
    ticket_id = intake(session, InboundMessage(channel="email", customer_name="Jane Doe", text=message)).ticket_id
    triage_tickets(session, [ticket_id], TriageModels(embedder, intent, "v", SentimentScorer.default(embedder)))
    assert embedder.seen
    for text in embedder.seen:
        assert "jane" not in text.lower() and "Klaas" not in text and "Hermann" not in text, text
