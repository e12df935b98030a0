"""A full classroom: several browser sessions train ARGVA on Cora through the real server at once.

    ARGAE_DATA_DIR=../shared/datasets PYTHONPATH=. python benchmarks/classroom_load.py \
        [--sessions 8] [--epochs 100] [--timeout 900]

1. Alone: `python -m argae_core train --dataset cora --model argva --epochs N --seed 0 --json`,
   nothing else of ours running: the reference metrics and time.
2. A `streamlit run app.py` server on a loopback port (ARGAE_MAX_JOBS as in the environment,
   else the app's default), visited once (the teacher), then headless Chromium with one context
   (one Streamlit session) per student. All sessions open /train?dataset=cora&epochs=N at
   once; then all press Start together.
3. While their runs wait or train, every session keeps using the app: it goes Home and back
   to Train through the sidebar; each click is timed until the page has settled (the heading
   is shown and the script is idle). Waiting sessions must show "Waiting in the queue".
4. Each session's run must end with the "Test metrics" table; its metrics (saved run and the
   table on the page) are compared with the run alone (same seed, own worker process).

Prints: sessions, slots, total wall time, p50 / p95 page-interaction time, the longest queue
seen, and per session its waiting time, AUC on the page, saved AUC and largest metric
difference from the run alone. When metrics differ, it trains alone again with the worker's
thread count to tell a thread-count effect from a real difference. Bounded: at most
--sessions browser contexts, everything aborted after --timeout seconds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from argae_core import runs
from argae_core.jobs import default_slots
from playwright.async_api import async_playwright, expect

from tests.browser.harness import (APP_IDLE_JS, CHROMIUM, CHROMIUM_ARGS, REPO_DIR, TABLE_ROWS_JS, AppServer,
                                   browser_unavailable, rows_to_records)

METRICS = ("test_auc", "test_ap", "acc", "nmi", "ari", "mmd")
PAGE_COLUMNS = {"test_auc": "AUC", "test_ap": "AP"}
QUEUE_TEXT = re.compile(r"Waiting in the queue: position (\d+) of (\d+)")
RUN_ID_TEXT = re.compile(r"Run saved as (\S+?)\.?$")
TIMEOUT_MS = 120_000
PAUSE_BETWEEN_INTERACTIONS = 2.0   # a student clicks now and then, not in a tight loop


@dataclass
class Session:
    """What one student's browser saw."""
    number: int
    started: float = 0.0
    finished: float | None = None
    waited_in_queue: bool = False
    queue_seen: list[tuple[int, int]] = field(default_factory=list)   # (position, waiting)
    shown: list[float] = field(default_factory=list)     # click -> the new page's heading
    settled: list[float] = field(default_factory=list)   # click -> script idle, nothing stale
    page_row: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    problem: str | None = None


def log(message: str) -> None:
    """Progress on stderr, so a long run shows where it is."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ alone
def train_alone(epochs: int, env: dict, threads: int | None = None) -> tuple[dict, float]:
    """The CLI's metrics for the same config, and its wall time."""
    command = [sys.executable, "-m", "argae_core", "train", "--dataset", "cora", "--model", "argva",
               "--epochs", str(epochs), "--seed", "0", "--json"]
    if threads:
        command += ["--threads", str(threads)]
    begin = time.monotonic()
    done = subprocess.run(command, cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"training alone failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout), time.monotonic() - begin


# ------------------------------------------------------------------ one student
async def settle(page, heading: str) -> None:
    await page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_function(APP_IDLE_JS, timeout=TIMEOUT_MS)


async def timed_navigation(page, link: str, heading: str, session: Session) -> None:
    """Click a sidebar link; time it until the new page's heading shows, then until the
    page has settled (on a training page: between two refreshes of its live charts)."""
    begin = time.monotonic()
    await page.locator('[data-testid="stSidebarNav"] a').filter(has_text=link).first.click()
    await page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=TIMEOUT_MS)
    session.shown.append(time.monotonic() - begin)
    await page.wait_for_function(APP_IDLE_JS, timeout=TIMEOUT_MS)
    session.settled.append(time.monotonic() - begin)


async def open_train(browser, url: str, epochs: int, session: Session):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{url}/train?dataset=cora&epochs={epochs}", timeout=TIMEOUT_MS)
    await settle(page, "Train")
    await expect(page.get_by_role("button", name="Start")).to_be_enabled(timeout=TIMEOUT_MS)
    return context, page


