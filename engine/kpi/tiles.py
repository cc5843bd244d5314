"""The KPI tiles: every KPI is defined once, as a ratio of sums of the documented SQL measures in kpi_queries.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.kpi.filters import KpiParams
from engine.kpi.queries import TICKET_MEASURES, DayRow

Totals = Mapping[str, float | None]


@dataclass(frozen=True)
class Target:
    """The source guide's target for a KPI, e.g. 50-70 % or < 2.0."""

    text: str
    low: float | None = None  # the value must be >= low
    high: float | None = None  # the value must be <= high (< high when strict)
    strict: bool = False  # the bounds themselves miss the target

    def met(self, value: float) -> bool:
        """Whether a value meets the target."""
        if self.low is not None and (value < self.low if not self.strict else value <= self.low):
            return False
        return self.high is None or (value < self.high if self.strict else value <= self.high)


@dataclass(frozen=True)
class KpiDefinition:
    """value = sum(numerator) / sum(denominator) of measures; "measure*param" weighs a measure by a KpiParams field.

    Without a denominator the KPI is a count, "no data" when the measure named by `empty_when` is 0.
    """

    key: str
    label: str
    doc: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...] | None
    unit: str  # "%" (the value is a fraction), "min", "/10", "/5", "/h", "$" or "" (a count)
    better: str  # "higher" or "lower"
    target: Target | None = None
    empty_when: str | None = "tickets"

    @property
    def measures(self) -> tuple[str, ...]:
        """The measures the KPI is computed from."""
        return tuple(term.partition("*")[0] for term in (*self.numerator, *(self.denominator or ())))

    def format(self, value: float | None, *, signed: bool = False) -> str:
        """A value as a person reads it: '54.5 %', '7.2 / 10', '$3.10', 'no data'; signed for changes."""
        if value is None:
            return "no data"
        sign = "+" if signed else ""
        if self.unit == "%":
            return f"{value * 100:{sign}.1f} " + ("pts" if signed else "%")
        if self.unit == "$":
            return f"{'+' if signed and value >= 0 else '-' if value < 0 else ''}${abs(value):,.2f}"
        decimals = {"min": 1, "/10": 1, "/5": 2, "/h": 1}.get(self.unit, 0)
        suffix = {"min": " min", "/10": "" if signed else " / 10", "/5": "" if signed else " / 5", "/h": " / h"}
        return f"{value:{sign},.{decimals}f}{suffix.get(self.unit, '')}"

    def format_change(self, value: float | None, previous: float | None) -> str:
        """The change against the previous period: '+3.2 pts', '-0.4 min', '' when unknown."""
        return "" if value is None or previous is None else self.format(value - previous, signed=True)

    def evaluate(self, totals: Totals, params: KpiParams) -> float | None:
        """This KPI from one period's measure totals; None when there is no data."""
        numerator = _weighted_sum(self.numerator, totals, params)
        if self.denominator is None:
            empty = self.empty_when is not None and not totals.get(self.empty_when)
            return None if empty else numerator
        denominator = _weighted_sum(self.denominator, totals, params)
        if numerator is None or not denominator:
            return None
        return numerator / denominator


def _weighted_sum(terms: tuple[str, ...], totals: Totals, params: KpiParams) -> float | None:
    total = 0.0
    for term in terms:
        name, _, weight = term.partition("*")
        value = totals.get(name)
        if value is None:
            return None
        total += value * (float(getattr(params, weight)) if weight else 1.0)
    return total


@dataclass(frozen=True)
class Kpi:
    """One KPI's value for the period and the previous period of equal length; None means no data."""

    definition: KpiDefinition
    value: float | None
    previous: float | None
    demo: bool = False  # the value counts demo tickets (seeded, their past simulated)

    @property
    def key(self) -> str:
        return self.definition.key

    @property
    def trend(self) -> str | None:
        """'up', 'down' or 'flat' against the previous period; None when either has no data."""
        if self.value is None or self.previous is None:
            return None
        if abs(self.value - self.previous) <= 1e-9 * max(1.0, abs(self.previous)):
            return "flat"
        return "up" if self.value > self.previous else "down"

    @property
    def improving(self) -> bool | None:
        """Whether the trend goes the good way (None when flat or unknown)."""
        if self.trend in (None, "flat"):
            return None
        return (self.trend == "up") == (self.definition.better == "higher")

    @property
    def on_target(self) -> bool | None:
        """Whether the value meets the target (None without a target or a value)."""
        target = self.definition.target
        return None if target is None or self.value is None else target.met(self.value)


