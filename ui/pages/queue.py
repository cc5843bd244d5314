"""The queue: every ticket, triaged, most urgent first; j/k to move, Enter to open."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nicegui import events, run, ui

from engine.desk import QueueRow, age_text, queue_rows, ticket_counts
from engine.kpi import Calibration, calibration_at
from engine.runtime import Engine
from ui.auth import current_user
from ui.components.agent_pulse import agent_pulse_banner
from ui.components.deliveries import FailedDeliveries
from ui.state import engine
from ui.theme import frame

COLUMNS: list[dict[str, Any]] = [
    {"name": "channel", "label": "Channel", "field": "channel", "sortable": True, "align": "left"},
    {"name": "customer", "label": "Customer", "field": "customer", "sortable": True, "align": "left"},
    {
        "name": "subject",
        "label": "Subject",
        "field": "subject",
        "align": "left",
        "classes": "cd-text",
        "style": "max-width: 420px",
    },
    {"name": "age", "label": "Age", "field": "age_minutes", "sortable": True, "align": "left"},
    {"name": "sla", "label": "SLA", "field": "sla_left", "sortable": True, "align": "left"},
    {"name": "intent", "label": "Intent", "field": "intent", "sortable": True, "align": "left"},
    {"name": "confidence", "label": "Confidence", "field": "confidence", "sortable": True, "align": "left"},
    {"name": "sentiment", "label": "Sentiment", "field": "valence", "sortable": True, "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "sortable": True, "align": "left"},
]
SORTS = {"priority": "Most urgent first", "sla": "Least SLA time left first"}
CLOCK_SECONDS = 30.0  # the queue reloads at least this often, so time left and priorities follow the clock
NO_SLA_LEFT = 1e12  # sorts resolved tickets and tickets without an SLA after every open one
STATUS_FILTERS = {"active": "Open (new, open, escalated)", "all": "All", "resolved": "Resolved"}
CHANNEL_FILTERS = {
    "all": "All channels",
    "email": "Email",
    "chat": "Chat",
    "sms": "SMS",
    "social": "Social",
    "voice": "Voice",
}

CHANNEL_SLOT = r"""
<q-td :props="props">
  <q-icon :name="{email:'mail',chat:'chat',sms:'sms',social:'alternate_email',voice:'call'}[props.value] || 'help'" size="18px" class="q-mr-xs"/>
  {{ props.value }}
</q-td>"""
AGE_SLOT = r"""<q-td :props="props">{{ props.row.age }}</q-td>"""
SLA_SLOT = r"""
<q-td :props="props">
  <q-badge v-if="props.row.sla_text" class="cd-sla" :data-sla="props.row.sla_colour"
    :color="{green:'positive',amber:'warning',red:'negative',grey:'grey-6'}[props.row.sla_colour]"
    :text-color="props.row.sla_colour === 'amber' ? 'black' : 'white'">{{ props.row.sla_text }}
    <q-tooltip>{{ props.row.sla_due }}</q-tooltip></q-badge>
  <span v-else class="cd-muted">no SLA</span>
</q-td>"""
INTENT_SLOT = r"""
<q-td :props="props">
  <span v-if="props.value">{{ props.value }}</span><span v-else class="cd-muted">triaging…</span>
  <q-badge v-if="props.row.needs_review && props.value" color="warning" text-color="black" class="q-ml-xs">review</q-badge>
  <div v-if="props.row.needs_review && props.value" class="text-caption cd-muted" style="line-height: 1.1">
    {{ props.row.review_reason }}</div>
</q-td>"""
CONFIDENCE_SLOT = r"""
<q-td :props="props" style="min-width: 130px">
  <div v-if="props.value !== null" class="row items-center no-wrap" style="gap: 6px">
    <q-linear-progress :value="props.value" rounded size="8px" style="width: 80px"
      :color="props.value >= 0.9 ? 'positive' : (props.value >= props.row.threshold ? 'warning' : 'negative')"/>
    <span>{{ Math.round(props.value * 100) }}%</span>
    <q-tooltip v-if="props.row.calibration">{{ props.row.calibration }}</q-tooltip>
  </div>
  <span v-else-if="props.row.intent === 'unknown'" class="cd-muted">no intent fits</span>
</q-td>"""
SENTIMENT_SLOT = r"""
<q-td :props="props">
  <q-chip v-if="props.row.sentiment" dense text-color="white"
    :color="{negative:'negative',neutral:'grey-7',positive:'positive'}[props.row.sentiment] || 'grey-5'">
    {{ props.row.sentiment }}
  </q-chip>
  <q-icon v-if="props.row.urgency >= 0.6" name="priority_high" color="negative" size="18px"><q-tooltip>urgent</q-tooltip></q-icon>
