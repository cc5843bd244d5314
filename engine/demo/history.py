"""Demo history: what happened to the demo tickets that were already resolved, so every dashboard chart has data.

`simulate_story` draws one ticket's past (the AI's prediction, route, outcome, response and handle times, agent
feedback, survey answer) from simple, consistent rules; `enrich_demo_history` applies stories to the seeded
resolved tickets. Open tickets are left to the real triage worker.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from engine.sla import SlaSettings, start_clock
from engine.store.models import (
    Direction,
    Feedback,
    FeedbackKind,
    Message,
    Outcome,
    Route,
    Survey,
    Ticket,
    TicketStatus,
    TriageResult,
)
from engine.surveys import new_token

log = logging.getLogger(__name__)

DEMO_SLA = SlaSettings()  # the default policy: the demo history is measured against it
MODEL_VERSION = "demo-history"
AGENTS = ("maria", "sam", "aiko", "tunde", "lea")
REJECT_REASONS = (
    "Cites the wrong policy for this case",
    "Too generic for an upset customer",
    "Needs details from the customer's account",
)
COME_BACK = (
    "That did not solve my problem, can someone actually look at it?",
    "I tried that already and it still does not work.",
)
AGENT_FOLLOW_UP = (
    "Sorry for the trouble. I checked your case myself and fixed it; let me know if anything else comes up."
)


@dataclass(frozen=True)
class FeedbackEvent:
    """One agent action on a ticket, `after` its creation."""

    kind: str
    after: timedelta
    old_intent: str
    new_intent: str | None = None
    edit_distance: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Story:
    """One ticket's simulated past; times are offsets from its creation."""

    ai_intent: str
    confidence: float
    valence: float
    urgency: float
    route: str
    route_reason: str
    outcome: str
    first_response: timedelta
    resolution: timedelta
    handle_seconds: float | None
    contacts: int
    feedback: tuple[FeedbackEvent, ...]
    csat: int | None  # None: the survey was not answered
    ces: int | None
    answered_after: timedelta  # after resolution

    @property
    def sentiment_label(self) -> str:
        return sentiment_label(self.valence)

    @property
    def confirmed_intent(self) -> str:
        """The ticket's intent after the agents' corrections."""
        overrides = [f.new_intent for f in self.feedback if f.kind == FeedbackKind.OVERRIDE_INTENT and f.new_intent]
        return overrides[-1] if overrides else self.ai_intent


def sentiment_label(valence: float) -> str:
    """negative / neutral / positive from a valence in [-1, 1]."""
    return "negative" if valence < -0.3 else "positive" if valence > 0.3 else "neutral"


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _agent_delay(rng: random.Random, channel: str) -> timedelta:
    """How long a customer waits for an agent: minutes on chat, hours on email (log-normal)."""
    median_minutes = {"chat": 6.0, "voice": 3.0, "sms": 45.0, "social": 60.0}.get(channel, 240.0)
    return timedelta(minutes=_clip(rng.lognormvariate(0, 1.0) * median_minutes, 1.0, 60 * 48))


def _edit_size(rng: random.Random, intent: str) -> int:
    """Characters an agent changes in a draft; some intents need more editing than others (stable per intent)."""
    scale = 30 + zlib.crc32(intent.encode()) % 140
    return max(3, int(rng.expovariate(1 / scale)))


def _satisfaction(rng: random.Random, outcome: str, contacts: int, valence: float, hours: float) -> tuple[int, int]:
    base = {
        Outcome.RESOLVED_BY_AI: 8.6,
        Outcome.RESOLVED_WITH_EDIT: 8.2,
        Outcome.RESOLVED_BY_AGENT: 7.6,
        Outcome.ESCALATED: 6.0,
        Outcome.FAILED: 3.5,
    }[Outcome(outcome)]
    csat = base + 1.5 * valence - 0.6 * (contacts - 1) - min(hours / 24.0, 2.0) + rng.gauss(0, 1.0)
    effort = (
        1.2
        + 0.9 * (contacts - 1)
        + (1.2 if outcome in (Outcome.ESCALATED, Outcome.FAILED) else 0.0)
        + rng.gauss(0, 0.5)
    )
    return round(_clip(csat, 1, 10)), round(_clip(effort, 1, 5))


