"""Agent NPS from the agents' monthly answers (engine/agent_pulse.py), for a period and the one before it.

NPS = % promoters (9-10) - % detractors (0-6) among the answers given in the period; dismissals do not count.
Agents answer about the assist as a whole, so the channel, intent and live-only filters do not apply.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection
from sqlmodel import col

from engine.kpi.filters import END, PREV_START, START
from engine.store.pulse_models import AgentPulse

PROMOTER, DETRACTOR = 9, 6  # promoters answer 9-10, detractors 0-6
_score, _at = col(AgentPulse.score), col(AgentPulse.at)
_points = func.coalesce(func.sum(case((_score >= PROMOTER, 100), (_score <= DETRACTOR, -100), else_=0)), 0)


def _between(start: Any, end: Any) -> Any:
    where = (_score.is_not(None), _at >= start, _at < end)
    return select(_points, func.count()).where(*where)


NPS_MEASURES: dict[str, str] = {
    "nps_points": "100 per promoter answer (9-10), -100 per detractor answer (0-6)",
    "nps_answers": "agent answers to the monthly question",
}


def nps_measures(connection: Connection, bound: dict[str, Any]) -> dict[bool, dict[str, float | None]]:
    """The NPS measures by period (True = current, False = previous)."""
    current = connection.execute(_between(START, END), bound).one()
    previous = connection.execute(_between(PREV_START, START), bound).one()
    return {
        True: {"nps_points": float(current[0]), "nps_answers": float(current[1])},
        False: {"nps_points": float(previous[0]), "nps_answers": float(previous[1])},
    }
