"""Measure an agent's active time on the ticket page (visible, focused, not idle) and report it to the engine."""

from __future__ import annotations

import logging

from nicegui import events, run, ui

from engine.desk import add_handle_time
from engine.runtime import Engine
from engine.worktime import IDLE_CUTOFF_SECONDS, REPORT_SECONDS

log = logging.getLogger(__name__)

SCRIPT = """
(() => {
  if (window.cdHandle) { window.cdHandle.reset(); return; }
  const idle = %(idle)d * 1000;
  let active = 0, last = Date.now(), input = Date.now();
  for (const e of ['mousemove', 'mousedown', 'keydown', 'scroll', 'touchstart', 'wheel'])
    document.addEventListener(e, () => { input = Date.now(); }, {passive: true, capture: true});
  const tick = () => {
    const now = Date.now();
    const working = document.visibilityState === 'visible' && document.hasFocus() && now - input < idle;
    if (working) active += (now - last) / 1000;
    last = now;
  };
  setInterval(tick, 1000);
  window.cdHandle = {
    take: () => { tick(); const s = active; active = 0; return s; },  // up to now: a reply sent within a second counts
    reset: () => { active = 0; last = Date.now(); },
  };
  setInterval(() => {
    const s = window.cdHandle.take();
    if (s > 0) emitEvent('cd_handle_time', {seconds: s});
  }, %(report)d * 1000);
})();
"""


class HandleTimer:
    """Counts in the browser, adds to the ticket's handle time on the server."""

    def __init__(self, desk: Engine, ticket_id: int, agent: str) -> None:
        self.desk = desk
        self.ticket_id = ticket_id
        self.agent = agent
        ui.add_body_html(f"<script>{SCRIPT % {'idle': IDLE_CUTOFF_SECONDS, 'report': REPORT_SECONDS}}</script>")
        ui.on("cd_handle_time", self.report)

    async def report(self, event: events.GenericEventArguments) -> None:
        seconds = float((event.args or {}).get("seconds", 0))
        await run.io_bound(add_handle_time, self.desk, self.ticket_id, seconds, agent=self.agent)

    async def flush(self) -> None:
        """Add what the page counted since its last report (call before the ticket is resolved)."""
        try:
            seconds = await ui.run_javascript("window.cdHandle ? window.cdHandle.take() : 0", timeout=1.0)
        except TimeoutError:  # no browser answered (a simulated test user): nothing was counted
            return
        await run.io_bound(add_handle_time, self.desk, self.ticket_id, float(seconds or 0), agent=self.agent)