def simulate_story(
    rng: random.Random,
    *,
    gold_intent: str,
    intents: Sequence[str],
    channel: str,
    auto_resolve_threshold: float = 0.90,
    accuracy: float = 0.9,
    survey_response_rate: float = 0.4,
) -> Story:
    """Draw one resolved ticket's past from the AI's (simulated) prediction onwards."""
    others = [i for i in intents if i != gold_intent]
    correct = rng.random() < accuracy or not others
    ai_intent = gold_intent if correct else rng.choice(others)
    confidence = round(_clip(1 - rng.betavariate(1.3, 9) if correct else rng.betavariate(4, 3), 0.05, 0.995), 4)
    valence = round(_clip(rng.gauss(-0.12 - (0.15 if channel == "social" else 0.0), 0.35), -1, 1), 3)
    urgency = round(_clip(rng.gauss(0.3, 0.15) + 0.4 * max(0.0, -valence), 0, 1), 3)
    feedback: list[FeedbackEvent] = []
    contacts, handle = 1, 0.0
    if confidence < 0.5 or valence < -0.65:
        route, reason = Route.ESCALATE, f"escalated: confidence {confidence:.2f} or sentiment {valence:+.2f} too risky"
        first_response = _agent_delay(rng, channel) * 1.5
        resolution, outcome = first_response + timedelta(hours=rng.uniform(1, 30)), Outcome.ESCALATED
        contacts += int(rng.random() < 0.4)
        handle = rng.uniform(600, 2400)
    elif confidence >= auto_resolve_threshold and valence > -0.3 and rng.random() < 0.85:
        route, reason = (
            Route.AUTO_RESOLVE,
            f"auto-resolved: intent {ai_intent} {confidence:.2f} >= {auto_resolve_threshold:.2f}",
        )
        first_response = timedelta(minutes=rng.uniform(0.3, 3))
        resolution, outcome = first_response, Outcome.RESOLVED_BY_AI
        if rng.random() < (0.6 if not correct else 0.03):  # the customer came back; an agent finished the job
            outcome, contacts, handle = Outcome.FAILED, 2, rng.uniform(300, 900)
            resolution = first_response + _agent_delay(rng, channel) + timedelta(hours=rng.uniform(0.5, 12))
    else:
        route, reason = Route.ASSIST, f"assist: intent {ai_intent} {confidence:.2f}, a person reviews the draft"
        first_response = _agent_delay(rng, channel)
        resolution = first_response
        contacts += int(rng.random() < 0.08)
        roll = rng.random()
        if correct and roll < 0.55:
            outcome, kind, handle = Outcome.RESOLVED_BY_AI, FeedbackKind.APPROVE, rng.uniform(60, 240)
        elif roll < 0.85:
            outcome, kind, handle = Outcome.RESOLVED_WITH_EDIT, FeedbackKind.EDIT, rng.uniform(180, 600)
        else:
            outcome, kind, handle = Outcome.RESOLVED_BY_AGENT, FeedbackKind.REJECT, rng.uniform(300, 1200)
        if not correct:
            feedback.append(FeedbackEvent(FeedbackKind.OVERRIDE_INTENT, resolution * 0.5, ai_intent, gold_intent))
        intent_at_send = gold_intent
        if kind == FeedbackKind.REJECT:
            feedback.append(FeedbackEvent(kind, resolution * 0.7, intent_at_send, reason=rng.choice(REJECT_REASONS)))
        else:
            size = _edit_size(rng, intent_at_send) if kind == FeedbackKind.EDIT else 0
            feedback.append(FeedbackEvent(kind, resolution, intent_at_send, edit_distance=size))
    if route != Route.ASSIST and not correct:  # an agent who handled or reviewed the ticket corrected its intent
        feedback.append(FeedbackEvent(FeedbackKind.OVERRIDE_INTENT, resolution, ai_intent, gold_intent))
        handle = max(handle, rng.uniform(60, 180))
    csat: int | None = None
    ces: int | None = None
    if rng.random() < survey_response_rate:
        csat, ces = _satisfaction(rng, outcome, contacts, valence, first_response.total_seconds() / 3600)
    return Story(
        ai_intent=ai_intent,
        confidence=confidence,
        valence=valence,
        urgency=urgency,
        route=route,
        route_reason=reason,
        outcome=outcome,
        first_response=first_response,
        resolution=resolution,
        handle_seconds=round(handle, 1) if handle else None,
        contacts=contacts,
        feedback=tuple(feedback),
        csat=csat,
        ces=ces,
        answered_after=timedelta(minutes=rng.uniform(10, 2 * 24 * 60)),
    )


def enrich_demo_history(session: Session, *, now: datetime, seed: int = 23) -> int:
    """Give the seeded resolved demo tickets a consistent past; returns how many got one (0 when done before)."""
    rng = random.Random(seed)
    tickets = list(session.exec(select(Ticket).order_by(col(Ticket.id))))
    messages: dict[int, list[Message]] = {}
    for message in session.exec(select(Message).order_by(col(Message.created_at), col(Message.id))):
        messages.setdefault(message.ticket_id, []).append(message)
    intents = sorted({t.gold_intent for t in tickets if t.gold_intent})
    enriched = 0
    for ticket in tickets:
        assert ticket.id is not None
        thread = messages.get(ticket.id, [])
        ticket.contacts = max(1, sum(1 for m in thread if m.direction == Direction.INBOUND))
        replies = [m for m in thread if m.direction == Direction.OUTBOUND]
        if ticket.status == TicketStatus.RESOLVED and ticket.gold_intent and ticket.route is None and replies:
            story = simulate_story(rng, gold_intent=ticket.gold_intent, intents=intents, channel=ticket.channel)
            _apply(session, ticket, thread, replies[-1], story, now, rng)
            enriched += 1
        session.add(ticket)
    session.flush()
    log.info("demo history: %d resolved tickets enriched", enriched)
    return enriched


