"""Start -> first chart point, as a person sees it: the real server, a fresh browser tab each time.

    ARGAE_DATA_DIR=../shared/datasets PYTHONPATH=. python benchmarks/bench_browser_first_point.py \
        [--tabs 5] [--dataset karate]

A `streamlit run app.py` server on a loopback port (warm: visited once, one run trained
first). Then, per repeat, a new browser context (a new session, nothing of the app's
JavaScript run in it yet) opens /train, waits until the page is idle, presses Start and
polls the page every 20 ms for:

  progress  the progress bar's text (the server has the job and the page has redrawn): the
            reference, a round trip through Streamlit that no chart drawing is part of
  point     the first chart trace with at least one point drawn by plotly in the page

Prints both per tab, their medians and the ratio point / progress (1.0: a chart costs
nothing on top of the page's own redraw). Issue target: Start -> first point under 1.5 s on a
warm server.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser.harness import (AppServer, browser_unavailable, launch_chromium, open_train,  # noqa: E402
                                   start_button, wait_app_idle, wait_points)

PROGRESS_JS = """() => { const p = document.querySelector('[data-testid="stProgress"]');
                         return p ? p.innerText : null; }"""
MOST_POINTS_JS = """() => Math.max(0, ...Array.from(document.querySelectorAll('.js-plotly-plot'))
    .filter(el => !el.closest('[data-stale="true"]'))
    .flatMap(el => (el.data || []).map(t => t.x ? t.x.length : 0)))"""


def one_tab(browser, url: str, query: str, timeout: float = 60.0) -> tuple[float, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        open_train(page, url, query)
        start_button(page).click()
        started, progress, point = time.perf_counter(), None, None
        while time.perf_counter() - started < timeout and point is None:
            now = time.perf_counter() - started
            if progress is None and page.evaluate(PROGRESS_JS):
                progress = now
            if page.evaluate(MOST_POINTS_JS) > 0:
                point = now
                progress = progress if progress is not None else now
            time.sleep(0.02)
        if point is None:
            raise TimeoutError(f"no chart point within {timeout:.0f} s")
        page.get_by_role("button", name="Stop").click()
        return progress, point
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tabs", type=int, default=5)
    parser.add_argument("--dataset", default="karate")
    args = parser.parse_args()
    reason = browser_unavailable()
    if reason:
        print(f"cannot run: {reason}")
        return 2
    query = f"dataset={args.dataset}&epochs=100000"
    with tempfile.TemporaryDirectory() as base, AppServer(Path(base) / "runs", Path(base) / "cache") as app:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            warm = browser.new_context()
            page = warm.new_page()
            page.goto(app.url)
            wait_app_idle(page, timeout=180)  # the first visit imports the engine
            open_train(page, app.url, query)
            start_button(page).click()
            wait_points(page, 3)
            page.get_by_role("button", name="Stop").click()
            warm.close()
            rows = [one_tab(browser, app.url, query) for _ in range(args.tabs)]
            browser.close()
    print(f"{args.dataset}, {args.tabs} fresh tabs on a warm server")
    print("tab  Start->progress s  Start->first point s")
    for i, (progress, point) in enumerate(rows, 1):
        print(f"{i:>3}  {progress:17.2f}  {point:20.2f}")
    progress, point = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
    print(f"median: progress {progress:.2f} s, first point {point:.2f} s (target < 1.5 s), "
          f"point / progress {point / progress:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
