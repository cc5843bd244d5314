"""Route each triaged ticket: auto-resolve, assist (an agent reviews a draft) or escalate, with a readable trail.

Escalate when the intent is unknown, the risk reaches the escalation level, or frustration is rising. Otherwise a
person handles the ticket when any of these fails: confidence at least the review threshold (below it always goes
to a person), the customer did not ask for a person, the customer opted in to AI handling, the intent is on the
auto-resolve list, confidence at least the auto threshold, risk at most the auto limit, the customer did not come
back after an automatic answer, and the intent's action (if any) passes its store policy. All pass: auto-resolve.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, col, select

from engine.nlp.intent import IntentPrediction
from engine.nlp.sentiment import frustration_rising
from engine.privacy import audit
from engine.privacy.consent import wants_human
from engine.privacy.opt_outs import mark_asked_for_person
from engine.privacy.redaction import redact
from engine.routing.actions.base import ActionContext
from engine.routing.actions.client import StoreError
from engine.routing.actions.registry import action_named
from engine.routing.actions.runner import ActionRunner, Planned, record_preview
from engine.routing.policy import RoutingPolicy
from engine.routing.risk import RiskScore, complaints_by_customer, inputs_for, risk_score
from engine.store.models import (
    Customer,
    Message,
    Outcome,
    Route,
    Ticket,
    TicketStatus,
    TriageResult,
    utcnow,
)
from engine.triage import customer_text

log = logging.getLogger(__name__)

ROUTE_AUDIT = "ai_route"
ESCALATION_CHECKS = ("known_intent", "risk_escalation", "frustration")
AUTO_TRAIL = ("auto_threshold", "agreement", "opt_in", "auto_risk", "action")


@dataclass(frozen=True)
class SentimentSummary:
    """The ticket's mood as triage saw it."""

    valence: float = 0.0
    urgency: float = 0.0
    frustration_rising: bool = False


@dataclass(frozen=True)
class ActionVerdict:
    """Whether the intent's action passed its store policy, in words."""

    ok: bool
    text: str


@dataclass(frozen=True)
class Check:
    key: str
    passed: bool
    text: str


@dataclass(frozen=True)
class Decision:
    """Where a ticket goes, the sentence a person reads, and every check behind it."""

    route: Route
    reason: str
    checks: list[Check] = field(default_factory=list)
    action: str | None = None

    def failed(self) -> list[str]:
        """Keys of the checks that did not pass."""
        return [c.key for c in self.checks if not c.passed]


def route(
    ticket: Ticket,
    prediction: IntentPrediction,
    sentiment: SentimentSummary,
    customer: Customer,
    risk: RiskScore,
    policy: RoutingPolicy,
    *,
    text: str,
    action: ActionVerdict | None = None,
) -> Decision:
    """Decide one ticket's route from its prediction, mood, customer, risk and the policy."""
    intent, confidence = prediction.label, prediction.confidence
    action_name = policy.action_for(intent)
    best_guess = prediction.alternatives[0] if prediction.alternatives else (intent, confidence)
    checks = [
        _check(
            "known_intent",
            not prediction.is_unknown,
            f"intent {intent} is known",
            f"intent unknown (best guess {best_guess[0]} {best_guess[1]:.2f})",
        ),
        _at_most("risk_escalation", risk, policy.escalate_risk, strict=True),
        _check(
            "frustration",
            not (policy.escalate_on_frustration and sentiment.frustration_rising),
            "no rising frustration" if not sentiment.frustration_rising else "frustration rising (escalation is off)",
            "frustration rising across the customer's messages",
        ),
        _at_least(
            "review", intent, confidence, policy.review_threshold, "review threshold: a person checks the intent"
        ),
        _check(
            "wants_human",
            not wants_human(text) and customer.asked_for_person_at is None,
            "the customer did not ask for a person",
            "the customer asked for a person"
            + (f" on {customer.asked_for_person_at:%d %b %Y}" if customer.asked_for_person_at else ""),
        ),
        Check(
            "opt_in",
            customer.ai_opt_in,
            "customer opted in" if customer.ai_opt_in else "the customer has not opted in to AI handling",
        ),
        Check("auto_list", policy.is_auto(intent), f"intent {intent} is not on the auto-resolve list"),
        _at_least("auto_threshold", intent, confidence, policy.auto_threshold, "auto-resolve threshold"),
        Check(
            "agreement",
            prediction.heads_agree,
            "all intent classifiers agree" if prediction.heads_agree else "the intent classifiers disagree",
        ),
        _at_most("auto_risk", risk, policy.max_auto_risk, strict=False),
        _check(
            "came_back",
            not _came_back(ticket),
            "no earlier automatic answer on this ticket",
            "the customer wrote again after an automatic answer",
        ),
        _action_check(action_name, action),
    ]
    failed = _blocking(checks, action)
    escalations = [c for c in failed if c.key in ESCALATION_CHECKS]
    if escalations:
        return Decision(Route.ESCALATE, "escalated: " + "; ".join(c.text for c in escalations), checks, action_name)
    if failed:
        reason = "assist: " + "; ".join(c.text for c in failed) + " - a person reviews the draft"
        return Decision(Route.ASSIST, reason, checks, action_name)
    trail = ", ".join(c.text for key in AUTO_TRAIL for c in checks if c.key == key)
    return Decision(Route.AUTO_RESOLVE, "auto-resolved: " + trail, checks, action_name)


