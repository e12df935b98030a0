"""A class served as in README "Serving a class", against today's single server, side by side.

    ARGAE_DATA_DIR=../shared/datasets PYTHONPATH=. python benchmarks/cluster_load.py \
        [--sessions 8] [--rounds 3] [--epochs 100] [--replicas 2] [--cpus-per-node 1] [--timeout 900]

1. Alone: `python -m argae_core train --dataset cora --model argva --epochs N --seed S --json`
   for each seed S of the rounds (0, 1, ...), nothing else of ours running: the reference.
2. The cluster (deploy/cluster.py): a Ray head and a Ray worker node (--cpus-per-node CPUs
   each), --replicas Streamlit replicas behind HAProxy (sticky). --sessions browser contexts
   open the Train page through the balancer (which spreads them over the replicas; the
   report says how) and, --rounds times, set the round's seed, press Start together and keep
   using the app (Home <-> Train, each click timed) until their run shows its final table:
   sessions x rounds trainings of Cora ARGVA.
3. The same load on today's single server: one `streamlit run app.py`, local worker processes,
   as many slots as the cluster has CPUs (ARGAE_MAX_JOBS), no Ray, no balancer.

Prints for each: total wall time, queue waits (Start click -> the run's folder created by its
worker), p50 / p95 page interaction, how many runs' metrics equal the same run alone (exactly:
same seed, a fresh process), then the two side by side with the ratio cluster / single. On this
2-core machine both setups share the same two cores with the benchmark's own browser: the
ratio measures the cost of the cluster's parts (Ray, the replicas, the balancer), not a gain.
Bounded: each setup is stopped after --timeout s (what finished by then is reported); every
process is stopped on any failure.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from playwright.async_api import async_playwright, expect

from argae_core import runs
from argae_core.status import Status
from benchmarks.classroom_load import (METRICS, RUN_ID_TEXT, TIMEOUT_MS, cpu_seconds, descendants, largest_difference,
                                       log, percentile, settle, timed_navigation, warm_up)
from deploy.cluster import RAY_NODES, REPLICA_COOKIE, Deployment, free_port
from tests.browser.harness import (APP_IDLE_JS, CHROMIUM, CHROMIUM_ARGS, REPO_DIR, TABLE_ROWS_JS, AppServer,
                                   browser_unavailable, rows_to_records)

PAUSE_BETWEEN_INTERACTIONS = 2.0
WAIT_MS = 300_000   # a page of a loaded 2-core machine shared with other work can take minutes


@dataclass
class Student:
    """What one browser context saw over its rounds."""
    number: int
    replica: str = "-"
    clicks: list[float] = field(default_factory=list)      # wall clock (time.time) of each Start
    run_ids: list[str | None] = field(default_factory=list)
    shown: list[float] = field(default_factory=list)
    settled: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def alone(epochs: int, seed: int, env: dict) -> dict:
    command = [sys.executable, "-m", "argae_core", "train", "--dataset", "cora", "--model", "argva",
               "--epochs", str(epochs), "--seed", str(seed), "--json"]
    done = subprocess.run(command, cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"training alone failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


# ------------------------------------------------------------------ one student
async def final_run(page, known: set[str]) -> str | None:
    """The run id of a final table on the page that is not one of `known`, else None."""
    failed = page.get_by_text("Training failed")
    if await failed.count():
        return "failed: " + (await failed.first.inner_text()).strip()
    if await page.get_by_role("heading", name="Test metrics").count():
        rows = rows_to_records(await page.evaluate(TABLE_ROWS_JS, "stDataFrame"))
        for caption in await page.get_by_text("Run saved as").all_inner_texts():
            if rows and (match := RUN_ID_TEXT.search(caption)) and match[1] not in known:
                return match[1]
    return None


async def one_round(page, student: Student, seed: int) -> None:
    """One training of this student; a failure is noted (the others go on), not raised."""
    rounds = len(student.run_ids)
    try:
        await _one_round(page, student, seed)
    except Exception as exc:   # noqa: BLE001  (a benchmark reports what went wrong and goes on)
        student.problems.append(f"round {seed}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        student.clicks += [float("nan")] * (rounds + 1 - len(student.clicks))
        student.run_ids += [None] * (rounds + 1 - len(student.run_ids))
        log(f"student {student.number}: round {seed} failed: {student.problems[-1]}")


async def _one_round(page, student: Student, seed: int) -> None:
    if seed:   # round 0 keeps the seed of the link (0)
        seed_box = page.locator(".st-key-w_seed input")
        await seed_box.fill(str(seed))
        await seed_box.press("Enter")
        await page.wait_for_function(APP_IDLE_JS, timeout=WAIT_MS)
    known = {run_id for run_id in student.run_ids if run_id}
    await expect(page.get_by_role("button", name="Start")).to_be_enabled(timeout=WAIT_MS)
    student.clicks.append(time.time())
    await page.get_by_role("button", name="Start").click()
    await expect(page.get_by_role("button", name="Stop")).to_be_enabled(timeout=WAIT_MS)
    while not (found := await final_run(page, known)):
        await timed_navigation(page, "Home", "ARGAE Lab", student)
        await timed_navigation(page, "Train", "Train", student)
        if found := await final_run(page, known):
            break
        await asyncio.sleep(PAUSE_BETWEEN_INTERACTIONS)
    if found.startswith("failed"):
        student.problems.append(found)
        student.run_ids.append(None)
    else:
        student.run_ids.append(found)
    log(f"student {student.number} ({student.replica}): round {seed} done, {found}")


async def class_load(url: str, students: list[Student], epochs: int, rounds: int) -> float:
    """Wall time from the first round's Starts to the last round's last final table."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await warm_up(browser, url)
            pages = []
            for student in students:
                context = await browser.new_context(viewport={"width": 1400, "height": 1000})
                page = await context.new_page()
                await page.goto(f"{url}/train?dataset=cora&epochs={epochs}&seed=0", timeout=TIMEOUT_MS)
                await settle(page, "Train")
                await expect(page.get_by_role("button", name="Start")).to_be_enabled(timeout=WAIT_MS)
                cookies = {c["name"]: c["value"] for c in await context.cookies()}
                student.replica = cookies.get(REPLICA_COOKIE, "the server")
                pages.append(page)
            begin = time.monotonic()
            for seed in range(rounds):   # everyone presses Start together, round after round
                await asyncio.gather(*(one_round(page, s, seed) for page, s in zip(pages, students)))
            return time.monotonic() - begin
        finally:
            await browser.close()


