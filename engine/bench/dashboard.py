"""Dashboard page bench: the app on a database of n tickets, and headless Chromium timing navigation to charts drawn.

The database is the KPI bench's (engine/bench/kpi.py). The app runs as a child process (`python main.py`) with fake
models on a free local port, measured once its models have loaded (a first start trains the intent model); the
browser signs in as a supervisor, opens the weekly report once (scripts and plotly cached, as a returning
supervisor has them), then opens /dashboard RUNS times and measures from navigation until every chart has drawn
with its data: first while the app's worker still triages and drafts the database's open tickets
(`page_s_*_worker_busy`), then again once it has drained them, as on a desk that keeps up (`page_s_*`, with when
the page loaded and when its websocket connected, after which the page's data can arrive). Then it picks
"All time" and measures until the charts show the widest range, and saves the page as a screenshot.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from engine.accounts import create_user
from engine.bench.kpi import _percentile, build_database
from engine.config import REPO_ROOT
from engine.kpi import refresh
from engine.privacy.crypto import ENV_VAR, Cipher, set_cipher
from engine.runtime import COMPONENTS
from engine.store.models import utcnow

log = logging.getLogger(__name__)

RUNS = 5
SETTLE_SECONDS = 5.0  # after the models load, the worker's first pass over waiting tickets
IDLE_TIMEOUT = 900.0  # for the worker to triage and draft the database's open tickets
CHARTS = 8
USER, PASSWORD = "supervisor", "supervisor-bench"
SCREENSHOT = REPO_ROOT / "tests" / "artifacts" / "dashboard-bench.png"
CHARTS_DRAWN = f"""
const plots = [...document.querySelectorAll('.js-plotly-plot')];
return plots.length >= {CHARTS} && plots.every(p => p.querySelector('.main-svg') && (p.data || []).length > 0
    || p.querySelector('.annotation-text'));
"""


VOLUME_DAYS = """
const plot = document.querySelector('.js-plotly-plot');
return new Set((plot && plot.data || []).flatMap(t => t.x || [])).size;
"""
ALL_TIME_DAYS = 31


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


@contextmanager
def _app(data_dir: Path, key: bytes, port: int) -> Iterator[str]:
    """The app serving `data_dir` on a local port; yields its base URL."""
    env = os.environ | {
        "CAREDESK_DATA_DIR": str(data_dir),
        "CAREDESK_DEMO": "false",
        "CAREDESK_MODEL_BACKEND": "fake",
        "CAREDESK_PORT": str(port),
        "CAREDESK_HOST": "127.0.0.1",
        ENV_VAR: key.decode("ascii"),
        "HF_HUB_OFFLINE": "1",
    }
    log_file = (data_dir / "app.log").open("wb")
    app = subprocess.Popen([sys.executable, "main.py"], cwd=REPO_ROOT, env=env, stdout=log_file, stderr=log_file)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(
            lambda: (_listening(port) and _loaded(data_dir / "app.log")) or app.poll() is not None,
            900,
            "the app's models to load",
        )
        if app.poll() is not None:
            raise RuntimeError(f"the app exited with {app.returncode}; see {data_dir / 'app.log'}")
        time.sleep(SETTLE_SECONDS)
        yield url
    finally:
        app.terminate()
        app.wait(timeout=30)
        log_file.close()


def _worker_idle(db_file: Path) -> bool:
    """True when every ticket is triaged and every open one has its draft: the app's worker has nothing to do."""
    with sqlite3.connect(db_file) as connection:
        waiting = connection.execute(
            "SELECT count(*) FROM ticket WHERE triaged_at IS NULL OR (drafted_at IS NULL AND status != 'resolved')"
        ).fetchone()[0]
    return int(waiting) == 0


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _loaded(log_file: Path) -> bool:
    """Whether every model and index of the app has loaded (or failed), from its log."""
    done = set(re.findall(r"engine\.app: (\w+): (?:ready|error)", log_file.read_text(errors="replace")))
    return done >= set(COMPONENTS)


@contextmanager
def _browser() -> Iterator[webdriver.Chrome]:
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    for argument in ("headless", "no-sandbox", "disable-dev-shm-usage", "disable-gpu", "window-size=1500,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _sign_in(driver: webdriver.Chrome, url: str) -> None:
    driver.get(f"{url}/login")
    _wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "input")) >= 2, 60, "the login form")
    username, password = driver.find_elements(By.CSS_SELECTOR, "input")[:2]
    username.send_keys(USER)
    password.send_keys(PASSWORD)
    driver.find_element(By.XPATH, "//button[contains(., 'Sign in')]").click()
    _wait(lambda: f"{USER} · " in driver.page_source, 90, "sign-in")