def _check(key: str, passed: bool, passed_text: str, failed_text: str) -> Check:
    """A check whose text says the outcome it had."""
    return Check(key, passed, passed_text if passed else failed_text)


def _blocking(checks: list[Check], verdict: ActionVerdict | None) -> list[Check]:
    """Failed checks worth telling: no 'auto threshold' when below review, no unchecked action when others fail."""
    failed = [c for c in checks if not c.passed]
    keys = {c.key for c in failed}
    return [
        c
        for c in failed
        if not (c.key == "auto_threshold" and "review" in keys)
        and not (c.key == "agreement" and keys & {"review", "auto_threshold"})
        and not (c.key == "action" and verdict is None and keys - {"action"})
    ]


def _shown(value: float, limit: float) -> str:
    """Two decimals, or four when two would make a value look equal to a limit it differs from (0.8996 vs 0.90)."""
    text = f"{value:.2f}"
    return f"{value:.4f}" if text == f"{limit:.2f}" and value != limit else text


def _at_least(key: str, intent: str, value: float, threshold: float, what: str) -> Check:
    passed = value >= threshold
    comparison = f"intent {intent} {_shown(value, threshold)} {'>=' if passed else '<'} {threshold:.2f}"
    return Check(key, passed, comparison + ("" if passed else f" {what}"))


def _at_most(key: str, risk: RiskScore, limit: float, *, strict: bool) -> Check:
    """Risk below the limit (strict: escalation starts at the limit) or at most the limit."""
    passed = risk.score < limit if strict else risk.score <= limit
    shown = _shown(risk.score, limit)
    if passed:
        return Check(key, True, f"risk {shown} {'<' if strict else '<='} {limit:.2f}")
    return Check(key, False, f"risk {shown} {'>=' if strict else '>'} {limit:.2f} ({risk.explain()})")


def _action_check(action_name: str | None, verdict: ActionVerdict | None) -> Check:
    if action_name is None:
        return Check("action", True, "reply only (no store action)")
    if verdict is None:
        return Check("action", False, f"action '{action_name}' not checked yet")
    return Check("action", verdict.ok, verdict.text)


def _came_back(ticket: Ticket) -> bool:
    return ticket.route == Route.AUTO_RESOLVE and ticket.outcome in (Outcome.RESOLVED_BY_AI, Outcome.FAILED)


@dataclass
class StoreFacts:
    """What routing learned from the store before its transaction: when each customer's account was opened (by
    lower-case e-mail) and a dry run of each ticket's action."""

    opened: dict[str, datetime | None] = field(default_factory=dict)
    plans: dict[int, Planned] = field(default_factory=dict)


