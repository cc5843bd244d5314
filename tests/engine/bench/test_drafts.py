"""Real models end to end: a small team history in, drafts for new tickets out, on topic and leaking nothing."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from engine.bench.drafts import run
from engine.bench.reply_judge import template_markers
from engine.config import DEMO_DATA_DIR

BITEXT = DEMO_DATA_DIR / "bitext_customer_support" / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
INTENTS = ("track_order", "get_refund", "recover_password", "cancel_order", "delivery_options")
OTHER_CUSTOMER = ("Anna Berg", "anna.berg@example.com")


def small_split(tmp_path: Path) -> tuple[Path, Path]:
    """12 past tickets per intent (one answered to a named customer), 2 new ones per intent, 2 off-topic messages."""
    by_intent: dict[str, list[dict[str, str]]] = defaultdict(list)
    with BITEXT.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["intent"] in INTENTS:
                by_intent[row["intent"]].append(row)
    history, tickets = tmp_path / "history.csv", tmp_path / "tickets.csv"
    with history.open("w", encoding="utf-8", newline="") as h, tickets.open("w", encoding="utf-8", newline="") as t:
        past, new = csv.writer(h), csv.writer(t)
        past.writerow(["text", "reply", "intent", "customer", "email"])
        new.writerow(["text", "intent", "reply"])
        for intent in INTENTS:
            rows = by_intent[intent]
            for number, row in enumerate(rows[:12]):
                reply, who = row["response"], ("", "")
                if number == 0:  # the other customer's name and address in a past reply
                    reply = f"Dear Anna Berg,\n\n{reply}\n\nWe also wrote to anna.berg@example.com."
                    who = OTHER_CUSTOMER
                past.writerow([row["instruction"], reply, intent, *who])
            for row in rows[40:42]:
                new.writerow([row["instruction"], intent, row["response"]])
        new.writerow(["what is the boiling point of water at high altitude", "", ""])
        new.writerow(["recommend me a good thriller novel for the weekend", "", ""])
    return history, tickets


def test_real_models_draft_from_a_small_history_on_topic_and_leak_nothing(tmp_path: Path) -> None:
    history, tickets = small_split(tmp_path)
    out = tmp_path / "drafts.jsonl"
    result = run(history=history, tickets=tickets, out=out)
    drafts = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert result["n"] == len(drafts) == 2 * len(INTENTS) + 2
    assert result["on_topic_rate"] >= 0.9, result
    assert result["placeholder_leak_rate"] == 0 and result["guidance_leak_rate"] == 0
    assert result["holding_rate_out_of_domain"] == 1.0  # off-topic messages get a holding reply, never a quote
    for draft in drafts:
        assert "Anna" not in draft["draft"] and "anna.berg" not in draft["draft"]
        assert not template_markers(draft["draft"])
        assert draft["basis"] in {"past_reply", "holding"}
        assert draft["draft"].startswith(("Hi ", "Hello,"))
    in_domain = drafts[: 2 * len(INTENTS)]  # with 12 past replies per intent, most messages have a close one
    assert sum(d["basis"] == "past_reply" and d["past_row"] is not None for d in in_domain) >= 8
