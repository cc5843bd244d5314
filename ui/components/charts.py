"""Plotly figures (plain dicts) for the dashboard and the weekly report, built from one DashboardData."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from engine.kpi import DashboardData

Figure = dict[str, Any]

CHANNEL_COLOURS = {"email": "#1f4e79", "chat": "#3d8b6e", "sms": "#c2571a", "social": "#7b4f9d", "voice": "#a08a2c"}
FONT = {"family": "Inter, system-ui, sans-serif", "size": 12, "color": "#1d2733"}
TOP_INTENTS = 15
MARKED_DAYS = 62  # longer sentiment series draw channel lines without markers (lighter, and readable)


def config(name: str, *, static: bool = False) -> dict[str, Any]:
    """Plotly config: the modebar with its PNG download (works offline), or none for printing."""
    if static:
        return {"staticPlot": True, "displayModeBar": False, "responsive": True}
    return {
        "displaylogo": False,
        "displayModeBar": True,
        "responsive": True,
        "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
        "toImageButtonOptions": {"format": "png", "filename": f"caredesk-{name}", "scale": 2},
    }


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0.01},
        "font": FONT,
        "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"gridcolor": "#eef1f5"},
        "yaxis": {"gridcolor": "#eef1f5", "rangemode": "tozero"},
        "height": 320,
    }
    layout.update(extra)
    return layout


def no_data(title: str, name: str, static: bool = False) -> Figure:
    """An empty chart saying 'no data'."""
    layout = _layout(title, xaxis={"visible": False}, yaxis={"visible": False})
    layout["annotations"] = [{"text": "no data", "showarrow": False, "font": {"size": 16, "color": "#5b6776"}}]
    return {"data": [], "layout": layout, "config": config(name, static=static)}


def volume(data: DashboardData, *, static: bool = False) -> Figure:
    """Tickets per day, stacked by channel."""
    if not data.daily:
        return no_data("Ticket volume by channel", "volume", static)
    by_channel: dict[str, dict[str, int]] = defaultdict(dict)
    for row in data.daily:
        by_channel[row.channel][row.day] = row.tickets
    traces = [
        {
            "type": "bar",
            "name": channel,
            "x": list(days),
            "y": list(days.values()),
            "marker": {"color": CHANNEL_COLOURS.get(channel, "#888")},
        }
        for channel, days in sorted(by_channel.items())
    ]
    return {
        "data": traces,
        "layout": _layout("Ticket volume by channel", barmode="stack"),
        "config": config("volume", static=static),
    }


def sentiment(data: DashboardData, *, static: bool = False) -> Figure:
    """Mean valence per day and channel (click a point for its tickets), and the day's share of negative tickets."""
    scored = [row for row in data.daily if row.mean_valence is not None]
    if not scored:
        return no_data("Sentiment trend", "sentiment", static)
    by_channel: dict[str, list[Any]] = defaultdict(list)
    for row in scored:
        by_channel[row.channel].append(row)
    traces: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": "negative share",
            "x": [s.day for s in data.sentiment],
            "y": [s.negative_share for s in data.sentiment],
            "yaxis": "y2",
            "marker": {"color": "rgba(198, 40, 40, 0.18)"},
            "customdata": [[s.day, ""] for s in data.sentiment],
            "hovertemplate": "%{x}: %{y:.0%} negative<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "all channels",
            "x": [s.day for s in data.sentiment],
            "y": [s.mean_valence for s in data.sentiment],
            "line": {"color": "#1d2733", "width": 3},
            "customdata": [[s.day, ""] for s in data.sentiment],
            "hovertemplate": "%{x}: valence %{y:+.2f}<extra>all channels</extra>",
        },
    ]
    for channel, rows in sorted(by_channel.items()):
        traces.append(
            {
                "type": "scatter",
                "mode": "markers+lines" if len(data.sentiment) <= MARKED_DAYS else "lines",
                "name": channel,
                "x": [r.day for r in rows],
                "y": [r.mean_valence for r in rows],
                "customdata": [[r.day, channel] for r in rows],
                "marker": {"color": CHANNEL_COLOURS.get(channel, "#888"), "size": 7},
                "line": {"width": 1},
                "hovertemplate": "%{x}: valence %{y:+.2f}<extra>%{customdata[1]}</extra>",
            }
        )
    layout = _layout(
        "Sentiment trend" if static else "Sentiment trend (click a point for its tickets)",
        margin={"l": 50, "r": 60, "t": 40, "b": 40},
        yaxis={"title": "mean valence", "range": [-1, 1], "gridcolor": "#eef1f5", "zeroline": True},
        yaxis2={"title": "negative", "overlaying": "y", "side": "right", "range": [0, 1], "tickformat": ".0%"},
    )
    return {"data": traces, "layout": layout, "config": config("sentiment", static=static)}


def intent_mix(data: DashboardData, *, static: bool = False) -> Figure:
    """The most frequent intents."""
    top = data.intent_mix[:TOP_INTENTS]
    if not top:
        return no_data("Intent mix", "intent-mix", static)
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": [i.intent for i in reversed(top)],
        "x": [i.tickets for i in reversed(top)],
        "marker": {"color": "#3d6e99"},
    }
    layout = _layout("Intent mix", margin={"l": 170, "r": 20, "t": 40, "b": 40}, height=max(320, 22 * len(top) + 80))
    return {"data": [trace], "layout": layout, "config": config("intent-mix", static=static)}