def gather_store_facts(
    db: SAEngine,
    ticket_ids: list[int],
    *,
    policy: RoutingPolicy,
    runner: ActionRunner | None = None,
    account_opened: Callable[[str | None], datetime | None] | None = None,
    intents: Mapping[int, str] | None = None,
) -> StoreFacts:
    """Ask the store what routing these tickets needs, with no database transaction open (a slow store stalls no
    writer). `intents`: the intents triage is about to store (else the tickets' current ones)."""
    with Session(db) as session:
        tickets = list(session.exec(select(Ticket).where(col(Ticket.id).in_(ticket_ids)).order_by(col(Ticket.id))))
        owners = select(Customer).where(col(Customer.id).in_({t.customer_id for t in tickets}))
        customers = {c.id: c for c in session.exec(owners)}
        emails = {(customers[t.customer_id].email or "").strip().lower() for t in tickets} - {""}
        actions: list[tuple[str, ActionContext]] = []
        for ticket in tickets:
            assert ticket.id is not None
            action = policy.action_for((intents or {}).get(ticket.id, ticket.intent or ""))
            if action is not None and runner is not None:
                customer = customers[ticket.customer_id]
                text = ticket_text(session, ticket.id)
                actions.append((action, ActionContext(ticket.id, customer.email, customer.name, text)))
    facts = StoreFacts()
    if account_opened is not None:
        facts.opened = {email: account_opened(email) for email in sorted(emails)}
    for action, context in actions:
        assert runner is not None
        facts.plans[context.ticket_id] = runner.plan(action, context)
    return facts


def route_tickets(
    session: Session,
    ticket_ids: list[int],
    *,
    policy: RoutingPolicy,
    facts: StoreFacts | None = None,
    now: datetime | None = None,
) -> dict[int, Decision]:
    """Route triaged tickets, store route, reason and risk on each, and audit every decision.

    `facts`: what the store said (gathered before this transaction); without them account ages are unknown and an
    action is "not checked yet", so its ticket goes to a person."""
    now = now or utcnow()
    facts = facts or StoreFacts()
    tickets = [
        t
        for t in session.exec(select(Ticket).where(col(Ticket.id).in_(ticket_ids)).order_by(col(Ticket.id)))
        if t.triaged_at is not None
        and t.status != TicketStatus.RESOLVED
        and not (t.route == Route.AUTO_RESOLVE and t.outcome == Outcome.FAILED)  # an agent already took over
    ]
    if not tickets:
        return {}
    batch = _Batch.load(session, tickets)
    decisions: dict[int, Decision] = {}
    records = []
    for ticket in tickets:
        assert ticket.id is not None
        email = (batch.customers[ticket.customer_id].email or "").strip().lower()
        decisions[ticket.id], record = _route_one(session, ticket, batch, policy, facts, now, facts.opened.get(email))
        records.append(record)
        if "wants_human" in decisions[ticket.id].failed():  # they keep reaching a person from now on
            asked = mark_asked_for_person(batch.customers[ticket.customer_id])
            records += [asked] if asked is not None else []
    # after the ticket updates: they reach the database in one flush
    audit.append_many(session, records)
    return decisions


@dataclass
class _Batch:
    """Everything routing reads about a batch of tickets, loaded with one query per table."""

    customers: dict[int, Customer]
    texts: dict[int, str]
    triage: dict[int, list[TriageResult]]
    complaints: dict[int, int]

    @classmethod
    def load(cls, session: Session, tickets: list[Ticket]) -> _Batch:
        ids = [t.id for t in tickets]
        customer_ids = {t.customer_id for t in tickets}
        customers = {c.id or 0: c for c in session.exec(select(Customer).where(col(Customer.id).in_(customer_ids)))}
        messages: dict[int, list[Message]] = {}
        query = (
            select(Message).where(col(Message.ticket_id).in_(ids)).order_by(col(Message.created_at), col(Message.id))
        )
        for message in session.exec(query):
            messages.setdefault(message.ticket_id, []).append(message)
        triage: dict[int, list[TriageResult]] = {}
        for row in session.exec(
            select(TriageResult).where(col(TriageResult.ticket_id).in_(ids)).order_by(col(TriageResult.id))
        ):
            triage.setdefault(row.ticket_id, []).append(row)
        texts = {ticket_id: customer_text(thread) for ticket_id, thread in messages.items()}
        return cls(customers, texts, triage, complaints_by_customer(session, customer_ids))


