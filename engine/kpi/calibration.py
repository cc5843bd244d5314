"""What a confidence has meant in practice: of the past tickets agents checked at about this confidence, how many
had the intent the AI predicted: the dashboard's reliability data over all time and every channel."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, true
from sqlalchemy.engine import Engine as SAEngine

from engine.kpi.queries import BINS, CHECK_ROLLUP

MIN_CHECKED = 5  # fewer checked tickets in a bin say nothing about it


@dataclass(frozen=True)
class Calibration:
    """The reliability bin a confidence falls in: its range, how many tickets agents checked, how many were right."""

    low: float
    high: float
    checked: int
    correct: int

    def text(self) -> str:
        """The sentence an agent reads next to the confidence."""
        span = f"{self.low:.0%}–{self.high:.0%}"
        if self.checked < MIN_CHECKED:
            checked = f"Only {self.checked} past tickets at {span} confidence were checked"
            return f"{checked}: too few to say how often it is right."
        share = self.correct / self.checked
        return f"Of {self.checked} past tickets checked at {span} confidence, {share:.0%} had the predicted intent."


def reliability(db: SAEngine) -> list[Calibration]:
    """Per confidence bin, the all-time checked and confirmed tickets (the dashboard's reliability query, read live
    and read-only); run it off the UI loop."""
    checked, correct = [0] * BINS, [0] * BINS
    rows = CHECK_ROLLUP.source(true()).subquery()
    query = select(rows.c.ai_bin, rows.c.correct, func.sum(rows.c.tickets)).where(rows.c.checked == 1)
    with db.connect() as connection:
        for ai_bin, right, tickets in connection.execute(query.group_by(rows.c.ai_bin, rows.c.correct)):
            if ai_bin is not None:
                checked[int(ai_bin)] += int(tickets)
                correct[int(ai_bin)] += int(tickets) if right else 0
    return [Calibration(i / BINS, (i + 1) / BINS, checked[i], correct[i]) for i in range(BINS)]


def calibration_at(bins: list[Calibration], confidence: float) -> Calibration | None:
    """The bin `confidence` falls in (None when there are no bins)."""
    for b in bins:
        if b.low <= confidence < b.high or (confidence >= 1.0 and b.high >= 1.0):
            return b
    return None
