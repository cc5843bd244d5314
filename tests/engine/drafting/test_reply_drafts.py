"""Drafts from the reply memory: the best past reply adapted to this customer, fields, holding replies, guidance."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, select

from engine.app import build_engine
from engine.assist import draft_ticket
from engine.bench.drafts import BenchInputError, read_history
from engine.config import DEMO_DATA_DIR, Settings
from engine.desk import approve_or_edit
from engine.drafting.adapt import adapt_reply, fill_fields, open_fields
from engine.drafting.drafter import FakeDrafter
from engine.drafting.guidance import GuidanceFilter
from engine.drafting.holding import HOLDING, PAST_REPLY
from engine.feedback.capture import FeedbackError, reject_draft, send_reply
from engine.ingest.intake import InboundMessage, intake
from engine.knowledge.demo_kb import abcd_documents
from engine.knowledge.knowledge_base import KnowledgeBase
from engine.knowledge.reply_memory import ReplyMemory, track_records
from engine.knowledge.similar_tickets import SimilarTickets
from engine.kpi.acceptance import draft_acceptance
from engine.nlp.embedder import HashingEmbedder
from engine.routing.auto_resolve import auto_resolve_ticket
from engine.routing.policy import RoutingPolicy
from engine.store.models import Direction, Draft, Message, Route, Ticket

EMBEDDER = HashingEmbedder()
TRACK_REPLY = (
    "Hi Anna Berg,\n\nYour order {{Order Number}} left our warehouse and arrives in two days. "
    "Track it on {{Website Name}} or write to anna.berg@example.com.\n\nKind regards"
)


class Desk:
    """A database with a knowledge base and the similar-tickets index, filled the way the app fills them."""

    def __init__(self, db: SAEngine, tmp_path: Path, guidance: bool = False) -> None:
        self.db = db
        self.kb = KnowledgeBase(db, EMBEDDER, tmp_path / "index")
        self.similar = SimilarTickets(tmp_path / "index", EMBEDDER.dim)
        self.memory = ReplyMemory(self.similar)
        if guidance:
            for spec in abcd_documents(DEMO_DATA_DIR / "abcd_guidelines")[:6]:
                self.kb.add_document(spec)

    def past(self, session: Session, text: str, reply: str, intent: str, name: str = "Anna Berg") -> int:
        ticket_id = self.ticket(session, text, intent, name)
        send_reply(session, ticket_id=ticket_id, draft_id=None, text=reply, agent="maria")
        return ticket_id

    def ticket(self, session: Session, text: str, intent: str, name: str = "Tom Reed") -> int:
        email = name.lower().replace(" ", ".") + "@example.com"
        result = intake(session, InboundMessage(channel="email", customer_name=name, customer_email=email, text=text))
        ticket = session.get(Ticket, result.ticket_id)
        assert ticket is not None
        ticket.intent = intent
        session.add(ticket)
        self.similar.add(result.ticket_id, EMBEDDER.encode([text])[0])
        return result.ticket_id

    def draft(self, session: Session, ticket_id: int, drafter: FakeDrafter | None = None, fit: float = 0.3) -> Draft:
        return draft_ticket(
            session,
            ticket_id,
            kb=self.kb,
            drafter=drafter or FakeDrafter(),
            vector=None,
            k=3,
            memory=self.memory,
            store_values={"Website Name": "shop.example"},
            reply_fit=fit,
            embed=lambda text: EMBEDDER.encode([text])[0],
        )


def test_draft_reuses_the_same_intent_reply_with_this_customers_values_and_none_of_the_other(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path)
    source = desk.past(session, "where is my order 55501234, it has not arrived", TRACK_REPLY, "track_order")
    desk.past(session, "where is my refund for order 55501234", "Your refund is on its way.", "track_refund")
    new = desk.ticket(session, "where is my order 77709876? it still has not arrived", "track_order")
    draft = desk.draft(session, new)
    assert draft.basis == PAST_REPLY and draft.based_on == source
    assert draft.text.startswith("Hi Tom,")
    assert "77709876" in draft.text and "shop.example" in draft.text
    assert "Anna" not in draft.text and "Berg" not in draft.text and "anna.berg" not in draft.text
    assert "tom.reed@example.com" in draft.text  # the other customer's address became this customer's
    assert "{{" not in draft.text and draft.fields == []


def test_a_reused_reply_loses_the_other_customers_name_that_only_the_ner_model_knows(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    """The other customer wrote from a chat handle, so their record has no name to match; the reply the team sent
    them names them in full, and the real spaCy NER model (no name list or greeting finds this name) takes it out."""
    desk = Desk(db, tmp_path)
    reply = (
        "Hi,\n\nI have put Dumisani Okonkwo down as the only recipient, so the courier will ask for ID at the door."
        "\n\nKind regards"
    )
    source = desk.past(session, "can the courier hand the parcel only to me", reply, "delivery_options", "dee_o88")
    new = desk.ticket(session, "can the courier give my parcel only to me?", "delivery_options")
    draft = desk.draft(session, new)
    assert draft.basis == PAST_REPLY and draft.based_on == source
    assert draft.text.startswith("Hi Tom,")
    assert "Dumisani" not in draft.text and "Okonkwo" not in draft.text
    assert "I have put [[Name]] down as the only recipient" in draft.text and draft.fields == ["Name"]


def test_a_slot_nobody_can_fill_is_a_field_the_agent_must_fill() -> None:
    adapted = adapt_reply(
        "You can reach us on {{Customer Support Phone Number}} about order {{Order Number}}.",
        customer_name=None,
        values={},
    )
    assert adapted.fields == ["Customer Support Phone Number", "Order Number"]
    assert adapted.text.startswith("Hello,")
    assert open_fields(adapted.text) == adapted.fields
    filled = fill_fields(adapted.text, {"Customer Support Phone Number": "555 0100", "Order Number": "A-1"})
    assert open_fields(filled) == [] and "555 0100" in filled


def test_nothing_that_fits_gives_a_holding_reply_with_a_note_to_the_agent(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path, guidance=True)
    desk.past(session, "where is my order 55501234", TRACK_REPLY, "track_order")
    new = desk.ticket(session, "what is the highest earning game on atari", "unknown")
    draft = desk.draft(session, new, fit=0.6)
    assert draft.basis == HOLDING
    assert "looking into" in draft.text and "order" not in draft.text.lower()
    assert "Nothing in the team's past replies" in draft.note


def test_guidance_never_reaches_the_customer_but_is_shown_as_steps(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path, guidance=True)
    manual = [d for d in desk.kb.documents() if d.kind == "guidance"]
    assert len(manual) == 6
    steps = next(line for line in manual[0].text.splitlines() if len(line.split()) > 8 and not line.startswith("#"))
    # a past reply that pasted a sentence of the internal manual, and an article drafter that quotes the manual
    desk.past(session, f"question about {manual[0].title}", f"Sure. {steps}\nThanks for waiting.", "faq")
    new = desk.ticket(session, f"another question about {manual[0].title}", "faq")
    draft = desk.draft(session, new)
    checker = GuidanceFilter(d.text for d in manual)
    assert draft.basis == PAST_REPLY
    assert checker.guidance_sentences(draft.text) == []
    assert "Thanks for waiting" in draft.text and "internal guidance" in draft.note
    assert draft.guidance and draft.guidance[0]["steps"]
    quoting = FakeDrafter(reply=steps)
    article_ticket = desk.ticket(session, f"{manual[1].title} help please", "other")
    article_draft = desk.draft(session, article_ticket, drafter=quoting, fit=0.99)
    assert checker.guidance_sentences(article_draft.text) == []
    assert all(s.get("document_key", "").startswith("abcd/") is False for s in article_draft.sources)


def test_unchanged_sends_count_for_an_entry_and_rejections_against_it(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path)
    source = desk.past(session, "where is my order 55501234", TRACK_REPLY, "track_order")
    tickets = [desk.ticket(session, f"where is my order 7770{n}876", "track_order") for n in range(3)]
    drafts = [desk.draft(session, ticket_id) for ticket_id in tickets]  # drafted before any is sent
    assert {d.based_on for d in drafts} == {source}
    for n, (ticket_id, draft) in enumerate(zip(tickets, drafts, strict=True)):
        if n < 2:
            send_reply(session, ticket_id=ticket_id, draft_id=draft.id, text=draft.text, agent="sam")
        else:
            reject_draft(session, ticket_id=ticket_id, draft_id=draft.id, reason="wrong order", agent="sam")
    assert track_records(session, [source]) == {source: (2, 2, 1)}
    entry = desk.memory.entry(session, source)
    assert entry is not None and (entry.sent, entry.unchanged, entry.against) == (2, 2, 1)


def test_bad_history_files_get_a_clear_message_and_lose_no_row(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("text,answer\nhello,hi\n", encoding="utf-8")
    with pytest.raises(BenchInputError, match="needs the columns text and reply"):
        read_history(missing)
    messy = tmp_path / "messy.csv"
    long_reply = "word " * 21_000
    messy.write_bytes(
        b"text,reply,intent\nwhere is my order,On its way.,track_order\nno answer yet,,track_order\n"
        + f"long one,{long_reply},track_order\n".encode()
        + b"caf\xe9 order,Sent today.,track_order\n"
    )
    history = read_history(messy)
    assert len(history.texts) == 4
    assert history.notes == {"non_utf8": 1, "empty_reply": 1, "long_reply": 1}
    assert history.texts[3].startswith("caf") and history.replies[3] == "Sent today."


def test_draft_acceptance_counts_unchanged_small_heavy_and_rejected_by_intent_and_week(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path)
    desk.past(session, "where is my order 55501234", TRACK_REPLY, "track_order")
    tickets = [desk.ticket(session, f"where is my order 8880{n}123", "track_order") for n in range(4)]
    drafts = [desk.draft(session, ticket_id) for ticket_id in tickets]
    send_reply(session, ticket_id=tickets[0], draft_id=drafts[0].id, text=drafts[0].text, agent="a")
    send_reply(session, ticket_id=tickets[1], draft_id=drafts[1].id, text=drafts[1].text + " Thanks!", agent="a")
    send_reply(session, ticket_id=tickets[2], draft_id=drafts[2].id, text="Totally different words.", agent="a")
    reject_draft(session, ticket_id=tickets[3], draft_id=drafts[3].id, reason="wrong", agent="a")
    session.commit()
    report = draft_acceptance(db)
    (intent,) = report["intent"]
    assert intent["key"] == "track_order"
    assert (intent["unchanged"], intent["small_edit"], intent["heavy_edit"], intent["rejected"]) == (1, 1, 1, 1)
    assert intent["copy_rate"] == 0.25 and intent["accepted_rate"] == 0.5
    assert len(report["week"]) == 1 and report["week"][0]["drafts"] == 4
    assert report["basis"][0]["key"] == "past_reply"


def test_auto_resolve_answers_with_a_close_past_reply_adapted_to_the_customer(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path)
    reply = "Hi Anna,\n\nYou can pay by card, PayPal or bank transfer on {{Website Name}}."
    desk.past(session, "which payment methods do you accept", reply, "check_payment_methods")
    new = desk.ticket(session, "which payment methods do you accept?", "check_payment_methods")
    ticket = session.get(Ticket, new)
    assert ticket is not None
    ticket.route = Route.AUTO_RESOLVE
    session.add(ticket)
    session.commit()  # auto-resolving reads and writes in its own short transactions
    policy = RoutingPolicy(auto_intents=("check_payment_methods",))
    result = auto_resolve_ticket(
        db,
        new,
        policy=policy,
        runner=None,
        vector=EMBEDDER.encode(["which payment methods do you accept?"])[0],
        similar=desk.similar,
        store_values={"Website Name": "shop.example"},
    )
    assert result.sent and "card, PayPal or bank transfer on shop.example" in result.reply
    assert "Anna" not in result.reply and "{{" not in result.reply


def test_a_reply_with_an_empty_field_is_refused_and_filled_fields_count_as_sent_unchanged(settings: Settings) -> None:
    engine = build_engine(replace(settings, demo=False))
    with engine.transaction() as session:
        ticket_id = intake(session, InboundMessage(channel="email", customer_name="Tom", text="my order?")).ticket_id
        draft = Draft(
            ticket_id=ticket_id, text="Hi Tom,\n\nYour order [[Order Number]] ships today.", fields=["Order Number"]
        )
        session.add(draft)
        session.flush()
        draft_id = draft.id
    with pytest.raises(FeedbackError, match="fill in Order Number"):
        approve_or_edit(engine, ticket_id, draft_id, "Hi Tom,\n\nYour order [[Order Number]] ships today.", agent="a")
    feedback = approve_or_edit(
        engine,
        ticket_id,
        draft_id,
        "Hi Tom,\n\nYour order [[Order Number]] ships today.",
        agent="a",
        fields={"Order Number": "A-17"},
    )
    assert feedback.kind == "approve" and feedback.final_text.endswith("Your order A-17 ships today.")
    engine.db.dispose()


def test_the_draft_starts_from_the_reply_the_team_usually_sends_not_from_an_odd_nearest_one(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path)
    odd = desk.past(session, "cancel my order now please", "Done, it is gone. Anything else?", "cancel_order")
    usual = "You can cancel the order in your account: open Orders, pick the order and press Cancel."
    typical = [
        desk.past(session, text, f"{usual} {extra}", "cancel_order", name="Sam Carter")
        for text, extra in (
            ("how can I cancel an order", "The refund follows."),
            ("I need to cancel the order I made", "Write to us if it fails."),
            ("help me cancel my last order", "It takes a minute."),
        )
    ]
    new = desk.ticket(session, "cancel my order now please!", "cancel_order")
    vector = EMBEDDER.encode(["cancel my order now please!"])[0]
    ranked = desk.memory.best(session, vector, intent="cancel_order", message="cancel my order now please!", k=4)
    assert ranked[-1].ticket_id == odd and ranked[-1].similarity == max(e.similarity for e in ranked)
    assert desk.draft(session, new, fit=0.0).based_on in typical


def test_of_two_replies_alike_the_one_that_speaks_of_what_the_customer_wrote_comes_first(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path)
    desk.past(session, "how do I cancel", "Cancel the order in your account settings.", "cancel_order")
    purchase = desk.past(session, "how do I cancel", "Cancel the purchase in your account settings.", "cancel_order")
    vector = EMBEDDER.encode(["how do I cancel my purchase"])[0]
    best = desk.memory.best(session, vector, intent="cancel_order", message="how do I cancel my purchase", k=2)
    assert best[0].ticket_id == purchase


def test_a_100_kb_past_reply_stays_on_its_ticket_but_is_never_reused(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path)
    huge = desk.past(session, "where is my order 55501234", "Your order is on its way. " * 4_000, "track_order")
    short = desk.past(session, "where is my parcel", TRACK_REPLY, "track_order")
    new = desk.ticket(session, "where is my order 77709876", "track_order")
    draft = desk.draft(session, new, fit=0.0)
    assert draft.based_on == short and huge not in {a["ticket_id"] for a in draft.alternatives}
    assert desk.memory.entry(session, huge) is None
    kept = session.exec(select(Message).where(Message.ticket_id == huge, Message.direction == Direction.OUTBOUND))
    assert len(kept.one().body) >= 100_000


def test_when_triage_names_no_intent_the_draft_answers_the_intent_of_the_nearest_replies(
    db: SAEngine, session: Session, tmp_path: Path
) -> None:
    desk = Desk(db, tmp_path)
    refunds = [
        desk.past(session, text, "Your refund reaches your card within five days.", "track_refund")
        for text in ("where is my refund", "where is my refund please", "my refund has not come")
    ]
    desk.past(session, "where is my order", "Your order arrives tomorrow.", "track_order")
    new = desk.ticket(session, "where is my refund?", "unknown")
    draft = desk.draft(session, new, fit=0.0)
    assert draft.based_on in refunds
    assert {a["ticket_id"] for a in draft.alternatives} <= set(refunds)
