"""The learning loop: retrain promotes only if not worse, jobs retry and log failures, drift alerts, learned replies."""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine as SAEngine
from sqlmodel import Session, select

from engine.config import Settings
from engine.feedback.drift import acknowledge, check_drift, open_alerts
from engine.feedback.learned_replies import LearnedReplyError, promote_to_kb
from engine.feedback.retrain import MIN_HOLDOUT, held_back, retrain
from engine.feedback.training_data import confirmed_rows
from engine.ingest.bulk_import import import_tickets
from engine.ingest.intake import InboundMessage, intake
from engine.jobs import Jobs, history
from engine.nlp.embedder import HashingEmbedder
from engine.nlp.intent.registry import IntentModelRegistry
from engine.store.audit_models import AuditEntry
from engine.store.db import session_scope
from engine.store.models import Feedback, FeedbackKind, Ticket, TriageResult, utcnow
from tests.engine.ingest.test_import import history_csv, make_engine
from tests.waiting import wait_for

TOPICS = {
    "track_order": [
        "where is my order {n}",
        "track parcel {n} please",
        "has order {n} shipped",
        "delivery status of {n}",
    ],
    "get_refund": ["refund order {n}", "I want my money back for {n}", "return {n} and refund me", "refund please {n}"],
    "reset_password": [
        "forgot my password {n}",
        "reset password for account {n}",
        "cannot log in {n} password",
        "new password {n}",
    ],
}


def _rows(count: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(count):
        label = rng.choice(sorted(TOPICS))
        texts.append(rng.choice(TOPICS[label]).format(n=rng.randint(1, 10**6)))
        labels.append(label)
    return texts, labels


def _embed(texts):  # type: ignore[no-untyped-def]
    return HashingEmbedder().encode(list(texts))


def test_held_back_slice_is_stable_and_about_a_tenth() -> None:
    texts, _ = _rows(2000, 1)
    share = sum(held_back(t) for t in texts) / len(texts)
    assert 0.07 < share < 0.13 and held_back(texts[0]) == held_back("  " + texts[0].upper() + " ")


def test_retrain_promotes_a_better_model_and_keeps_a_worse_one_as_candidate(tmp_path: Path) -> None:
    registry = IntentModelRegistry(tmp_path / "intent")
    base = _rows(60, 2)
    _, first = retrain(registry, base=base, confirmed=([], []), embed=_embed, trigger="initial")
    assert first.promoted and first.reason == "no model was active"
    confirmed = _rows(600, 3)
    _, better = retrain(registry, base=base, confirmed=confirmed, embed=_embed, trigger="test")
    assert better.promoted and better.held_back >= MIN_HOLDOUT
    assert better.candidate_accuracy is not None and better.active_accuracy is not None
    assert better.candidate_accuracy >= better.active_accuracy
    swap = dict(zip(sorted(TOPICS), sorted(TOPICS)[1:] + sorted(TOPICS)[:1], strict=True))
    wrong_texts, wrong_labels = _rows(3000, 4)
    poisoned = (wrong_texts, [swap[label] for label in wrong_labels])  # a bad import: every label shifted
    _, worse = retrain(registry, base=poisoned, confirmed=confirmed, embed=_embed, trigger="test")
    assert not worse.promoted and worse.reason.startswith(f"accuracy {worse.candidate_accuracy:.3f} < active")
    active = registry.active()
    assert active is not None and active[1]["version"] == better.version
    kept = {v["version"]: v for v in registry.versions()}[worse.version]
    assert not kept["active"] and kept["metrics"]["holdout_accuracy"] == worse.candidate_accuracy
    assert kept["metrics"]["verdict"] == worse.reason


def test_too_few_held_back_labels_keep_the_candidate(tmp_path: Path) -> None:
    registry = IntentModelRegistry(tmp_path / "intent")
    retrain(registry, base=_rows(60, 5), confirmed=([], []), embed=_embed, trigger="initial")
    _, result = retrain(registry, base=_rows(60, 5), confirmed=_rows(30, 6), embed=_embed, trigger="test")
    assert not result.promoted and f"need {MIN_HOLDOUT}" in result.reason


def test_a_failing_job_is_retried_logged_and_recorded(tmp_path: Path, db: SAEngine) -> None:
    jobs = Jobs(tmp_path, db, retry_delays=(0.2,))
    calls: list[int] = []

    def flaky(progress) -> str:  # type: ignore[no-untyped-def]
        calls.append(1)
        progress(0.5, "half way")
        if len(calls) == 1:
            raise RuntimeError("the database was busy")
        return "done on the retry"

    jobs.add("flaky", "Flaky job", flaky, IntervalTrigger(hours=1), "hourly")
    jobs.start()
    try:
        jobs.run_now("flaky")
        wait_for(lambda: len(history(tmp_path)) == 2, 10, "the failed run on record")
        state = jobs.status()[0]
    finally:
        jobs.stop()
    first, second = history(tmp_path)
    assert (
        first["last_ok"] is False and first["last_result"] == "RuntimeError: the database was busy (retry 1 in 0.2 s)"
    )
    assert second["last_ok"] is True and second["attempt"] == 1 and second["last_result"] == "done on the retry"
    assert state.last_ok and state.progress == 1.0 and not state.running and state.next_run is not None
    with Session(db) as session:
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "job_failed")).one()
    assert audited.subject == "job:flaky" and audited.details["will_retry"] is True