def _apply(
    session: Session,
    ticket: Ticket,
    thread: list[Message],
    reply: Message,
    story: Story,
    now: datetime,
    rng: random.Random,
) -> None:
    """Write a story onto a resolved ticket: times, messages, triage rows, feedback and survey."""
    assert ticket.id is not None
    created = ticket.created_at
    resolved = min(created + story.resolution, now - timedelta(minutes=1))
    first = min(created + story.first_response, resolved)
    reply.created_at = resolved
    session.add(reply)
    if story.outcome == Outcome.FAILED:  # the AI's reply, the customer coming back, then the agent's final reply
        session.add(
            Message(
                ticket_id=ticket.id,
                direction=Direction.OUTBOUND,
                author="CareDesk AI",
                body=reply.body,
                created_at=first,
            )
        )
        reply.body, reply.author = AGENT_FOLLOW_UP, rng.choice(AGENTS)
    inbound = [m for m in thread if m.direction == Direction.INBOUND]
    if story.contacts > len(inbound):  # the customer wrote again: after the first response if there was a later one
        at = first + (resolved - first) / 2 if resolved > first else created + (first - created) / 2
        back = Message(ticket_id=ticket.id, author=inbound[0].author, body=rng.choice(COME_BACK), created_at=at)
        session.add(back)
        session.flush()
        inbound.append(back)
    for number, message in enumerate(inbound):
        valence = _clip(story.valence - 0.25 * number, -1, 1)
        session.add(
            TriageResult(
                ticket_id=ticket.id,
                message_id=message.id,
                intent=story.ai_intent,
                confidence=story.confidence,
                sentiment_label=sentiment_label(valence),
                sentiment_probability=0.8,
                valence=valence,
                urgency=story.urgency,
                model_version=MODEL_VERSION,
                created_at=message.created_at + timedelta(seconds=2),
            )
        )
    ticket.contacts = len(inbound)
    overridden = story.confirmed_intent != story.ai_intent
    ticket.intent = story.confirmed_intent
    ticket.intent_confidence = 1.0 if overridden else story.confidence
    ticket.needs_review = False
    ticket.sentiment_label = sentiment_label(_clip(story.valence - 0.25 * (len(inbound) - 1), -1, 1))
    ticket.valence = _clip(story.valence - 0.25 * (len(inbound) - 1), -1, 1)
    ticket.urgency = story.urgency
    ticket.route, ticket.route_reason, ticket.outcome = story.route, story.route_reason, story.outcome
    ticket.first_response_at, ticket.resolved_at, ticket.updated_at = first, resolved, resolved
    ticket.first_resolved_at, ticket.first_contacts, ticket.demo = resolved, ticket.contacts, True
    ticket.handle_seconds, ticket.triaged_at = story.handle_seconds, inbound[-1].created_at + timedelta(seconds=2)
    ticket.drafted_at = ticket.triaged_at if story.route == Route.ASSIST else None
    start_clock(ticket, DEMO_SLA)  # its dues, and whether its simulated answer and resolution met them
    agent = rng.choice(AGENTS)
    for event in story.feedback:
        at = min(created + event.after, now)
        draft = (
            reply.body
            if event.kind != FeedbackKind.EDIT
            else reply.body[: max(0, len(reply.body) - event.edit_distance)]
        )
        session.add(
            Feedback(
                ticket_id=ticket.id,
                kind=event.kind,
                draft_text=draft if event.kind != FeedbackKind.OVERRIDE_INTENT else "",
                final_text=reply.body if event.kind in (FeedbackKind.APPROVE, FeedbackKind.EDIT) else "",
                edit_distance=len(reply.body) - len(draft) if event.kind == FeedbackKind.EDIT else 0,
                old_intent=event.old_intent,
                new_intent=event.new_intent,
                reason=event.reason,
                agent=agent,
                created_at=at,
            )
        )
    answered = resolved + story.answered_after
    survey = Survey(ticket_id=ticket.id, token=new_token(), sent_at=resolved)
    if story.csat is not None and answered <= now:
        survey.csat, survey.ces, survey.answered_at = story.csat, story.ces, answered
    session.add(survey)
