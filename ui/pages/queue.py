"""The queue: every ticket, triaged, most urgent first; j/k to move, Enter to open."""

from __future__ import annotations

from typing import Any

from nicegui import events, run, ui

from engine.desk import QueueRow, age_text, queue_rows, ticket_counts
from engine.kpi_calibration import Calibration, calibration_at, reliability
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
    {"name": "intent", "label": "Intent", "field": "intent", "sortable": True, "align": "left"},
    {"name": "confidence", "label": "Confidence", "field": "confidence", "sortable": True, "align": "left"},
    {"name": "sentiment", "label": "Sentiment", "field": "valence", "sortable": True, "align": "left"},
    {"name": "status", "label": "Status", "field": "status", "sortable": True, "align": "left"},
]
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
    return {
        "id": row.id,
        "channel": row.channel,
        "customer": row.customer,
        "subject": row.subject,
        "age": age_text(row.created_at),
        "age_minutes": -row.created_at.timestamp(),
        "intent": row.intent,
        "confidence": None if row.confidence is None else round(row.confidence, 3),
        "needs_review": row.needs_review and row.status != "resolved",
        "review_reason": row.review_reason,
        "calibration": calibration.text() if calibration is not None else "",
        "sentiment": row.sentiment,
        "valence": row.valence,
        "urgency": row.urgency or 0.0,
        "status": row.status,
        "has_draft": row.has_draft,
        "threshold": threshold,
    }


def matches(row: QueueRow, *, status: str, channel: str, review_only: bool, search: str) -> bool:
    """Whether a row passes the queue's filters."""
    if status == "active" and row.status == "resolved":
        return False
    if status == "resolved" and row.status != "resolved":
        return False
    if channel != "all" and row.channel != channel:
        return False
    if review_only and not (row.needs_review and row.status != "resolved"):
        return False
    needle = search.strip().lower()
    return not needle or any(needle in (v or "").lower() for v in (row.subject, row.customer, row.intent))


def queue_page() -> None:
    threshold = engine().settings.review_threshold
    filters = {"status": "active", "channel": "all", "review_only": False, "search": ""}
    seen_revision = [-1]
    bins: list[Calibration] = []
    with frame("Queue"):
        counts_row = ui.row().classes("gap-3")
        with ui.row().classes("items-end gap-3 w-full"):
            ui.input("Search subject, customer, intent", on_change=lambda e: update("search", e.value)).props(
                "dense outlined clearable"
            ).classes("w-80").mark("search")
            ui.select(STATUS_FILTERS, value="active", on_change=lambda e: update("status", e.value)).props(
                "dense outlined"
            ).mark("status-filter")
            ui.select(CHANNEL_FILTERS, value="all", on_change=lambda e: update("channel", e.value)).props(
                "dense outlined"
            ).mark("channel-filter")
            ui.switch("Needs review only", on_change=lambda e: update("review_only", e.value)).mark("review-filter")
            ui.space()
            with ui.row().classes("items-center gap-1 cd-muted text-sm"):
                for key, text in (("j", "down"), ("k", "up"), ("Enter", "open")):
                    ui.html(f'<span class="cd-kbd">{key}</span>', sanitize=False)
                    ui.label(text).classes("mr-2")
        failed = FailedDeliveries()
        failed.panel()
        table = (
            ui.table(
                columns=COLUMNS,
                rows=[],
                row_key="id",
                selection="single",
                pagination={"rowsPerPage": 25, "sortBy": None},
            )
            .classes("w-full cd-card cd-queue")
            .props("flat dense hide-selected-banner")
            .mark("queue")
        )
        for name, slot in (
            ("channel", CHANNEL_SLOT),
            ("age", AGE_SLOT),
            ("intent", INTENT_SLOT),
            ("confidence", CONFIDENCE_SLOT),
            ("sentiment", SENTIMENT_SLOT),
            ("status", STATUS_SLOT),
        ):
            table.add_slot(f"body-cell-{name}", slot)

    def update(key: str, value: Any) -> None:
        filters[key] = value if value is not None else ""
        load()

    def load() -> None:
        failed.panel.refresh()
        rows = queue_rows(engine())
        visible = [r for r in rows if matches(r, **filters)]  # type: ignore[arg-type]
        table.rows = [row_dict(r, threshold, bins) for r in visible]
        if table.selected and table.selected[0]["id"] not in {r["id"] for r in table.rows}:
            table.selected = []
        table.update()
        counts = ticket_counts(engine())
        review = sum(1 for r in rows if r.needs_review and r.status != "resolved" and r.intent)
        counts_row.clear()
        with counts_row:
            for label, value in (
                ("Open", counts.get("new", 0) + counts.get("open", 0)),
                ("Escalated", counts.get("escalated", 0)),
                ("Needs review", review),
                ("Resolved", counts.get("resolved", 0)),
            ):
                with ui.card().classes("cd-card px-4 py-2 gap-0"):
                    ui.label(label).classes("cd-section-title")
                    ui.label(str(value)).classes("text-2xl font-semibold").mark(
                        f"count-{label.lower().replace(' ', '-')}"
                    )

    def move(step: int) -> None:
        if not table.rows:
            return
        ids = [r["id"] for r in table.rows]
        current = ids.index(table.selected[0]["id"]) if table.selected and table.selected[0]["id"] in ids else -1
        index = min(max(current + step, 0), len(ids) - 1)
        table.selected = [table.rows[index]]
        table.update()

    def open_selected() -> None:
        if table.selected:
            ui.navigate.to(f"/ticket/{table.selected[0]['id']}")

    def on_key(e: events.KeyEventArguments) -> None:
        if not e.action.keydown or e.modifiers.ctrl or e.modifiers.meta or e.modifiers.alt:
            return
        if e.key == "j":
            move(1)
        elif e.key == "k":
            move(-1)
        elif e.key.enter:
            open_selected()

    async def poll() -> None:
        if engine().revision != seen_revision[0]:
            seen_revision[0] = engine().revision
            bins[:] = await run.io_bound(reliability, engine().db) or []  # None: the app is stopping
            load()

    table.on("rowClick", lambda e: ui.navigate.to(f"/ticket/{e.args[1]['id']}"))
    ui.keyboard(on_key=on_key, ignore=["input", "select", "button", "textarea"])
    ui.timer(2.0, poll)
    ui.timer(0.01, poll, once=True)
