"""Write a dev split for `bench drafts`: HISTORY.csv and TICKETS.csv from the Bitext set, plus off-topic tickets.

The Bitext customer-support set is split by intent (80 % of each intent's rows become HISTORY, the rest are held
out); TICKETS holds a seeded sample of the held-out rows (`text`, `intent`, `reply`: the last two are for scoring
only) and a sample of CLINC150's out-of-scope training messages with an empty intent and reply (out of domain: a
holding reply is the right answer). Different seeds give different splits, for cross-validation.

    python scripts/make_drafts_split.py --out /tmp/split13 --seed 13
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BITEXT = Path("bitext_customer_support") / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
CLINC = Path("clinc150") / "data_full_train_only.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for HISTORY.csv and TICKETS.csv")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--history-share", type=float, default=0.8, help="share of each intent's rows in HISTORY")
    parser.add_argument("--tickets", type=int, default=200, help="held-out Bitext messages in TICKETS")
    parser.add_argument("--ood", type=int, default=50, help="CLINC150 out-of-scope messages in TICKETS")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    by_intent: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (args.data / BITEXT).open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            by_intent[row["intent"]].append(row)
    history: list[dict[str, str]] = []
    held_out: list[dict[str, str]] = []
    for intent in sorted(by_intent):
        rows = by_intent[intent][:]
        rng.shuffle(rows)
        cut = round(len(rows) * args.history_share)
        history += rows[:cut]
        held_out += rows[cut:]
    rng.shuffle(history)
    tickets = [(r["instruction"], r["intent"], r["response"]) for r in rng.sample(held_out, args.tickets)]
    oos = [text for text, _ in json.loads((args.data / CLINC).read_text(encoding="utf-8"))["oos_train"]]
    tickets += [(text, "", "") for text in rng.sample(oos, args.ood)]
    rng.shuffle(tickets)

    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "HISTORY.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "reply", "intent"])
        writer.writerows((r["instruction"], r["response"], r["intent"]) for r in history)
    with (args.out / "TICKETS.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent", "reply"])
        writer.writerows(tickets)
    print(f"{args.out}: HISTORY {len(history)} rows, TICKETS {len(tickets)} rows ({args.ood} out of domain)")


if __name__ == "__main__":
    main()