async def read_state(page, session: Session) -> bool:
    """Note the queue message; True once the final table is shown."""
    for text in await page.get_by_text("Waiting in the queue").all_inner_texts():
        if match := QUEUE_TEXT.search(text):
            session.waited_in_queue = True
            session.queue_seen.append((int(match[1]), int(match[2])))
    failed = page.get_by_text(re.compile("Training failed|Training diverged|The training worker"))
    if await failed.count():
        session.problem = (await failed.first.inner_text()).strip()
        return True
    if await page.get_by_role("heading", name="Test metrics").count():
        rows = rows_to_records(await page.evaluate(TABLE_ROWS_JS, "stDataFrame"))
        caption = await page.get_by_text("Run saved as").all_inner_texts()
        if rows and caption and (match := RUN_ID_TEXT.search(caption[0])):
            session.page_row, session.run_id = rows[0], match[1]
            return True
    return False


async def student(page, session: Session) -> None:
    """Use the app (Home, back to Train) until this session's run shows its final table."""
    while not await read_state(page, session):
        log(f"session {session.number}: queue {session.queue_seen[-1:]}, "
            f"{len(session.shown)} navigations timed")
        await timed_navigation(page, "Home", "ARGAE Lab", session)
        await timed_navigation(page, "Train", "Train", session)
        if await read_state(page, session):
            break
        await asyncio.sleep(PAUSE_BETWEEN_INTERACTIONS)
    session.finished = time.monotonic()
    log(f"session {session.number}: done after {session.finished - session.started:.1f} s "
        f"({session.problem or 'run ' + str(session.run_id)})")


async def warm_up(browser, url: str) -> None:
    """The teacher's visit before class: the server's first script run starts its workers.
    (Simultaneous first visits of a cold server are a browser test of their own.)"""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url, timeout=TIMEOUT_MS)
    await settle(page, "ARGAE Lab")
    await context.close()