</q-td>"""
STATUS_SLOT = r"""
<q-td :props="props">
  <q-badge :color="{new:'primary',open:'secondary',escalated:'accent',resolved:'positive'}[props.value] || 'grey'">{{ props.value }}</q-badge>
  <q-icon v-if="props.row.has_draft && props.value !== 'resolved'" name="edit_note" size="18px" class="q-ml-xs"><q-tooltip>draft ready</q-tooltip></q-icon>
</q-td>"""


def row_dict(row: QueueRow, threshold: float, bins: list[Calibration]) -> dict[str, Any]:
    """A queue row as the table's JSON; `bins` (live reliability data) say what its confidence has meant."""
    calibration = calibration_at(bins, row.confidence) if row.confidence is not None else None
    sla = row.sla
    return {
        "id": row.id,
        "channel": row.channel,
        "customer": row.customer,
        "subject": row.subject,
        "age": age_text(row.created_at),
        "age_minutes": -row.created_at.timestamp(),
        "sla_text": sla.text if sla else "",
        "sla_colour": sla.colour if sla else "",
        "sla_left": sla.seconds_left if sla and row.status != "resolved" else NO_SLA_LEFT,
        "sla_due": f"{sla.what.capitalize()} due {sla.due:%Y-%m-%d %H:%M} UTC" if sla else "",
        "intent": row.intent,
        "confidence": None if row.confidence is None else round(row.confidence, 3),
        "needs_review": flagged(row),
        "review_reason": row.review_reason,
        "calibration": calibration.text() if calibration is not None else "",
        "sentiment": row.sentiment,
        "valence": row.valence,
        "urgency": row.urgency or 0.0,
        "status": row.status,
        "has_draft": row.has_draft,
        "threshold": threshold,
    }


def sla_left(row: QueueRow) -> float:
    """Seconds to the row's SLA due (negative when breached); open rows without an SLA and resolved ones last."""
    return row.sla.seconds_left if row.sla is not None and row.status != "resolved" else NO_SLA_LEFT


def flagged(row: QueueRow) -> bool:
    """An open ticket whose intent a person should check (a resolved one was answered already)."""
    return row.needs_review and row.status != "resolved" and bool(row.intent)


def matches(row: QueueRow, *, status: str, channel: str, review_only: bool, search: str) -> bool:
    """Whether a row passes the queue's filters."""
    if status == "active" and row.status == "resolved":
        return False
    if status == "resolved" and row.status != "resolved":
        return False
    if channel != "all" and row.channel != channel:
        return False
    if review_only and not flagged(row):
        return False
    needle = search.strip().lower()
    return not needle or any(needle in (v or "").lower() for v in (row.subject, row.customer, row.intent))