# ------------------------------------------------------------------ results
@dataclass
class Result:
    setup: str
    slots: int
    wall: float
    students: list[Student]
    saved: dict[str, runs.RunSummary]
    cpu: dict[str, float]

    def waits(self) -> list[float]:
        """Start click -> the run's folder created (queue, dispatch and graph loading)."""
        found = []
        for student in self.students:
            for clicked, run_id in zip(student.clicks, student.run_ids):
                run = self.saved.get(run_id or "")
                if run and run.started and clicked == clicked:   # a round that failed has no click
                    found.append(datetime.fromisoformat(run.started).timestamp() - clicked)
        return found

    def equal_alone(self, references: dict[int, dict]) -> tuple[int, int, float]:
        """(runs on disk whose metrics equal the run alone of their seed exactly, runs on disk,
        largest |difference|). Every run saved in the setup's runs folder counts, also one whose
        tab gave up waiting for the page (a browser problem is not a lost training)."""
        equal = 0
        largest = 0.0
        for run in self.saved.values():
            reference = references.get(run.seed)
            if reference is None or run.test_auc is None:
                largest = float("inf")
                continue
            difference, _ = largest_difference({k: getattr(run, k) for k in METRICS}, reference)
            largest = max(largest, difference)
            equal += difference == 0
        total = len(self.saved)
        return equal, total, largest

    def rows(self, references) -> dict[str, float]:
        shown = [x for s in self.students for x in s.shown]
        settled = [x for s in self.students for x in s.settled]
        waits = self.waits()
        equal, total, largest = self.equal_alone(references)
        started = sum(clicked == clicked for s in self.students for clicked in s.clicks)
        return {"trainings started": started, "runs saved on disk": total,
                "runs finished on disk": sum(r.status == Status.FINISHED for r in self.saved.values()),
                "total wall time (s)": self.wall,
                "queue wait p50 (s)": percentile(waits, .5), "queue wait p95 (s)": percentile(waits, .95),
                "queue wait max (s)": max(waits, default=float("nan")),
                "click -> page shown p50 (s)": percentile(shown, .5),
                "click -> page shown p95 (s)": percentile(shown, .95),
                "click -> page settled p50 (s)": percentile(settled, .5),
                "click -> page settled p95 (s)": percentile(settled, .95),
                "runs equal to the run alone": equal, "largest metric |diff|": largest}