DEFINITIONS: tuple[KpiDefinition, ...] = (
    KpiDefinition(
        "ai_resolution_rate",
        "AI resolution rate",
        "Tickets resolved by the AI's own reply (auto-resolved, or its draft sent unchanged), "
        "among tickets with an outcome.",
        ("resolved_by_ai",),
        ("closed",),
        "%",
        "higher",
        Target("50–70 %", low=0.5, high=0.7),
    ),
    KpiDefinition(
        "first_contact_resolution",
        "First contact resolution",
        "Resolved tickets that needed a single customer message, were never reopened and did not fail, among resolved "
        "tickets.",
        ("first_contact",),
        ("resolved",),
        "%",
        "higher",
    ),
    KpiDefinition(
        "avg_handle_time",
        "Average handle time",
        "Mean agent minutes over the tickets an agent worked on.",
        ("handle_minutes",),
        ("handled",),
        "min",
        "lower",
    ),
    KpiDefinition(
        "csat",
        "CSAT",
        "Mean customer satisfaction (1-10) of answered surveys.",
        ("csat_sum",),
        ("csat_answers",),
        "/10",
        "higher",
    ),
    KpiDefinition(
        "ces",
        "Customer effort",
        "Mean customer effort score (1-5, lower is less effort) of answered surveys.",
        ("ces_sum",),
        ("ces_answers",),
        "/5",
        "lower",
        Target("< 2.0", high=2.0, strict=True),
    ),
    KpiDefinition(
        "ai_error_rate",
        "AI error rate",
        "Auto-resolved tickets that failed or whose intent an agent later corrected, among auto-resolved tickets.",
        ("auto_failed", "auto_overridden"),
        ("auto_resolved",),
        "%",
        "lower",
        Target("< 3 %", high=0.03, strict=True),
    ),
    KpiDefinition(
        "agent_productivity",
        "Agent productivity",
        "Resolved tickets (by agents or the AI) per agent-hour spent on them.",
        ("resolved",),
        ("agent_hours",),
        "/h",
        "higher",
    ),
    KpiDefinition(
        "cost_per_ticket",
        "Cost per ticket",
        "Agent hours at the hourly cost plus the AI's compute cost per ticket it worked on, per resolved ticket.",
        ("agent_hours*agent_hourly_cost", "ai_resolved*ai_ticket_cost"),
        ("resolved",),
        "$",
        "lower",
    ),
    KpiDefinition(
        "escalation_rate",
        "Escalation rate",
        "Tickets routed or handed to a senior agent, among all tickets.",
        ("escalated",),
        ("tickets",),
        "%",
        "lower",
    ),
    KpiDefinition(
        "sla_breaches",
        "SLA breaches",
        "Tickets that missed their first-response or resolution due (each ticket's SLA by channel and priority, in "
        "business hours), or are past a due now.",
        ("sla_late", "sla_waiting"),
        None,
        "",
        "lower",
    ),
    KpiDefinition(
        "agent_nps",
        "Agent NPS",
        "Agents' answers to the monthly question 'How likely are you to recommend the AI assist to a colleague?': "
        "% promoters (9-10) minus % detractors (0-6), among the answers given in the period (not filtered by channel "
        "or intent).",
        ("nps_points",),
        ("nps_answers",),
        "",
        "higher",
        Target("> 40", low=40, strict=True),
    ),
    KpiDefinition(
        "backlog",
        "Backlog",
        "Tickets open at the end of the period (created before it ends, not resolved by then).",
        ("backlog",),
        None,
        "",
        "lower",
        empty_when=None,
    ),
    KpiDefinition(
        "override_rate",
        "Intent override rate",
        "Triaged tickets whose intent an agent corrected, among triaged tickets.",
        ("overridden",),
        ("triaged",),
        "%",
        "lower",
    ),
)
BY_KEY = {definition.key: definition for definition in DEFINITIONS}


def period_totals(days: Iterable[DayRow], open_measures: Totals) -> dict[str, float | None]:
    """All measure totals of one period from its day rows and its open-ticket measures."""
    totals: dict[str, float | None] = dict.fromkeys(TICKET_MEASURES, 0.0)
    for row in days:
        for name, value in row.measures.items():
            totals[name] = (totals[name] or 0.0) + value
    return totals | dict(open_measures)


def kpis_from_totals(current: Totals, previous: Totals, params: KpiParams, demo: Totals | None = None) -> list[Kpi]:
    """Every KPI for the period and the previous one; `demo` holds the demo tickets' share of the current totals."""
    demo = demo or {}
    return [
        Kpi(d, d.evaluate(current, params), d.evaluate(previous, params), any(demo.get(m) for m in d.measures))
        for d in DEFINITIONS
    ]