@dataclass
class QueueState:
    """What the queue shows: its filters, the rows and counts loaded last, and the engine revision they are from."""

    status: str = "active"
    channel: str = "all"
    review_only: bool = False
    search: str = ""
    sort: str = "priority"  # a key of SORTS
    rows: list[QueueRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    bins: list[Calibration] = field(default_factory=list)  # the live reliability data, per confidence bin
    revision: int = -1
    loaded_at: float = 0.0  # monotonic time of the last load: time left and priorities move with the clock

    def visible(self) -> list[QueueRow]:
        """The loaded rows that pass the filters, in the chosen order (the engine's is most urgent first)."""
        rows = [
            r
            for r in self.rows
            if matches(r, status=self.status, channel=self.channel, review_only=self.review_only, search=self.search)
        ]
        return sorted(rows, key=sla_left) if self.sort == "sla" else rows

    def tiles(self) -> list[tuple[str, int]]:
        """The count tiles above the table."""
        review = sum(1 for r in self.rows if flagged(r))
        return [
            ("Open", self.counts.get("new", 0) + self.counts.get("open", 0)),
            ("Escalated", self.counts.get("escalated", 0)),
            ("Needs review", review),
            ("Resolved", self.counts.get("resolved", 0)),
        ]


def load_queue(engine: Engine) -> tuple[int, list[QueueRow], dict[str, int], list[Calibration]]:
    """The engine's revision, the queue rows, the ticket counts and the reliability data (run off the event loop)."""
    revision = engine.revision
    return revision, queue_rows(engine), ticket_counts(engine), engine.kpi.reliability()


def count_tiles(state: QueueState) -> None:
    """One card per count (each page refreshes its own copy)."""
    with ui.row().classes("gap-3"):
        for label, value in state.tiles():
            with ui.card().classes("cd-card px-4 py-2 gap-0"):
                ui.label(label).classes("cd-section-title")
                ui.label(str(value)).classes("text-2xl font-semibold").mark(f"count-{label.lower().replace(' ', '-')}")


def filter_bar(state: QueueState, changed: Callable[[], None]) -> None:
    """Search, status, channel and review filters; each change shows the loaded rows again."""

    def set_filter(key: str, value: Any) -> None:
        setattr(state, key, value if value is not None else "")
        changed()

    with ui.row().classes("items-end gap-3 w-full"):
        ui.input("Search subject, customer, intent", on_change=lambda e: set_filter("search", e.value)).props(
            "dense outlined clearable"
        ).classes("w-80").mark("search")
        ui.select(STATUS_FILTERS, value=state.status, on_change=lambda e: set_filter("status", e.value)).props(
            "dense outlined"
        ).mark("status-filter")
        ui.select(CHANNEL_FILTERS, value=state.channel, on_change=lambda e: set_filter("channel", e.value)).props(
            "dense outlined"
        ).mark("channel-filter")
        ui.switch("Needs review only", on_change=lambda e: set_filter("review_only", e.value)).mark("review-filter")
        ui.select(SORTS, value=state.sort, on_change=lambda e: set_filter("sort", e.value)).props(
            "dense outlined"
        ).mark("queue-sort")
        ui.space()
        with ui.row().classes("items-center gap-1 cd-muted text-sm"):
            for key, text in (("j", "down"), ("k", "up"), ("Enter", "open")):
                ui.html(f'<span class="cd-kbd">{key}</span>', sanitize=False)
                ui.label(text).classes("mr-2")


def queue_table() -> ui.table:
    """The ticket table with its cell slots (rows are set by the page)."""
    table = (
        ui.table(
            columns=COLUMNS, rows=[], row_key="id", selection="single", pagination={"rowsPerPage": 25, "sortBy": None}
        )
        .classes("w-full cd-card cd-queue")
        .props("flat dense hide-selected-banner")
        .mark("queue")
    )
    for name, slot in (
        ("channel", CHANNEL_SLOT),
        ("age", AGE_SLOT),
        ("sla", SLA_SLOT),
        ("intent", INTENT_SLOT),
        ("confidence", CONFIDENCE_SLOT),
        ("sentiment", SENTIMENT_SLOT),
        ("status", STATUS_SLOT),
    ):
        table.add_slot(f"body-cell-{name}", slot)
    table.on("rowClick", lambda e: ui.navigate.to(f"/ticket/{e.args[1]['id']}"))
    return table


def move_selection(table: ui.table, step: int) -> None:
    """Select the row `step` rows below (or above) the selected one."""
    if not table.rows:
        return
    ids = [r["id"] for r in table.rows]
    current = ids.index(table.selected[0]["id"]) if table.selected and table.selected[0]["id"] in ids else -1
    index = min(max(current + step, 0), len(ids) - 1)
    table.selected = [table.rows[index]]
    table.update()


async def queue_page(sort: str = "priority") -> None:
    desk = engine()
    state = QueueState(sort=sort if sort in SORTS else "priority")  # /?sort=sla: the header's breach badge links here
    threshold = desk.settings.review_threshold
    tiles = ui.refreshable(count_tiles)  # per page: a refresh never reaches another browser's queue
    with frame("Queue"):
        agent_pulse_banner(desk, current_user())  # the page agents land on after sign-in
        tiles(state)
        filter_bar(state, lambda: show())
        failed = FailedDeliveries(desk)
        failed.panel()
        table = queue_table()

    def show() -> None:
        table.rows = [row_dict(r, threshold, state.bins) for r in state.visible()]
        if table.selected and table.selected[0]["id"] not in {r["id"] for r in table.rows}:
            table.selected = []
        table.update()
        tiles.refresh(state)

    async def poll() -> None:
        if desk.revision == state.revision and time.monotonic() - state.loaded_at < CLOCK_SECONDS:
            return
        loaded = await run.io_bound(load_queue, desk)
        if loaded is None:  # the app is shutting down
            return
        state.revision, state.rows, state.counts, state.bins = loaded
        state.loaded_at = time.monotonic()
        failed.panel.refresh()
        show()

    def on_key(e: events.KeyEventArguments) -> None:
        if not e.action.keydown or e.modifiers.ctrl or e.modifiers.meta or e.modifiers.alt:
            return
        if e.key == "j":
            move_selection(table, 1)
        elif e.key == "k":
            move_selection(table, -1)
        elif e.key.enter and table.selected:
            ui.navigate.to(f"/ticket/{table.selected[0]['id']}")

    ui.keyboard(on_key=on_key, ignore=["input", "select", "button", "textarea"])
    ui.timer(2.0, poll)
    await poll()
