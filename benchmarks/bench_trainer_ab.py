"""Two checkouts' Trainers against the tutorial's loop, in turn: is a change faster?

    ARGAE_DATA_DIR=../shared/datasets python benchmarks/bench_trainer_ab.py OLD_TREE NEW_TREE
        [--row a|b] [--rounds 2] [--reps 6] [--block 10]

Two versions of `argae_core` cannot share a process, so each tree runs in a child process of its
own, the trees alternating `--rounds` times; inside a child the tutorial's loop (this file's
`reference_tutorial.py`, the same code for both trees) and that tree's Trainer at the row's
config run interleaved blocks of `--block` epochs at one thread, and the child prints the
median CPU ms per epoch of each and their ratio. Compare the trees by that ratio (the machine's
load moves both loops of a child alike), not by the milliseconds. Rows as in
bench_training_speed.py: (a) the tutorial's recipe and sizes, (b) the default sizes with the
tutorial's algorithm.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(row: str, reps: int, block: int) -> None:
    sys.path.insert(0, str(HERE))
    import torch
    from reference_tutorial import TutorialARGVA

    from argae_core.config import TrainConfig
    from argae_core.data import load_graph, split_edges
    from argae_core.training import Trainer
    torch.set_num_threads(1)
    default = TrainConfig(dataset="cora", model="argva", device="cpu")
    sizes = dict(encoder_hidden=64, latent_size=32, discriminator_hidden=64) if row == "a" else {}
    graph = load_graph(default)
    split = split_edges(graph, 0)
    trainer = Trainer(default.replace(**sizes, discriminator_steps=5, reg_weight=1.0, epochs=10_000), graph, split)
    reference = TutorialARGVA(graph, split, 0, default.replace(**sizes))
    for _ in range(3):
        trainer.step()
        reference.epoch()

    def timed(run) -> float:
        start = time.process_time()
        for _ in range(block):
            run()
        return (time.process_time() - start) * 1000 / block
    times: dict[str, list[float]] = {"reference": [], "trainer": []}
    for rep in range(reps):
        for name in (("reference", "trainer") if rep % 2 == 0 else ("trainer", "reference")):
            times[name].append(timed(reference.epoch if name == "reference" else trainer.step))
    ref, own = (statistics.median(times[k]) for k in ("reference", "trainer"))
    print(f"Trainer {own:6.2f} ms  reference {ref:6.2f} ms  reference / Trainer {ref / own:.3f}  "
          f"load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs=2, help="two checkouts of the project (old, new)")
    parser.add_argument("--row", default="a", choices=("a", "b"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reps", type=int, default=6, help="timed blocks per loop in each child")
    parser.add_argument("--block", type=int, default=10, help="epochs per block")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.row, args.reps, args.block)
        return
    for _ in range(args.rounds):
        for tree in args.trees:
            tree = str(Path(tree).resolve())
            env = {**os.environ, "PYTHONPATH": tree, "OMP_NUM_THREADS": "1"}
            command = [sys.executable, __file__, *args.trees, "--child", "--row", args.row,
                       "--reps", str(args.reps), "--block", str(args.block)]
            out = subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True, check=True)
            print(f"({args.row}) {tree:<28} {out.stdout.strip().splitlines()[-1]}", flush=True)


if __name__ == "__main__":
    main()