def confidence_histogram(data: DashboardData, *, static: bool = False) -> Figure:
    """How confident the intent model was, with the review threshold's neighbourhood visible."""
    if not any(b.predicted for b in data.confidence):
        return no_data("Intent confidence", "confidence", static)
    trace = {
        "type": "bar",
        "x": [f"{b.low:.1f}–{b.high:.1f}" for b in data.confidence],
        "y": [b.predicted for b in data.confidence],
        "marker": {"color": ["#c62828" if b.high <= 0.8 else "#2e7d32" for b in data.confidence]},
    }
    mean = "" if data.mean_confidence is None else f" (mean {data.mean_confidence:.2f})"
    return {
        "data": [trace],
        "layout": _layout(f"Intent confidence{mean}"),
        "config": config("confidence", static=static),
    }


def outcome_funnel(data: DashboardData, *, static: bool = False) -> Figure:
    """Where triaged tickets went, and what agents did with the AI's drafts."""
    f = data.funnel
    if not f.tickets:
        return no_data("AI outcome funnel", "funnel", static)
    stages = [
        ("Routing", "auto-resolved", f.auto_resolved, "#2e7d32"),
        ("Routing", "assisted", f.assisted, "#3d6e99"),
        ("Routing", "escalated", f.escalated, "#c2571a"),
        ("Drafts", "accepted", f.accepted, "#2e7d32"),
        ("Drafts", "edited", f.edited, "#e0a526"),
        ("Drafts", "rejected", f.rejected, "#c62828"),
    ]
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "name": name,
            "y": [row],
            "x": [value],
            "marker": {"color": colour},
            "text": [f"{name} {value}"],
            "textposition": "inside",
        }
        for row, name, value, colour in stages
    ]
    layout = _layout(
        f"AI outcome funnel ({f.triaged} of {f.tickets} tickets triaged)",
        barmode="stack",
        yaxis={"autorange": "reversed"},
        showlegend=False,
        height=240,
    )
    return {"data": traces, "layout": layout, "config": config("funnel", static=static)}


def confusion(data: DashboardData, *, static: bool = False) -> Figure:
    """Counts of AI intent (rows) against the intent agents confirmed (columns)."""
    if not data.confusion:
        return no_data("AI intent vs agent-confirmed intent", "confusion", static)
    labels = sorted({c.ai_intent for c in data.confusion} | {c.confirmed for c in data.confusion})
    index = {label: i for i, label in enumerate(labels)}
    z = [[0] * len(labels) for _ in labels]
    for cell in data.confusion:
        z[index[cell.ai_intent]][index[cell.confirmed]] = cell.tickets
    trace = {
        "type": "heatmap",
        "x": labels,
        "y": labels,
        "z": z,
        "colorscale": [[0, "#ffffff"], [0.01, "#dce8f5"], [1, "#1f4e79"]],
        "hovertemplate": "AI %{y} → agent %{x}: %{z}<extra></extra>",
    }
    size = max(360, 18 * len(labels) + 160)
    layout = _layout(
        "AI intent (rows) vs agent-confirmed intent (columns)",
        height=size,
        margin={"l": 170, "r": 20, "t": 40, "b": 150},
        xaxis={"tickangle": -45},
        yaxis={"autorange": "reversed"},
    )
    return {"data": [trace], "layout": layout, "config": config("confusion", static=static)}


def reliability(data: DashboardData, *, static: bool = False) -> Figure:
    """Predicted confidence against how often agents confirmed the intent, per confidence bin."""
    bins = [b for b in data.confidence if b.reviewed]
    if not bins:
        return no_data("Reliability (confidence vs accuracy)", "reliability", static)
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "perfect calibration",
            "x": [0, 1],
            "y": [0, 1],
            "line": {"dash": "dot", "color": "#9aa5b1"},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "observed",
            "x": [b.mean_confidence for b in bins],
            "y": [b.accuracy for b in bins],
            "text": [f"{b.reviewed} reviewed" for b in bins],
            "marker": {"size": [min(8 + b.reviewed**0.5 * 2, 30) for b in bins], "color": "#1f4e79"},
            "hovertemplate": "confidence %{x:.2f}, accuracy %{y:.0%} (%{text})<extra></extra>",
        },
    ]
    layout = _layout(
        "Reliability: confidence vs observed accuracy",
        xaxis={"title": "mean predicted confidence", "range": [0, 1], "gridcolor": "#eef1f5"},
        yaxis={"title": "agent-confirmed accuracy", "range": [0, 1.02], "gridcolor": "#eef1f5", "tickformat": ".0%"},
    )
    return {"data": traces, "layout": layout, "config": config("reliability", static=static)}


def edit_distance(data: DashboardData, *, static: bool = False) -> Figure:
    """Mean characters agents changed in a sent draft, per intent."""
    rows = data.edit_distance[:TOP_INTENTS]
    if not rows:
        return no_data("Draft edit distance by intent", "edit-distance", static)
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": [r.intent for r in reversed(rows)],
        "x": [r.mean_distance for r in reversed(rows)],
        "text": [f"{r.edited}/{r.sent} edited" for r in reversed(rows)],
        "textposition": "outside",
        "cliponaxis": False,
        "marker": {"color": "#e0a526"},
    }
    layout = _layout(
        "Draft edit distance by intent (mean characters changed)",
        margin={"l": 170, "r": 110, "t": 40, "b": 40},
        height=max(320, 22 * len(rows) + 80),
    )
    return {"data": [trace], "layout": layout, "config": config("edit-distance", static=static)}
