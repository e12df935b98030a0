"""A classroom served as in README "Serving a class": benchmarks/classroom_load.py's sessions,
through HAProxy to Streamlit replicas on a two-node Ray cluster (deploy/cluster.py).

    ARGAE_DATA_DIR=../shared/datasets PYTHONPATH=. python benchmarks/cluster_load.py \
        [--sessions 8] [--epochs 100] [--replicas 2] [--cpus-per-node 1] [--timeout 900]

Same steps and the same table as classroom_load.py (alone on the CLI first, then every session
opens Train, presses Start, clicks around while it waits or trains, and its metrics are compared
with the run alone); here the trainings run as Ray tasks (one per CPU of the cluster: two nodes,
--cpus-per-node each) and the queue is the cluster's shared one. CPU is split into the
replicas, the Ray nodes with their trainings, the balancer and the benchmark's own browser.
Bounded: everything is stopped after --timeout s, and on any failure.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from argae_core import runs
from benchmarks.classroom_load import Session, classroom, cpu_seconds, descendants, report, train_alone
from deploy.cluster import RAY_NODES, Deployment, free_port
from tests.browser.harness import REPO_DIR, browser_unavailable


def cpu_by_part(deployment: Deployment) -> dict[str, float]:
    """CPU seconds so far of the replicas, of the Ray nodes (their trainings included), and of
    our browser (this process's other descendants). A part is a group leader and all it
    started: Ray's raylet gives its workers process groups of their own."""
    groups = {group.name: [group.pgid, *descendants(group.pgid)] for group in deployment.groups}
    served = {pid for pids in groups.values() for pid in pids}
    part = lambda prefix: sum(cpu_seconds(pid) for name, pids in groups.items()   # noqa: E731
                              if name.startswith(prefix) for pid in pids)
    return {"replicas (Streamlit)": part("replica"), "Ray nodes and trainings": part("ray-"),
            "balancer": part("balancer"),
            "browser (Chromium, all tabs)": sum(cpu_seconds(p) for p in descendants(os.getpid()) if p not in served)}


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # finally blocks stop the cluster
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=8, choices=range(1, 17), metavar="1..16")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=2, choices=range(1, 5), metavar="1..4")
    parser.add_argument("--cpus-per-node", type=int, default=1, choices=range(1, 5), metavar="1..4")
    parser.add_argument("--timeout", type=float, default=900, help="abort after this many seconds [900]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (runs, logs)")
    args = parser.parse_args()
    if reason := browser_unavailable():
        raise SystemExit(f"cannot run: {reason}")
    if not shutil.which("haproxy"):
        raise SystemExit("cannot run: haproxy is missing (apt-get install -y haproxy)")

    base = Path(tempfile.mkdtemp(prefix="argae-cluster-load-"))
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR), "ARGAE_CACHE_DIR": str(base / "cache"),
           "ARGAE_RUNS_DIR": str(base / "alone")}
    alone, alone_seconds = train_alone(args.epochs, env)
    sessions = [Session(number) for number in range(args.sessions)]
    deployment = Deployment(base / "state")
    try:
        info = deployment.start(replicas=args.replicas, port=free_port(), cpus_per_node=args.cpus_per_node,
                                env={"ARGAE_RUNS_DIR": str(base / "runs"), "ARGAE_CACHE_DIR": str(base / "cache")})
        wall, cpu = asyncio.run(asyncio.wait_for(
            classroom(info["url"], sessions, args.epochs, lambda: cpu_by_part(deployment)), args.timeout))
    except asyncio.TimeoutError:
        print(f"aborted: not done within {args.timeout:.0f} s; logs in {base / 'state'}")
        return 1
    finally:
        deployment.stop()
    report(args, RAY_NODES * args.cpus_per_node, wall, cpu, sessions, runs.list_runs(base / "runs")[0],
           alone, alone_seconds)
    if args.keep:
        print(f"\nlogs, saved runs and the run alone: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
