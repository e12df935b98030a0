"""How many worker cores a class needs: epochs per second of one Cora ARGVA training (default
settings) on one core, and from it the cores for a class to start every run within --start-within
seconds and finish it within --finish-within seconds.

    ARGAE_DATA_DIR=../shared/datasets PYTHONPATH=. python benchmarks/cores_for_class.py \
        [--runs 3] [--classes 30,200] [--start-within 10] [--finish-within 60]

Measured here, one thread (as a Ray task or a local worker trains: one CPU each): the start of a
training in a warm worker (graph loaded from the data folder, Trainer built: what a worker
does before its first epoch), then --runs whole default runs (TrainConfig(dataset="cora"):
ARGVA, 200 epochs, its validation and snapshots). Epochs per second per core = epochs / the
median run's CPU time (steadier than wall time on a machine shared with other work; both are
printed). The arithmetic is printed with the numbers; see README "Serving a class".
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import torch

from argae_core.config import TrainConfig
from argae_core.data import load_graph
from argae_core.training import Trainer


def timed(work):
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def cores_needed(students: int, run_seconds: float, start_seconds: float, start_within: float,
                 finish_within: float, spread_over: float | None) -> int | None:
    """Cores so that every run starts within `start_within` s and ends within `finish_within` s
    of its Start, each run holding one core for `run_seconds` after `start_seconds` of set-up.
    `spread_over` None: everyone presses Start at the same instant; else evenly over that many
    seconds. None when no number of cores is enough (one run alone is too slow)."""
    if start_seconds > start_within or start_seconds + run_seconds > finish_within:
        return None
    busy = start_seconds + run_seconds   # a core is taken from dispatch to the run's end
    if spread_over is None:
        # Waves of `cores` runs: wave w starts at w * busy. Every run starts in time when the
        # last wave does: waves - 1 <= (start_within - start_seconds) / busy.
        waves = 1 + math.floor((start_within - start_seconds) / busy)
        waves = min(waves, math.floor(finish_within / busy))
        return math.ceil(students / waves)
    # Evenly spread Starts, one every spread_over / students s: runs at once = busy / gap.
    return min(students, math.ceil(busy * students / spread_over))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--classes", default="30,200")
    parser.add_argument("--start-within", type=float, default=10.0)
    parser.add_argument("--finish-within", type=float, default=60.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = TrainConfig(dataset="cora").validate()
    load_graph(config)   # the worker's imports and the processed-files cache, once (a warm worker)
    (graph, _), load_wall, _ = timed(lambda: (load_graph(config), None))
    trainer, build_wall, _ = timed(lambda: Trainer(config, graph))
    start = load_wall + build_wall
    walls, cpus = [], []
    for run in range(args.runs):
        trainer = Trainer(config.replace(seed=run), graph)
        records, wall, cpu = timed(lambda: list(trainer))
        walls.append(wall)
        cpus.append(cpu)
        print(f"run {run}: {len(records)} epochs in {wall:.2f} s wall, {cpu:.2f} s CPU")
    run_cpu, run_wall = statistics.median(cpus), statistics.median(walls)
    rate = config.epochs / run_cpu
    print(f"\nCora ARGVA, default settings ({config.model}, {config.epochs} epochs, hidden {config.encoder_hidden}, "
          f"latent {config.latent_size}), 1 thread, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"start of a training in a warm worker: graph {load_wall:.2f} s + trainer {build_wall:.2f} s = {start:.2f} s")
    print(f"one run: median {run_cpu:.2f} s CPU ({run_wall:.2f} s wall): {rate:.1f} epochs per second per core")
    busy = start + run_cpu
    print(f"a core is busy {start:.2f} + {run_cpu:.2f} = {busy:.2f} s per run")
    for students in (int(c) for c in args.classes.split(",")):
        for spread, words in ((None, "all press Start at the same instant"), (60.0, "Starts spread evenly over a minute")):
            cores = cores_needed(students, run_cpu, start, args.start_within, args.finish_within, spread)
            if spread is None:
                waves = 1 + math.floor((args.start_within - start) / busy)
                how = f"waves that start within {args.start_within:.0f} s: 1 + floor(({args.start_within:.0f} - " \
                      f"{start:.2f}) / {busy:.2f}) = {waves}; cores = ceil({students} / {waves})"
            else:
                how = f"runs at once = ceil({busy:.2f} s x {students} / {spread:.0f} s)"
            print(f"class of {students:>3}, {words}: {how} = {cores} worker cores")


if __name__ == "__main__":
    main()
