"""Live UMAP while a Cora ARGVA run trains, as the Latent page does it (issue 16).

    ARGAE_DATA_DIR=/work/shared/datasets PYTHONPATH=. python benchmarks/bench_live_umap.py [--epochs 200]

Two trainings of the same config in the dashboard's own worker process (a `JobManager` on a
`ProcessExecutor`, one slot): the first with nobody watching, the second with the newest
snapshot's UMAP picture asked for every 0.5 s, as the page's live refresh does: with `--path
process` (the default, what a server does) of the live picture process (argae_core.ahead.
request_live: `warm --serve --live`, below the workers' priority and at most a quarter of a
core, each picture warm-started from the run's previous one; the training runs a thread fewer
while a picture is drawn, threads.drawing), with `--path filler` of the page process's own frame filler
(argae_core.frames.FrameFiller, `newest_only`; what a page without a server's processes does).
Snapshots that arrive while a picture is drawn are skipped. umap is warmed first (a server has done so by then:
argae_core.warm). Prints the epochs per second of both, their ratio (target at least 0.8), how
long after a snapshot arrived its UMAP picture was ready, and how long after each snapshot
arrived the page showed a UMAP picture of it or of a newer one (the page's staleness; target 5 s).
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

from argae_core import projection, runs  # noqa: E402
from argae_core.config import TrainConfig  # noqa: E402
from argae_core.jobs import JobManager, ProcessExecutor  # noqa: E402

OWNER = "bench"
ASK_EVERY = 0.5   # the Latent page's live refresh


def train(manager: JobManager, config: TrainConfig, root: str, watch: bool, path: str = "process") -> dict:
    from argae_core import ahead, pictures
    from argae_core.frames import FrameFiller
    job_id = manager.submit(OWNER, config)
    key = lambda epoch: pictures.PictureKey(job.run_id, pictures.SNAPSHOT, epoch, "umap", config.seed)  # noqa: E731
    projector = projection.Projector("umap", config.seed)
    filler = FrameFiller(projector, lambda epoch: runs.load_run(job.run_id, root).snapshot(epoch)[0])
    seen: dict[int, float] = {}
    ready: dict[int, float] = {}
    first_row = last_row = None
    rows = 0
    last_ask = 0.0
    while True:
        manager.touch(OWNER)   # a page's heartbeat: jobs of gone sessions stop
        job = manager.get(job_id, OWNER)
        now = time.perf_counter()
        if len(job.rows) != rows:
            rows = len(job.rows)
            first_row = first_row or now
            last_row = now
        for epoch in job.snapshot_epochs:
            seen.setdefault(epoch, now)
        for epoch in list(projector.frames):
            ready.setdefault(epoch, now)
        if watch and path == "process" and job.run_id:
            for epoch in job.snapshot_epochs:   # a file check each (4 snapshots a second arrive here)
                if epoch not in ready and pictures.cache_path(key(epoch), root).is_file() \
                        and pictures.load(key(epoch), root) is not None:
                    ready[epoch] = now
        if watch and job.snapshot_epochs and job.run_id and now - last_ask >= ASK_EVERY:
            if path == "process":
                ahead.request_live(key(job.snapshot_epochs[-1]), root)
            else:
                filler.ask(job.snapshot_epochs[-1], list(job.snapshot_epochs), newest_only=True)
            last_ask = now
        if not job.active:
            break
        time.sleep(0.05)
    if job.state != "finished":
        sys.exit(f"the training ended {job.state}: {job.message}")
    deadline = time.perf_counter() + 30   # the last snapshot's picture, after the training's end
    while watch and path == "process" and job.snapshot_epochs and job.snapshot_epochs[-1] not in ready \
            and time.perf_counter() < deadline:
        ahead.request_live(key(job.snapshot_epochs[-1]), root)
        if pictures.load(key(job.snapshot_epochs[-1]), root) is not None:
            ready[job.snapshot_epochs[-1]] = time.perf_counter()
        time.sleep(0.05)
    while watch and path == "filler" and job.snapshot_epochs and filler.pending(job.snapshot_epochs[-1]) \
            and time.perf_counter() < deadline:
        filler.ask(job.snapshot_epochs[-1], list(job.snapshot_epochs), newest_only=True)
        time.sleep(0.05)
    for epoch in list(projector.frames):
        ready.setdefault(epoch, time.perf_counter())
    lags = [ready[e] - seen[e] for e in ready if e in seen]
    stale = [min(ready[d] for d in ready if d >= e) - seen[e] for e in seen if any(d >= e for d in ready)]
    own = [r["seconds"] for r in job.rows if r.get("seconds") is not None]   # the worker's own epoch times
    return {"epochs_per_s": len(own) / sum(own), "seen_per_s": (rows - 1) / (last_row - first_row),
            "lags": lags, "stale": stale,
            "snapshots": len(seen), "pictures": len(ready)}


def listed(values, form: str = "{:.1f}") -> str:
    return ", ".join(form.format(v) for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--snapshot-interval", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1,
                        help="pairs of trainings, alone / watched then watched / alone (ABBA: a load "
                             "that drifts during the run weighs on both sides) [1]")
    parser.add_argument("--path", choices=("process", "filler"), default="process",
                        help="who draws the live pictures: the live picture process (a server) or the page "
                             "process's frame filler [process]")
    args = parser.parse_args()
    config = TrainConfig(dataset="cora", model="argva", epochs=args.epochs, seed=0,
                         snapshot_interval=args.snapshot_interval).validate()
    projection.warm_up(background=False)
    if args.path == "process":   # started by the first live view of a server's page; warm from then on
        from argae_core import ahead
        ahead.start_ahead()   # a server's picture process: it takes a live picture left waiting (ahead.LIVE_PATIENCE)
        ahead._LIVE.start(ahead.LIVE_NICENESS, 0)
        ahead._LIVE.ready.wait(600)
        ahead.wait_ahead(600)
    loads = [os.getloadavg()[0]]
    alone, watched = [], []
    with tempfile.TemporaryDirectory(prefix="bench-live-umap-") as root:
        manager = JobManager(ProcessExecutor(1, runs_root=root))
        try:
            for round_ in range(args.rounds):
                for watch in ((False, True) if round_ % 2 == 0 else (True, False)):
                    (watched if watch else alone).append(train(manager, config, root, watch=watch, path=args.path))
                    loads.append(os.getloadavg()[0])
        finally:
            manager.shutdown()
            if args.path == "process":
                ahead.stop_ahead()
    ratios = [w["epochs_per_s"] / a["epochs_per_s"] for a, w in zip(alone, watched)]
    ratio = statistics.mean(ratios)
    lags = [lag for w in watched for lag in w["lags"]]
    stale = [lag for w in watched for lag in w["stale"]]
    print(f"Cora ARGVA, {args.epochs} epochs, a snapshot every {args.snapshot_interval}, {args.rounds} round(s); "
          f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")
    print(f" training alone:                  {listed(a['epochs_per_s'] for a in alone)} epochs/s")
    print(" (epochs/s from the worker's own epoch times; as rows reached the page: alone "
          f"{listed(a['seen_per_s'] for a in alone)}, watched {listed(w['seen_per_s'] for w in watched)})")
    print(f" with the Latent page's live UMAP ({args.path}): {listed(w['epochs_per_s'] for w in watched)} epochs/s "
          f"({listed(ratios, '{:.2f}')} of alone, mean {ratio:.2f}; target 0.80 -> "
          f"{'met' if ratio >= 0.8 else 'MISSED'})")
    if lags:
        print(f" snapshot -> its UMAP picture: median {statistics.median(lags):.1f} s, max {max(lags):.1f} s "
              f"({sum(w['pictures'] for w in watched)} pictures of {sum(w['snapshots'] for w in watched)} "
              "snapshots: the others were skipped)")
        print(f" snapshot -> a UMAP picture of it or a newer one on the page: median {statistics.median(stale):.1f} s, "
              f"max {max(stale):.1f} s (target 5 s -> {'met' if max(stale) <= 5 else 'MISSED'}; "
              f"median {'met' if statistics.median(stale) <= 5 else 'MISSED'})")
    print(f" load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