def test_a_job_failing_every_retry_stays_on_record(
    tmp_path: Path, db: SAEngine, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = Jobs(tmp_path, db, retry_delays=(0.1, 0.1))

    def broken(progress) -> str:  # type: ignore[no-untyped-def]
        raise ValueError("no training data")

    jobs.add("broken", "Broken job", broken, IntervalTrigger(hours=1), "hourly")
    with caplog.at_level(logging.WARNING):
        jobs.start()
        try:
            jobs.run_now("broken")
            wait_for(lambda: len(history(tmp_path)) == 3, 10, "the retry on record")
        finally:
            jobs.stop()
    assert [row["last_ok"] for row in history(tmp_path)] == [False, False, False]
    assert any(r.levelno == logging.ERROR and "failed 3 times" in r.getMessage() for r in caplog.records)
    restarted = Jobs(tmp_path, db)
    restarted.add("broken", "Broken job", broken, IntervalTrigger(hours=1), "hourly")
    assert restarted.status()[0].last_result == "ValueError: no training data"  # survives a restart


def test_drift_alert_when_confidence_falls_and_overrides_rise(tmp_path: Path, session: Session) -> None:
    now = utcnow()
    for n in range(80):
        recent = n % 2 == 0
        result = intake(
            session, InboundMessage(channel="chat", customer_name="C", customer_email=f"c{n}@x.org", text=f"q {n}")
        )
        at = now - (timedelta(days=2) if recent else timedelta(days=20))
        session.add(
            TriageResult(ticket_id=result.ticket_id, intent="x", confidence=0.55 if recent else 0.95, created_at=at)
        )
        if recent and n % 4 == 0:
            session.add(
                Feedback(ticket_id=result.ticket_id, kind=FeedbackKind.OVERRIDE_INTENT, new_intent="y", created_at=at)
            )
    session.flush()
    report = check_drift(session, tmp_path, now=now)
    assert report.week.tickets == 40 and report.month.tickets == 40 and report.psi is not None and report.psi > 0.2
    assert any("mean intent confidence fell from 0.95 to 0.55" in f for f in report.findings)
    assert any("agents corrected 50% of intents this week, 0% before" in f for f in report.findings)
    alerts = open_alerts(tmp_path)
    assert len(alerts) == 1 and alerts[0].message.startswith("Intent model drift:")
    assert acknowledge(tmp_path, alerts[0].id, actor="sup") and open_alerts(tmp_path) == []


def test_no_drift_alert_without_enough_tickets(tmp_path: Path, session: Session) -> None:
    report = check_drift(session, tmp_path)
    assert report.psi is None and report.findings == [] and open_alerts(tmp_path) == []


def _sent(session: Session, text: str, reply: str, *, intent: str, kind: str = FeedbackKind.APPROVE) -> int:
    result = intake(session, InboundMessage(channel="email", customer_name="Bo", customer_email="bo@x.org", text=text))
    ticket = session.get(Ticket, result.ticket_id)
    assert ticket is not None
    ticket.intent = intent
    feedback = Feedback(ticket_id=result.ticket_id, kind=kind, final_text=reply, agent="ann")
    session.add(feedback)
    session.flush()
    assert feedback.id is not None
    return feedback.id


def test_promote_a_learned_reply_to_a_knowledge_article(settings: Settings, db: SAEngine) -> None:
    with session_scope(db) as session:
        good = _sent(session, "How do I track my order?", "Hi Bo, open Orders and press Track.", intent="track_order")
        personal = _sent(session, "Where?", "Hi Bo, it goes to bo@x.org.", intent="track_order")
    spec = promote_to_kb(db, None, good, actor="ann")
    assert spec.key == f"learned/track_order/{good}" and "## Answer\n\nopen Orders and press Track." in spec.text
    with pytest.raises(LearnedReplyError, match="personal data"):
        promote_to_kb(db, None, personal)
    with Session(db) as session:
        assert (
            session.exec(select(AuditEntry).where(AuditEntry.action == "learned_reply_promoted")).one().actor == "ann"
        )


@pytest.mark.real_models
def test_real_embeddings_retrain_learns_a_new_intent_from_corrections(tmp_path: Path) -> None:
    from engine.nlp.embedder import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    registry = IntentModelRegistry(tmp_path / "intent")
    base = _rows(45, 7)
    retrain(registry, base=base, confirmed=([], []), embed=embedder.encode, trigger="initial")
    rng = random.Random(8)
    cancel = [f"please cancel my subscription {rng.randint(1, 10**6)}" for _ in range(150)]
    cancel += [f"stop my membership plan number {rng.randint(1, 10**6)}" for _ in range(150)]
    texts, labels = _rows(200, 9)
    confirmed = (texts + cancel, labels + ["cancel_subscription"] * len(cancel))
    model, result = retrain(registry, base=base, confirmed=confirmed, embed=embedder.encode, trigger="test")
    assert result.promoted and "cancel_subscription" in model.labels
    prediction = model.predict(
        ["I'd like to cancel my subscription"], embedder.encode(["I'd like to cancel my subscription"])
    )
    assert prediction[0].label == "cancel_subscription"


def test_imported_history_labels_train_the_intent_model_but_demo_labels_do_not(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "data")
    import_tickets(engine, history_csv(tmp_path / "history.csv", 4))
    with engine.transaction() as session:  # a ticket that arrived with a label but not from an import
        live = intake(session, InboundMessage(channel="email", customer_name="Al", text="Where is my parcel?"))
        ticket = session.get(Ticket, live.ticket_id)
        assert ticket is not None
        ticket.gold_intent = "track_order"
    with engine.session() as session:
        texts, labels = confirmed_rows(session)
    assert sorted(texts) == [f"Ticket {i}: I was charged twice, please refund." for i in range(4)]
    assert labels == ["refund"] * 4
