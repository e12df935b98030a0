"""The first visit of a freshly started server, as a person sees it in a real browser.

    PYTHONPATH=. python benchmarks/bench_first_visit.py [--repeats 2]

Per repeat, a new `streamlit run app.py` on a loopback port (headless Chromium launched
beforehand, so its start is not counted). As soon as the server answers its health check:

  home      first request -> Home's title on screen (the page opened at /)
  note      -> the "Loading the engine" note on the Train page, after clicking Train in the
            navigation right after Home showed (blank if the engine was already loaded)
  train     that click -> the Train page's Start button enabled
  deep      on a second fresh server, a /train link as the very first request -> Start enabled

Prints each repeat, the medians and the load average. Issue 16's targets: Home within 2 s,
Train with Start clickable within 5 s, a visible note while the engine loads.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser.harness import (AppServer, browser_unavailable, launch_chromium, sidebar_link,  # noqa: E402
                                   start_button)

NOTE_TEXT = "Loading the engine"


def poll(page, ready_js: str, timeout: float, every: float = 0.02) -> float:
    """Seconds until `ready_js` is true in the page."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if page.evaluate(ready_js):
            return time.perf_counter() - started
        time.sleep(every)
    raise TimeoutError(f"not within {timeout:.0f} s: {ready_js}")


TITLE_JS = """() => Array.from(document.querySelectorAll('h1')).some(h => h.innerText.includes('ARGAE Lab'))"""
START_ENABLED_JS = """() => Array.from(document.querySelectorAll('button'))
    .some(b => b.innerText.trim().endsWith('Start') && !b.disabled && !b.closest('[data-stale="true"]'))"""
NOTE_JS = f"""() => document.body.innerText.includes('{NOTE_TEXT}')"""


def fresh_server(base: Path) -> AppServer:
    """Not started yet: `with` starts it (and stops it and its workers after)."""
    base.mkdir(parents=True)
    return AppServer(base / "runs", base / "cache", log_dir=base)


def home_then_train(browser, base: Path, timeout: float) -> dict:
    with fresh_server(base) as app:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        started = time.perf_counter()
        page.goto(app.url, wait_until="commit")
        poll(page, TITLE_JS, timeout)
        home = time.perf_counter() - started
        sidebar_link(page, "Train").click()
        clicked, note = time.perf_counter(), None
        while time.perf_counter() - clicked < timeout:
            if note is None and page.evaluate(NOTE_JS):
                note = time.perf_counter() - clicked
            if page.evaluate(START_ENABLED_JS):
                break
            time.sleep(0.02)
        else:
            raise TimeoutError("Start never became clickable")
        train = time.perf_counter() - clicked
        context.close()
    return {"home": home, "note": note, "train": train}


def deep_link(browser, base: Path, timeout: float) -> float:
    with fresh_server(base) as app:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        started = time.perf_counter()
        page.goto(f"{app.url}/train", wait_until="commit")
        poll(page, START_ENABLED_JS, timeout)
        seconds = time.perf_counter() - started
        context.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="fresh servers per measurement")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    if reason := browser_unavailable():
        sys.exit(f"cannot run: {reason}")
    from playwright.sync_api import sync_playwright
    rows = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp:
        browser = launch_chromium(playwright)
        for repeat in range(args.repeats):
            row = home_then_train(browser, Path(tmp) / f"a{repeat}", args.timeout)
            row["deep"] = deep_link(browser, Path(tmp) / f"b{repeat}", args.timeout)
            row["load"] = os.getloadavg()[0]
            rows.append(row)
            note = "-" if row["note"] is None else f"{row['note']:.2f}"
            print(f"repeat {repeat}: home {row['home']:.2f} s, Train note {note} s, Train Start "
                  f"{row['train']:.2f} s after the click, /train as first request {row['deep']:.2f} s "
                  f"(load {row['load']:.1f})", flush=True)
        browser.close()
    median = {k: statistics.median(r[k] for r in rows) for k in ("home", "train", "deep")}
    seen = sum(r["note"] is not None for r in rows)
    print(f"\nfresh server, median of {len(rows)}: Home {median['home']:.2f} s (target 2), Train Start "
          f"{median['train']:.2f} s after the click (target 5), /train first {median['deep']:.2f} s; "
          f"engine note seen in {seen} of {len(rows)}; load average "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