def _drawn(driver: webdriver.Chrome) -> bool:
    try:
        return bool(driver.execute_script(CHARTS_DRAWN))
    except WebDriverException:  # the renderer is busy drawing: ask again
        return False


def _visit(driver: webdriver.Chrome, url: str) -> tuple[float, float, float]:
    """Seconds from navigation to the page loaded, to its websocket connected, and to every chart drawn."""
    started = time.perf_counter()
    driver.get(f"{url}/dashboard")
    loaded = time.perf_counter() - started
    connected = 0.0

    def drawn() -> bool:
        nonlocal connected
        if not connected and _connected(driver):
            connected = time.perf_counter() - started
        return _drawn(driver)

    _wait(drawn, 60, "every chart drawn")
    return loaded, connected or time.perf_counter() - started, time.perf_counter() - started


def _connected(driver: webdriver.Chrome) -> bool:
    try:
        return bool(driver.execute_script("return !!(window.socket && window.socket.connected)"))
    except WebDriverException:
        return False


def _switch_to_all_time(driver: webdriver.Chrome) -> float:
    """Seconds from choosing "All time" in the period menu until the volume chart spans more than 30 days."""
    driver.find_element(By.XPATH, "//*[contains(@class, 'q-select')][.//*[text()='Last 30 days']]").click()
    option = driver.find_element(By.XPATH, "//*[contains(@class, 'q-item')][.//*[text()='All time']]")
    started = time.perf_counter()
    option.click()
    _wait(lambda: _days_on_volume_chart(driver) > ALL_TIME_DAYS, 60, "the all-time volume chart")
    _wait(lambda: _drawn(driver), 60, "every chart drawn")
    return time.perf_counter() - started


def _days_on_volume_chart(driver: webdriver.Chrome) -> int:
    try:
        return int(driver.execute_script(VOLUME_DAYS) or 0)
    except WebDriverException:
        return 0


def run(*, tickets: int) -> dict[str, Any]:
    """Serve a database of `tickets` tickets and time the dashboard in headless Chromium."""
    key = Cipher.generate_key()
    set_cipher(Cipher([key]))
    with tempfile.TemporaryDirectory(prefix="caredesk-dashboard-") as tmp:
        data_dir = Path(tmp)
        db = build_database(data_dir / "caredesk.db", tickets, now=utcnow())
        create_user(db, username=USER, password=PASSWORD, role="supervisor", actor="bench")
        refresh(db)  # the rollups, as a running desk has them
        db.dispose()
        with _app(data_dir, key, _free_port()) as url, _browser() as driver:
            _sign_in(driver, url)
            driver.get(f"{url}/report")
            _wait(lambda: "Key performance indicators" in driver.page_source, 60, "the weekly report")
            busy = [_visit(driver, url)[2] for _ in range(RUNS)]  # the worker still triages and drafts the backlog
            log.info("dashboard drawn in %s s while the worker drains its backlog", ", ".join(f"{s:.2f}" for s in busy))
            _wait(lambda: _worker_idle(data_dir / "caredesk.db"), IDLE_TIMEOUT, "the worker to drain its backlog")
            visits = [_visit(driver, url) for _ in range(RUNS)]
            loaded, connected, seconds = ([v[i] for v in visits] for i in range(3))
            log.info("dashboard drawn in %s s on an idle desk", ", ".join(f"{s:.2f}" for s in seconds))
            all_time = _switch_to_all_time(driver)
            log.info("all time drawn in %.2f s", all_time)
            driver.set_window_size(1500, 3400)
            time.sleep(1.0)  # charts resize to the new width
            SCREENSHOT.parent.mkdir(exist_ok=True)
            driver.save_screenshot(str(SCREENSHOT))
    return {
        "tickets": tickets,
        "page_s_p50": round(statistics.median(seconds), 2),
        "page_s_p95": round(_percentile(seconds, 0.95), 2),
        "page_s_max": round(max(seconds), 2),
        "page_s_p50_worker_busy": round(statistics.median(busy), 2),
        "page_s_p95_worker_busy": round(_percentile(busy, 0.95), 2),
        "page_loaded_s_p50": round(statistics.median(loaded), 2),
        "socket_connected_s_p50": round(statistics.median(connected), 2),
        "all_time_switch_s": round(all_time, 2),
        "visits": RUNS,
        "screenshot": str(SCREENSHOT.relative_to(REPO_ROOT)),
    }
