"""Drive the real app: a `streamlit run app.py` server on a free loopback port, headless
Chromium through Playwright, and small readers of what a page shows.

Shared by the browser tests, `benchmarks/classroom_load.py` and `scripts/screenshots.py`.
Nothing here asserts: callers decide what a result means.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
EXCEPTION_BOX = '[data-testid="stException"]'


# ------------------------------------------------------------------------ the server
def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nobody accepts connections on it and a server could bind it again (as Tornado does,
    with SO_REUSEADDR, so connections left in TIME_WAIT do not count)."""
    with socket.socket() as client:
        client.settimeout(1)
        if client.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def group_processes(group: int) -> list[int]:
    """Pids of the live (not zombie) processes of a process group, read from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _parent, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == group and state not in ("Z", "X"):
            pids.append(int(stat.parent.name))
    return pids


class AppServer:
    """`streamlit run app.py` in its own process group (its training workers included),
    with runs and caches in folders the caller names; ARGAE_DATA_DIR is inherited."""

    def __init__(self, runs_dir: Path, cache_dir: Path, *, port: int | None = None,
                 env: dict[str, str] | None = None, log_dir: Path | None = None, args: tuple[str, ...] = ()):
        self.runs_dir, self.cache_dir = Path(runs_dir), Path(cache_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "ARGAE_RUNS_DIR": str(runs_dir), "ARGAE_CACHE_DIR": str(cache_dir),
                    "PYTHONPATH": str(REPO_DIR), **(env or {})}
        self.env.pop("ARGAE_EXECUTOR", None)  # the real thing: warm worker processes
        self.log_path = Path(log_dir or tempfile.gettempdir()) / f"argae-server-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.args = list(args)   # more `streamlit run` options, e.g. ("--secrets.files", path)

    def start(self, timeout: float = 90.0) -> "AppServer":
        command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
                   "--server.address", "127.0.0.1", "--server.headless", "true",
                   "--browser.gatherUsageStats", "false", *self.args]
        with open(self.log_path, "wb") as log:
            # A new session makes the server the leader of a process group that its spawned
            # workers join, so stopping the group stops every process it started.
            self.process = subprocess.Popen(command, cwd=REPO_DIR, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"the server did not answer /_stcore/health within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash, as the machine would do it."""
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=30)
        # SIGKILL is delivered at once but acted on when each process next runs (a worker in
        # the middle of a disk write finishes it first): give the group a moment to go.
        deadline = time.monotonic() + 10
        while self.group_processes() and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self, grace: float = 10.0) -> None:
        """Terminate the group, give it `grace` seconds, then kill what is left."""
        if self.process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self._signal_group(signal.SIGKILL)  # workers that outlived their server, too
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.group_processes() and time.monotonic() < deadline:
            time.sleep(0.1)

    def group_processes(self) -> list[int]:
        """Live (not zombie) processes of the server's group: the server and its workers."""
        return group_processes(self.process.pid) if self.process else []

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    def wait_port_free(self, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_is_free(self.port):
                return True
            time.sleep(0.2)
        return False

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ------------------------------------------------------------------------ the browser
def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is missing (install Debian's chromium: apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def expect(target):
    """Playwright's `expect`, imported on use: test modules must import without Playwright,
    so that the fixtures can skip (or fail under CI) with the reason."""
    from playwright.sync_api import expect as playwright_expect
    return playwright_expect(target)


# --------------------------------------------------------------- reading a page
# JavaScript run in the page; also used by the async benchmark. The attributes are the ones
# Streamlit's own end-to-end tests read; elements marked stale are left from the previous
# script run and about to be replaced.
APP_IDLE_JS = """() => { const app = document.querySelector('[data-testid="stApp"]');
    return app && app.dataset.testConnectionState === 'CONNECTED'
           && app.dataset.testScriptState === 'notRunning'
           && !document.querySelector('[data-stale="true"]'); }"""
POINT_COUNTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .filter(el => !el.closest('[data-stale="true"]'))
    .map(el => (el.data || []).map(t => (t.x ? t.x.length : 0)))"""
TABLE_ROWS_JS = """(testid) => {
    const frame = Array.from(document.querySelectorAll(`[data-testid="${testid}"]`))
                       .find(el => !el.closest('[data-stale="true"]'));
    if (!frame) return [];
    return Array.from(frame.querySelectorAll('[role="row"]')).map(row =>
        Array.from(row.querySelectorAll('[role="gridcell"], [role="columnheader"]'))
             .map(c => c.textContent.trim())); }"""


def wait_app_idle(page, timeout: float = 60.0) -> None:
    """Wait until the app is connected, its script is not running and no element is stale.
    A page with a live fragment is idle only between two refreshes."""
    page.wait_for_function(APP_IDLE_JS, timeout=timeout * 1000)


def plotly_point_counts(page) -> list[list[int]]:
    """For each plotly chart on the page, the number of x values of each of its traces.

    Charts Streamlit has marked stale (left from the previous script run, about to be
    replaced) are not counted."""
    return page.evaluate(POINT_COUNTS_JS)


def settled_point_counts(page, timeout: float = 60.0) -> list[list[int]]:
    """`plotly_point_counts` once two reads half a second apart, each on an idle app, agree
    (a rerun briefly shows old and new charts side by side)."""
    previous = None

    def agreed():
        nonlocal previous
        wait_app_idle(page, timeout)
        counts = plotly_point_counts(page)
        same, previous = counts == previous, counts
        return same and (counts,)
    return wait_until(agreed, timeout, interval=0.5, what="charts that stop changing")[0]


def plotly_traces(page) -> list[list[dict]]:
    """For each plotly chart, each trace's name, type and x / y values (as numbers)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
               .filter(el => !el.closest('[data-stale="true"]')).map(el =>
               (el.data || []).map(t => ({name: t.name || '', type: t.type || 'scatter',
                                          x: Array.from(t.x || []), y: Array.from(t.y || [])})))""")


def most_points(page) -> int:
    """The longest trace on the page: how many epochs the live charts hold."""
    counts = [n for chart in plotly_point_counts(page) for n in chart]
    return max(counts, default=0)


def exception_texts(page) -> list[str]:
    return [box.inner_text() for box in page.query_selector_all(EXCEPTION_BOX)]


def table_records(page, testid: str = "stDataFrame") -> list[dict[str, str]]:
    """The rows of the page's first current data frame as {column: text}. The glide grid
    draws on a canvas; its accessible table mirrors the rows it shows."""
    return rows_to_records(page.evaluate(TABLE_ROWS_JS, testid))


def rows_to_records(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row)) for row in rows[1:]] if rows else []


def chart_traces(page, key: str) -> list[dict]:
    """Name and point count of each trace of the plotly chart drawn with Streamlit `key`."""
    return page.evaluate(
        """(key) => { const el = document.querySelector(`.st-key-${key} .js-plotly-plot`);
               // _fullData holds decoded arrays (numpy arrays travel base64-encoded in data)
               const traces = el && (el._fullData || el.data);
               return traces ? traces.map(t => ({name: t.name || '', points: (t.x || []).length || 0}))
                             : []; }""", key)


CHARTS_DRAWN_JS = """() => !document.querySelector('[data-testid="stSkeleton"]')
    && Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    .filter(el => !el.closest('[data-stale="true"]') && el.getBoundingClientRect().top < window.innerHeight)
    .every(el => { const plot = el.querySelector('.js-plotly-plot'); return plot && plot._fullData; })"""


def wait_charts_drawn(page, timeout: float = 60.0) -> None:
    """Wait until every current plotly chart in the window has been drawn (Streamlit loads
    plotly lazily and shows grey skeletons until then)."""
    page.wait_for_function(CHARTS_DRAWN_JS, timeout=timeout * 1000)


def full_page_screenshot(page, path, width: int | None = None) -> None:
    """A screenshot of the whole app, not only the viewport: Streamlit scrolls inside its
    main block, so the window is made as tall as that block for the picture."""
    size = page.viewport_size
    height = page.evaluate(
        """() => Math.max(...['stMain', 'stAppViewContainer', 'stSidebarContent'].map(id =>
               (document.querySelector(`[data-testid="${id}"]`) || {scrollHeight: 0}).scrollHeight))""")
    page.set_viewport_size({"width": width or size["width"], "height": min(max(height, size["height"]), 6000)})
    try:
        wait_app_idle(page)
        wait_charts_drawn(page)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)


def nav_links(page) -> dict[str, str]:
    """The sidebar's page links: {label: href}."""
    return page.evaluate(
        r"""() => Object.fromEntries(Array.from(
               document.querySelectorAll('[data-testid="stSidebarNav"] a'))
               .map(a => [a.innerText.trim().split(/\s*\n\s*/).pop().trim(), a.href]))""")


def wait_until(condition, timeout: float, interval: float = 0.3, what: str = "condition"):
    """Poll `condition()` until it returns something truthy; return that, or raise
    TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


def sidebar_link(page, label: str):
    """The sidebar navigation link whose text ends with `label` (the icon name comes first)."""
    return page.locator('[data-testid="stSidebarNav"] a').filter(has_text=label).first


# ------------------------------------------------------------------ accessibility
# axe-core, the npm package, pinned in .ci/run and installed by it into this git-ignored folder.
AXE_JS = REPO_DIR / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
AXE_RUN_JS = """async (exclude) => {
    const context = exclude.length ? {include: [document], exclude: exclude.map(s => [s])} : document;
    const result = await axe.run(context, {resultTypes: ['violations']});
    return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                        targets: v.nodes.map(n => n.target.join(' '))})); }"""


def axe_violations(page, exclude: list[str] | None = None) -> list[dict]:
    """axe-core's audit of the page as it stands (all its default rules: WCAG A / AA and best
    practice), skipping the elements matching the CSS selectors in `exclude`: each violation's
    id, impact, help text and the CSS targets of the elements that fail it."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):  # gone after a page load
        page.add_script_tag(path=str(AXE_JS))
    return page.evaluate(AXE_RUN_JS, exclude or [])


