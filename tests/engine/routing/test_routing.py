"""Routing: the risk score and its factors, the decision and its trail, thresholds, consent, asking for a person."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select

from engine.config import Settings
from engine.ingest.intake import InboundMessage, intake
from engine.nlp.intent.classifier import IntentPrediction
from engine.routing.policy import PolicyError, RoutingPolicy, default_policy, load_policy, save_policy
from engine.routing.risk import RiskInputs, money_at_stake, risk_score
from engine.routing.router import SentimentSummary, route, route_tickets
from engine.store.audit_models import AuditEntry
from engine.store.models import Customer, Outcome, Route, Ticket, TicketStatus, TriageResult, utcnow

AUTO = RoutingPolicy(auto_intents=("track_order", "check_balance"), intent_actions={}, auto_threshold=0.90)


def _prediction(
    label: str = "track_order", confidence: float = 0.97, unknown: bool = False, agree: bool = True
) -> IntentPrediction:
    return IntentPrediction(label, confidence, unknown, [(label, confidence), ("other", 1 - confidence)], agree)


def _decide(
    *,
    confidence: float = 0.97,
    label: str = "track_order",
    unknown: bool = False,
    text: str = "Where is my parcel?",
    opted_in: bool = True,
    risk: RiskInputs | None = None,
    rising: bool = False,
    policy: RoutingPolicy = AUTO,
    agree: bool = True,
):  # type: ignore[no-untyped-def]
    customer = Customer(name="Ada Lovelace", email="ada@example.com", ai_opt_in=opted_in)
    ticket = Ticket(id=1, customer_id=1)
    score = risk_score(risk or RiskInputs(account_age_days=400))
    sentiment = SentimentSummary(valence=0.0, urgency=0.1, frustration_rising=rising)
    prediction = _prediction(label, confidence, unknown, agree)
    return route(ticket, prediction, sentiment, customer, score, policy, text=text)


def test_risk_factors_add_up_and_each_contribution_is_shown() -> None:
    calm = risk_score(RiskInputs(account_age_days=400))
    assert calm.score == 0.0 and all(f.contribution == 0 for f in calm.factors)
    risky = risk_score(
        RiskInputs(
            money=250,
            account_age_days=0,
            past_complaints=3,
            valence=-0.8,
            urgency=0.5,
            frustration_rising=True,
            vip=True,
            channel="social",
        )
    )
    contributions = {f.key: f.contribution for f in risky.factors}
    assert contributions == pytest.approx(
        {
            "money": 0.125,
            "account_age": 0.10,
            "complaints": 0.15,
            "negative": 0.12,
            "urgency": 0.05,
            "frustration": 0.10,
            "vip": 0.10,
            "channel": 0.05,
        }
    )
    assert risky.score == pytest.approx(sum(contributions.values()))
    assert "money at stake $250.00 +0.12" in risky.explain()
    worst = risk_score(
        RiskInputs(
            money=10_000,
            account_age_days=0,
            past_complaints=9,
            valence=-1,
            urgency=1,
            frustration_rising=True,
            vip=True,
            channel="social",
        )
    )
    assert worst.score == 1.0


def test_money_at_stake_reads_amounts_in_common_forms() -> None:
    assert money_at_stake("I was charged $1,200.50 twice") == 1200.50
    assert money_at_stake("refund 40 EUR please, not £9.99") == 40.0
    assert money_at_stake("my order 12345 never came") == 0.0


def test_auto_resolve_trail_names_every_reason() -> None:
    decision = _decide()
    assert decision.route == Route.AUTO_RESOLVE
    assert decision.reason == (
        "auto-resolved: intent track_order 0.97 >= 0.90, all intent classifiers agree, customer opted in, "
        "risk 0.00 <= 0.30, reply only (no store action)"
    )


def test_a_confident_intent_the_classifiers_disagree_on_goes_to_a_person() -> None:
    decision = _decide(confidence=0.97, agree=False)
    assert decision.route == Route.ASSIST and "the intent classifiers disagree" in decision.reason
    assert "disagree" not in _decide(confidence=0.5, agree=False).reason  # below review: that reason is enough


@pytest.mark.parametrize(
    ("confidence", "expected", "phrase"),
    [
        (0.90, Route.AUTO_RESOLVE, "0.90 >= 0.90"),
        (0.8996, Route.ASSIST, "intent track_order 0.8996 < 0.90 auto-resolve threshold"),
        (0.89, Route.ASSIST, "intent track_order 0.89 < 0.90 auto-resolve threshold"),
        (0.79, Route.ASSIST, "intent track_order 0.79 < 0.80 review threshold"),
    ],
)
def test_thresholds(confidence: float, expected: Route, phrase: str) -> None:
    decision = _decide(confidence=confidence)
    assert decision.route == expected and phrase in decision.reason


def test_below_review_threshold_always_goes_to_a_person_even_if_everything_else_allows() -> None:
    lax = RoutingPolicy(auto_intents=("*",), auto_threshold=0.5, review_threshold=0.5)
    assert _decide(confidence=0.6, policy=lax).route == Route.AUTO_RESOLVE
    strict_review = RoutingPolicy(auto_intents=("*",), auto_threshold=0.8, review_threshold=0.8)
    decision = _decide(confidence=0.79, policy=strict_review)
    assert decision.route == Route.ASSIST and "review threshold" in decision.reason


def test_opted_out_customer_is_never_auto_resolved() -> None:
    decision = _decide(opted_in=False)
    assert decision.route == Route.ASSIST
    assert "the customer has not opted in to AI handling" in decision.reason


def test_asking_for_a_person_goes_to_a_person() -> None:
    decision = _decide(text="Where is my parcel? I want to talk to a real person.")
    assert decision.route == Route.ASSIST and "the customer asked for a person" in decision.reason


def test_intent_not_on_the_list_is_assisted() -> None:
    decision = _decide(label="close_account")
    assert decision.route == Route.ASSIST and "intent close_account is not on the auto-resolve list" in decision.reason


def test_escalations_have_written_reasons() -> None:
    unknown = _decide(label="unknown", unknown=True, confidence=0.31)
    assert unknown.route == Route.ESCALATE and unknown.reason.startswith("escalated: intent unknown (best guess")
    risky = _decide(risk=RiskInputs(money=500, account_age_days=0, past_complaints=3, vip=True, valence=-0.5))
    assert risky.route == Route.ESCALATE
    assert "risk 0.68 >= 0.60 (money at stake $500.00 +0.25, past complaints 3 +0.15" in risky.reason
    frustrated = _decide(rising=True)
    assert frustrated.route == Route.ESCALATE and "frustration rising" in frustrated.reason


def test_risk_between_auto_limit_and_escalation_goes_to_assist() -> None:
    decision = _decide(risk=RiskInputs(money=500, account_age_days=0, urgency=0.5))
    assert decision.route == Route.ASSIST and "risk 0.40 > 0.30" in decision.reason


def test_policy_is_validated_saved_and_audited(settings: Settings, tmp_path: Path) -> None:
    from engine.store.db import make_db

    db = make_db(f"sqlite:///{tmp_path / 'p.db'}")
    old = default_policy(settings, ["track_order", "get_refund", "recover_password", "weather"])
    assert old.intent_actions == {
        "track_order": "order_status",
        "get_refund": "refund",
        "recover_password": "password_reset",
    }
    assert old.auto_intents == ("track_order",)  # only read-only actions are auto-resolvable by default
    with pytest.raises(PolicyError, match="review threshold cannot be above"):
        save_policy(db, settings.data_dir, old, RoutingPolicy(auto_threshold=0.7, review_threshold=0.8), actor="sup")
    new = RoutingPolicy(
        auto_intents=("track_order", "get_refund"), auto_threshold=0.97, intent_actions=old.intent_actions
    )
    save_policy(db, settings.data_dir, old, new, actor="sup")
    assert load_policy(settings) == new
    with Session(db) as session:
        row = session.exec(select(AuditEntry).where(AuditEntry.action == "routing_policy_changed")).one()
    assert row.actor == "sup"
    assert row.details["auto_threshold"] == {"from": 0.95, "to": 0.97}
    assert row.details["auto_intents"] == {"from": ["track_order"], "to": ["track_order", "get_refund"]}


def _triaged(
    session: Session, text: str, *, confidence: float, intent: str = "track_order", email: str = "b@x.org"
) -> int:
    result = intake(session, InboundMessage(channel="chat", customer_name="Bo Chen", customer_email=email, text=text))
    ticket = session.get(Ticket, result.ticket_id)
    assert ticket is not None
    ticket.intent, ticket.intent_confidence, ticket.valence, ticket.urgency = intent, confidence, 0.0, 0.1
    ticket.triaged_at = utcnow()
    customer = session.get(Customer, ticket.customer_id)
    assert customer is not None
    customer.created_at = utcnow() - timedelta(days=365)
    session.add(
        TriageResult(
            ticket_id=result.ticket_id,
            message_id=result.message_id,
            intent=intent,
            confidence=confidence,
            alternatives=[{"label": intent, "p": confidence}],
            model_version="v7",
        )
    )
    session.flush()
    return result.ticket_id


def test_route_tickets_stores_route_reason_risk_and_audits(session: Session) -> None:
    auto = _triaged(session, "Where is my parcel?", confidence=0.97)
    unsure = _triaged(session, "Something about my thing", confidence=0.55, email="c@x.org")
    decisions = route_tickets(session, [auto, unsure], policy=AUTO)
    assert decisions[auto].route == Route.AUTO_RESOLVE and decisions[unsure].route == Route.ASSIST
    stored = session.get(Ticket, auto)
    assert stored is not None and stored.route == Route.AUTO_RESOLVE and stored.risk is not None
    assert stored.route_reason.startswith("auto-resolved: intent track_order 0.97 >= 0.90")
    rows = session.exec(select(AuditEntry).where(AuditEntry.action == "ai_route")).all()
    assert [r.subject for r in rows] == [f"ticket:{auto}", f"ticket:{unsure}"]
    assert rows[0].actor == "model:v7" and {f["key"] for f in rows[0].details["factors"]} >= {"money", "vip"}


def test_customer_coming_back_after_an_automatic_answer_marks_it_failed(session: Session) -> None:
    ticket_id = _triaged(session, "Where is my parcel?", confidence=0.97)
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    ticket.route, ticket.outcome, ticket.status = Route.AUTO_RESOLVE, Outcome.RESOLVED_BY_AI, TicketStatus.OPEN
    decision = route_tickets(session, [ticket_id], policy=AUTO)[ticket_id]
    assert decision.route == Route.ASSIST and "wrote again after an automatic answer" in decision.reason
    assert ticket.route == Route.AUTO_RESOLVE and ticket.outcome == Outcome.FAILED


def test_escalation_sets_status_and_outcome(session: Session) -> None:
    ticket_id = _triaged(session, "asdf qwerty", confidence=0.2, intent="unknown")
    session.exec(select(TriageResult)).first().is_unknown = True  # type: ignore[union-attr]
    route_tickets(session, [ticket_id], policy=AUTO)
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.status == TicketStatus.ESCALATED and ticket.outcome == Outcome.ESCALATED


@pytest.mark.real_models
def test_real_models_route_a_plain_question_and_escalate_an_angry_vip(session: Session) -> None:
    from engine.nlp.embedder import MiniLMEmbedder
    from engine.nlp.intent.classifier import IntentClassifier
    from engine.nlp.sentiment.scorer import SentimentScorer
    from engine.triage import TriageModels, triage_tickets

    embedder = MiniLMEmbedder()
    texts = [
        "where is my order",
        "track my parcel please",
        "has my package shipped yet",
        "when will my order arrive",
        "what is the status of my delivery",
        "is my order on its way",
        "I want my money back",
        "refund me please",
        "give me a refund for this",
        "I need a refund now",
        "how do I get reimbursed",
        "please return my money",
    ]
    labels = ["track_order"] * 6 + ["get_refund"] * 6
    model = IntentClassifier()
    model.fit(texts, labels, embedder.encode(texts))
    models = TriageModels(embedder, model, "real", SentimentScorer.default(embedder))
    calm = intake(
        session,
        InboundMessage(
            channel="email",
            customer_name="Ann",
            customer_email="a@x.org",
            text="Hi, could you tell me where my order is?",
        ),
    )
    angry = intake(
        session,
        InboundMessage(
            channel="social",
            customer_name="Vic",
            customer_email="v@x.org",
            text="This is the THIRD time!!! I want a refund of $900 NOW, terrible.",
        ),
    )
    vip = session.exec(select(Customer).where(Customer.email == "v@x.org")).one()
    vip.vip = True
    for customer in session.exec(select(Customer)):
        customer.created_at = utcnow() - timedelta(days=800)
    triage_tickets(session, [calm.ticket_id, angry.ticket_id], models)
    policy = RoutingPolicy(auto_intents=("*",), auto_threshold=0.5, review_threshold=0.5)
    decisions = route_tickets(session, [calm.ticket_id, angry.ticket_id], policy=policy)
    assert decisions[calm.ticket_id].route == Route.AUTO_RESOLVE, decisions[calm.ticket_id].reason
    assert decisions[angry.ticket_id].route == Route.ESCALATE, decisions[angry.ticket_id].reason
    assert np.isfinite(session.get(Ticket, angry.ticket_id).risk)  # type: ignore[union-attr]


def test_service_suggests_actions_once_the_model_knows_its_intents_and_shows_the_decision(
    settings: Settings, tmp_path: Path
) -> None:
    from engine.app import build_engine

    unreachable = replace(settings, store_api_url="http://127.0.0.1:9", store_timeout_seconds=0.5, demo=False)
    engine = build_engine(unreachable)  # nothing listens on port 9
    assert engine.routing.policy.intent_actions == {}
    engine.routing.learn_intents(engine.settings, ["track_order", "get_refund"])  # the worker does this at boot
    service = engine.routing
    assert service.policy.intent_actions == {"track_order": "order_status", "get_refund": "refund"}
    with engine.transaction() as session:
        ticket_id = _triaged(session, "Where is my parcel?", confidence=0.97)
    facts = service.gather([ticket_id])  # the store is asked with no transaction open
    with engine.transaction() as session:
        service.route(session, [ticket_id], facts)
    view = service.view(ticket_id)
    assert view is not None and view.route == Route.ASSIST and view.risk is not None
    assert "action 'Order status' could not be checked" in view.reason
    assert view.actions[0].name == "order_status" and view.actions[0].suggested
    assert {f["key"] for f in view.factors} >= {"money", "account_age", "vip"}


def test_each_check_text_describes_the_outcome_it_had() -> None:
    calm = _decide(text="Where is my parcel?")
    passed = {c.key: c.text for c in calm.checks if c.passed}
    assert passed["known_intent"] == "intent track_order is known"
    assert passed["frustration"] == "no rising frustration"
    assert passed["wants_human"] == "the customer did not ask for a person"
    assert passed["came_back"] == "no earlier automatic answer on this ticket"
    upset = _decide(text="I want to talk to a human agent now", unknown=True, rising=True)
    failed = {c.key: c.text for c in upset.checks if not c.passed}
    assert failed["known_intent"].startswith("intent unknown (best guess")
    assert failed["frustration"] == "frustration rising across the customer's messages"
    assert failed["wants_human"] == "the customer asked for a person"


def test_route_audit_rows_carry_the_passed_wording(session: Session) -> None:
    auto = _triaged(session, "Where is my parcel?", confidence=0.97)
    route_tickets(session, [auto], policy=AUTO)
    row = session.exec(select(AuditEntry).where(AuditEntry.action == "ai_route")).one()
    texts = {c["key"]: c["text"] for c in row.details["checks"]}
    assert texts["wants_human"] == "the customer did not ask for a person"
    assert texts["known_intent"] == "intent track_order is known"


def test_a_customer_who_asked_for_a_person_keeps_reaching_a_person(session: Session) -> None:
    asked = _triaged(session, "Where is my parcel? Let me talk to a real person.", confidence=0.97)
    assert route_tickets(session, [asked], policy=AUTO)[asked].route == Route.ASSIST
    customer = session.get(Customer, session.get(Ticket, asked).customer_id)  # type: ignore[union-attr]
    assert customer is not None and customer.asked_for_person_at is not None
    marked = session.exec(select(AuditEntry).where(AuditEntry.action == "asked_for_person")).all()
    assert [r.subject for r in marked] == [f"customer:{customer.id}"]
    later = _triaged(session, "Where is my parcel now?", confidence=0.97)  # same customer, a plain question
    decision = route_tickets(session, [later], policy=AUTO)[later]
    assert decision.route == Route.ASSIST and "the customer asked for a person on" in decision.reason
    other = _triaged(session, "Where is my parcel now?", confidence=0.97, email="someone@else.org")
    assert route_tickets(session, [other], policy=AUTO)[other].route == Route.AUTO_RESOLVE
    assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "asked_for_person")).all()) == 1