async def classroom(url: str, sessions: list[Session], epochs: int,
                    cpu_parts: Callable[[], dict[str, float]]) -> tuple[float, dict]:
    """Wall time from the first Start to the last final table, and CPU seconds per part
    (`cpu_parts()`: CPU seconds so far by part of the serving side)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await warm_up(browser, url)
            opened = await asyncio.gather(*(open_train(browser, url, epochs, s) for s in sessions))
            pages = [page for _, page in opened]
            begin, cpu_before = time.monotonic(), cpu_parts()
            log(f"{len(pages)} sessions on the Train page; pressing Start")
            for session, page in zip(sessions, pages):   # everyone presses Start together
                session.started = time.monotonic()
                await page.get_by_role("button", name="Start").click()
            # As a person would, wait until the page answers (Stop enabled: queued or training)
            # before clicking on: a page switch during the Start rerun would cancel that rerun.
            await asyncio.gather(*(expect(page.get_by_role("button", name="Stop")).to_be_enabled(
                timeout=TIMEOUT_MS) for page in pages))
            await asyncio.gather(*(student(page, s) for page, s in zip(pages, sessions)))
            cpu_after = cpu_parts()
            return time.monotonic() - begin, {k: cpu_after[k] - cpu_before[k] for k in cpu_after}
        finally:
            await browser.close()


# ------------------------------------------------------------------ where the CPU goes
def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        found.extend(kids := children.get(todo.pop(), []))
        todo.extend(kids)
    return found


def cpu_by_part(server: AppServer) -> dict[str, float]:
    """CPU seconds so far of the server process, its training workers, and our browser
    (Playwright's driver and Chromium: this process's descendants)."""
    workers = [pid for pid in server.group_processes() if pid != server.process.pid]
    return {"server (Streamlit)": cpu_seconds(server.process.pid),
            "training workers": sum(map(cpu_seconds, workers)),
            "browser (Chromium, all tabs)": sum(map(cpu_seconds, descendants(os.getpid())))}


# ------------------------------------------------------------------ report
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def largest_difference(metrics: dict, reference: dict) -> tuple[float, str]:
    """The largest |difference| over the metrics both have, and which metric it is."""
    return max((abs(float(metrics[k]) - float(reference[k])), k) for k in METRICS
               if metrics.get(k) is not None and reference.get(k) is not None)


def report(args, slots: int, wall: float, cpu: dict[str, float], sessions: list[Session],
           saved: list[runs.RunSummary], alone: dict, alone_seconds: float) -> list[float]:
    shown = [x for s in sessions for x in s.shown]
    settled = [x for s in sessions for x in s.settled]
    queue = max((waiting for s in sessions for _, waiting in s.queue_seen), default=0)
    print(f"\nclassroom load: {len(sessions)} sessions, Cora ARGVA, {args.epochs} epochs, seed 0, "
          f"{slots} training slots, {os.cpu_count()} cores")
    print(f"alone (CLI):              test AUC {alone['test_auc']:.4f}, AP {alone['test_ap']:.4f} "
          f"in {alone_seconds:.1f} s (process start and data loading included)")
    print(f"total wall time:          {wall:.1f} s (first Start to the last final table)")
    print(f"page interaction:         {len(shown)} sidebar navigations (Home <-> Train) while waiting or training")
    print(f"  click -> page shown:    p50 {percentile(shown, .5):.2f} s, p95 {percentile(shown, .95):.2f} s")
    print(f"  click -> page settled:  p50 {percentile(settled, .5):.2f} s, p95 {percentile(settled, .95):.2f} s")
    used = ", ".join(f"{name} {seconds:.0f} s ({seconds / wall:.2f} cores)" for name, seconds in cpu.items())
    print(f"CPU used in that time:    {used}")
    print(f"longest queue seen:       {queue} waiting; "
          f"{sum(s.waited_in_queue for s in sessions)} of {len(sessions)} sessions saw 'Waiting in the queue'")
    by_id = {run.run_id: run for run in saved}
    differences = []
    print(f"\n{'session':>7} {'queued':>6} {'done in s':>9} {'page AUC':>9} {'saved AUC':>9} "
          f"{'status':>9} {'max |diff| vs alone':>20}")
    for session in sessions:
        run = by_id.get(session.run_id)
        metrics = {k: getattr(run, k) for k in METRICS} if run else {}
        difference, metric = (largest_difference(metrics, alone) if run and run.test_auc is not None
                              else (float("nan"), "-"))
        differences.append(difference)
        done = f"{session.finished - session.started:.1f}" if session.finished else "-"
        page_auc = session.page_row.get("AUC", "-")
        print(f"{session.number:>7} {'yes' if session.waited_in_queue else 'no':>6} {done:>9} "
              f"{float(page_auc) if page_auc != '-' else float('nan'):>9.4f} "
              f"{run.test_auc if run and run.test_auc is not None else float('nan'):>9.4f} "
              f"{run.status if run else 'missing':>9} {difference:>11.2e} ({metric})"
              + (f"  {session.problem}" if session.problem else ""))
    return differences


# ------------------------------------------------------------------ main
def main() -> int:
    # A terminated benchmark still stops its server (SystemExit runs the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=8, choices=range(1, 17), metavar="1..16")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=900, help="abort after this many seconds [900]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (runs, server log)")
    args = parser.parse_args()
    if reason := browser_unavailable():
        raise SystemExit(f"cannot run: {reason}")
    if not (Path(os.environ.get("ARGAE_DATA_DIR", REPO_DIR / "data")) / "Planetoid" / "Cora" / "raw").is_dir():
        raise SystemExit("cannot run: Cora's raw files are missing; set ARGAE_DATA_DIR (e.g. ../shared/datasets)")

    base = Path(tempfile.mkdtemp(prefix="argae-classroom-"))
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR), "ARGAE_CACHE_DIR": str(base / "cache"),
           "ARGAE_RUNS_DIR": str(base / "alone")}
    alone, alone_seconds = train_alone(args.epochs, env)
    slots = default_slots()
    sessions = [Session(number) for number in range(args.sessions)]
    server = AppServer(base / "runs", base / "cache", log_dir=base)
    try:
        server.start()
        wall, cpu = asyncio.run(asyncio.wait_for(
            classroom(server.url, sessions, args.epochs, lambda: cpu_by_part(server)), args.timeout))
    except asyncio.TimeoutError:
        print(f"aborted: not done within {args.timeout:.0f} s; server log:\n{server.log()}")
        return 1
    finally:
        server.stop()
    saved = runs.list_runs(base / "runs")[0]
    differences = report(args, slots, wall, cpu, sessions, saved, alone, alone_seconds)
    if any(d != 0 for d in differences):
        threads = max(1, (os.cpu_count() or 1) // slots)   # what ProcessExecutor gives a worker
        again, _ = train_alone(args.epochs, env, threads=threads)
        print(f"\nmetrics differ from the run alone; alone again with --threads {threads} (the worker's "
              f"thread count): test AUC {again['test_auc']:.6f}, max |diff| vs the sessions "
              "{:.2e} ({})".format(*max(largest_difference({k: getattr(r, k) for k in METRICS}, again)
                                        for r in saved)))
    if args.keep:
        print(f"\nserver log, saved runs and the run alone: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