def axe_report(found: dict[str, list[dict]]) -> str:
    """The violations per page, one line per violation and one per element, for a failure message."""
    lines = []
    for where, violations in found.items():
        for v in violations:
            lines.append(f"{where}: {v['id']} ({v['impact']}): {v['help']}")
            lines += [f"    {target}" for target in v["targets"]]
    return "\n".join(lines)


# ------------------------------------------------------------------ the Train page
FIRST_START = 120.0   # the first Start may wait for a worker importing torch on a loaded machine


def open_train(page, app_url: str, query: str = "") -> None:
    """Open the Train page (with URL settings such as "epochs=300") and wait for Start."""
    page.goto(f"{app_url}/train{'?' + query if query else ''}")
    wait_app_idle(page)
    expect(start_button(page)).to_be_enabled()


def start_button(page):
    return page.get_by_role("button", name="Start")


# ------------------------------------------------------------------ the Compare page
def compare_and_wait(page, app_url: str, epochs: int) -> None:
    """Open the Compare page, set its epochs, press Compare and wait for its results' heading."""
    page.goto(f"{app_url}/compare")
    wait_app_idle(page)
    box = page.locator(".st-key-cmp_epochs input")
    box.fill(str(epochs))
    box.press("Enter")
    wait_app_idle(page)
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.get_by_role("heading", name="Test metrics").first).to_be_visible(timeout=FIRST_START * 1000)


def epoch_shown(page) -> int | None:
    """The epoch in the Train page's progress text ('epoch 136 / 5000 ...'), or None. Steadier
    than counting chart points: a chart being redrawn holds no points for a few milliseconds."""
    text = page.evaluate("""() => { const p = document.querySelector('[data-testid="stProgress"]');
                                    return p ? p.innerText : ''; }""")
    found = re.search(r"epoch (\d+) / \d+", text or "")
    return int(found.group(1)) if found else None


def wait_points(page, more_than: int, timeout: float = FIRST_START) -> int:
    """Wait until the live charts hold more than `more_than` epochs; return how many."""
    return wait_until(lambda: (n := most_points(page)) > more_than and n, timeout,
                      what=f"live charts with more than {more_than} points")


def stop_and_wait(page) -> None:
    page.get_by_role("button", name="Stop").click()
    expect(start_button(page)).to_be_enabled()