def _route_one(
    session: Session,
    ticket: Ticket,
    batch: _Batch,
    policy: RoutingPolicy,
    facts: StoreFacts,
    now: datetime,
    opened: datetime | None,
) -> tuple[Decision, audit.Record]:
    """The decision, stored on the ticket, and its audit record."""
    assert ticket.id is not None
    customer = batch.customers[ticket.customer_id]
    triage = batch.triage.get(ticket.id, [])
    text = batch.texts.get(ticket.id, "")
    latest = triage[-1] if triage else None
    prediction = _prediction(ticket, latest)
    rising = frustration_rising([t.valence for t in triage])
    sentiment = SentimentSummary(ticket.valence or 0.0, ticket.urgency or 0.0, rising)
    complaints = batch.complaints.get(ticket.customer_id, 0)
    inputs = inputs_for(ticket, customer, text, rising=rising, complaints=complaints, now=now, account_opened=opened)
    risk = risk_score(inputs)
    decision = route(ticket, prediction, sentiment, customer, risk, policy, text=text)
    planned = facts.plans.get(ticket.id)
    if decision.failed() == ["action"] and planned is not None and planned.action == decision.action:
        verdict = _verdict(session, planned, policy.refund_approval_limit)
        decision = route(ticket, prediction, sentiment, customer, risk, policy, text=text, action=verdict)
    record = _store(session, ticket, decision, risk, latest.model_version if latest else "")
    return decision, record


def ticket_text(session: Session, ticket_id: int) -> str:
    """All customer messages of a ticket as one text, as triage read them."""
    query = select(Message).where(Message.ticket_id == ticket_id).order_by(col(Message.created_at), col(Message.id))
    return customer_text(list(session.exec(query)))


def _prediction(ticket: Ticket, latest: TriageResult | None) -> IntentPrediction:
    if latest is None:
        return IntentPrediction(ticket.intent or "unknown", ticket.intent_confidence or 0.0, ticket.intent is None, [])
    alternatives = [(str(a["label"]), float(a["p"])) for a in latest.alternatives]
    return IntentPrediction(latest.intent, latest.confidence, latest.is_unknown, alternatives, latest.heads_agree)


def _verdict(session: Session, planned: Planned, refund_limit: float) -> ActionVerdict:
    """Whether the dry run of the intent's action passed the store policy for this customer, and for the AI alone."""
    action = action_named(planned.action)
    try:
        plan = record_preview(session, planned, actor="router")
    except StoreError as exc:
        # the reason reaches the audit log: the store's error text is redacted (it may quote an e-mail)
        return ActionVerdict(False, f"action '{action.title}' could not be checked: {redact(str(exc)).text}")
    if plan.check.ok and action.over_limit(plan, refund_limit):
        return ActionVerdict(False, f"{plan.summary}: above the ${refund_limit:,.2f} limit, a supervisor approves it")
    return ActionVerdict(plan.check.ok, plan.check.text(action.title))


def _store(session: Session, ticket: Ticket, decision: Decision, risk: RiskScore, model_version: str) -> audit.Record:
    """Write the decision on the ticket (an automatic answer the customer came back to stays on record as failed);
    returns its audit record."""
    if _came_back(ticket) and decision.route != Route.ESCALATE:
        ticket.outcome = Outcome.FAILED
    else:
        ticket.route = decision.route
    ticket.route_reason = decision.reason
    ticket.risk = risk.score
    if decision.route == Route.ESCALATE:
        ticket.status = TicketStatus.ESCALATED
        ticket.outcome = Outcome.ESCALATED
    session.add(ticket)
    details = {
        "route": decision.route.value,
        "reason": decision.reason,
        "intent": ticket.intent,
        "confidence": ticket.intent_confidence,
        "risk": risk.score,
        "factors": [
            {"key": f.key, "label": f.label, "value": f.value, "contribution": f.contribution} for f in risk.factors
        ],
        "checks": [{"key": c.key, "passed": c.passed, "text": c.text} for c in decision.checks],
        "action": decision.action,
    }
    actor = f"model:{model_version}" if model_version else "router"
    return audit.Record(actor, ROUTE_AUDIT, f"ticket:{ticket.id}", details)