def report(results: list[Result], references: dict[int, dict], args) -> None:
    print(f"\nclass load: {args.sessions} sessions x {args.rounds} rounds of Cora ARGVA, {args.epochs} epochs, "
          f"seeds 0..{args.rounds - 1}; {os.cpu_count()} cores on this machine")
    for seed, reference in references.items():
        print(f"alone, seed {seed}: test AUC {reference['test_auc']:.6f}, AP {reference['test_ap']:.6f}")
    for result in results:
        spread = {}
        for student in result.students:
            spread[student.replica] = spread.get(student.replica, 0) + 1
        used = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.cpu.items())
        print(f"\n{result.setup}: {result.slots} training slots; sessions per replica {spread}; CPU: {used}")
        problems = [p for s in result.students for p in s.problems]
        if problems:
            print(f"  problems: {problems}")
    table = [r.rows(references) for r in results]
    print(f"\n{'':32} " + " ".join(f"{r.setup:>16}" for r in results) + f" {'ratio':>8}")
    for name in table[0]:
        values = [row[name] for row in table]
        ratio = values[0] / values[1] if len(values) == 2 and values[1] else float("nan")
        print(f"{name:32} " + " ".join(f"{v:>16.3g}" if isinstance(v, float) else f"{v:>16}" for v in values)
              + (f" {ratio:>8.2f}" if len(values) == 2 else ""))


# ------------------------------------------------------------------ the two setups
def bounded(url: str, students: list[Student], args) -> float:
    """The load's wall time, or NaN when it ran past --timeout (what finished is still reported)."""
    try:
        return asyncio.run(asyncio.wait_for(class_load(url, students, args.epochs, args.rounds), args.timeout))
    except asyncio.TimeoutError:
        for student in students:
            student.problems.append(f"aborted after {args.timeout:.0f} s with {len(student.run_ids)} rounds done")
        return float("nan")


def cluster_cpu(deployment: Deployment) -> dict[str, float]:
    groups = {group.name: [group.pgid, *descendants(group.pgid)] for group in deployment.groups}
    part = lambda prefix: sum(cpu_seconds(pid) for name, pids in groups.items()   # noqa: E731
                              if name.startswith(prefix) for pid in pids)
    return {"replicas": part("replica"), "Ray nodes and trainings": part("ray-"), "balancer": part("balancer")}


def on_cluster(args, base: Path, students: list[Student]) -> Result:
    deployment = Deployment(base / "cluster-state")
    root = base / "cluster-runs"
    try:
        info = deployment.start(replicas=args.replicas, port=free_port(), cpus_per_node=args.cpus_per_node,
                                env={"ARGAE_RUNS_DIR": str(root), "ARGAE_CACHE_DIR": str(base / "cache")})
        wall = bounded(info["url"], students, args)
        cpu = cluster_cpu(deployment)
    finally:
        deployment.stop()
    saved = {s.run_id: s for s in runs.list_runs(root)[0]}
    return Result(f"cluster ({args.replicas} repl.)", RAY_NODES * args.cpus_per_node, wall, students, saved, cpu)


def on_one_server(args, base: Path, students: list[Student], slots: int) -> Result:
    root = base / "single-runs"
    server = AppServer(root, base / "cache", log_dir=base, env={"ARGAE_MAX_JOBS": str(slots)})
    try:
        server.start()
        wall = bounded(server.url, students, args)
        cpu = {"server and its workers": sum(cpu_seconds(p) for p in server.group_processes())}
    finally:
        server.stop()
    saved = {s.run_id: s for s in runs.list_runs(root)[0]}
    return Result("single server", slots, wall, students, saved, cpu)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # finally blocks stop everything
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=8, choices=range(1, 17), metavar="1..16")
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 11), metavar="1..10")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=2, choices=range(1, 5), metavar="1..4")
    parser.add_argument("--cpus-per-node", type=int, default=1, choices=range(1, 5), metavar="1..4")
    parser.add_argument("--timeout", type=float, default=900, help="abort a setup after this many seconds [900]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (runs, logs)")
    args = parser.parse_args()
    if reason := browser_unavailable():
        raise SystemExit(f"cannot run: {reason}")
    if not shutil.which("haproxy"):
        raise SystemExit("cannot run: haproxy is missing (apt-get install -y haproxy)")

    base = Path(tempfile.mkdtemp(prefix="argae-cluster-load-"))
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR), "ARGAE_CACHE_DIR": str(base / "cache"),
           "ARGAE_RUNS_DIR": str(base / "alone")}
    references = {seed: alone(args.epochs, seed, env) for seed in range(args.rounds)}
    log("references trained alone; the cluster next")
    results = [on_cluster(args, base, [Student(n) for n in range(args.sessions)])]
    log("the single server next")
    results.append(on_one_server(args, base, [Student(n) for n in range(args.sessions)], results[0].slots))
    report(results, references, args)
    if args.keep:
        print(f"\nlogs and saved runs: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
