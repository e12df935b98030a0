"""Step mode on a big graph: what one click of "One update" costs after a discriminator update.

    PYTHONPATH=. python benchmarks/bench_step_mode.py [--nodes 200000] [--repeats 5] [--threads 1]

A planted partition (10 communities, average degree about 10, 128 features) trains ARGVA
sampled with 3 discriminator updates per batch. After each discriminator update step mode
sends Z and D(z) of the snapshot's nodes (argae_core/jobs/worker.py). Timed in one process,
interleaved, median of `--repeats`:

    embed again   `Trainer.snapshot(subsample=True)`: a full chunked pass over the graph (what
                  every click cost before)
    step mode     `Trainer.step_snapshot()`: Z embedded again only after an encoder update (a
                  discriminator update leaves Z as it was), D(z) under the new D
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from argae_core.config import TrainConfig
from argae_core.training import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    degree, communities = 10.0, 10
    size = args.nodes / communities   # 80 % of the edges inside the communities
    p_in, p_out = 0.8 * degree / (size - 1), 0.2 * degree / (args.nodes - size)
    config = TrainConfig(dataset="planted", model="argva", planted_nodes=args.nodes, planted_communities=communities,
                         planted_p_in=p_in, planted_p_out=p_out, planted_feature_dim=128, sampling="sampled",
                         discriminator_steps=3, epochs=10)
    started = time.perf_counter()
    trainer = Trainer(config)
    print(f"{args.nodes:,} nodes, {trainer.graph.num_edges:,} edges, sampled by {trainer.sampler}; "
          f"built in {time.perf_counter() - started:.1f} s; {args.threads} thread(s)")
    full, step = [], []
    for _ in range(args.repeats):
        phase = trainer.advance()
        while phase["phase"] != "discriminator":   # an encoder update (or a record): on to the next D update
            phase = trainer.advance()
        trainer.step_snapshot()                     # the first after an encoder update embeds: not timed
        phase = trainer.advance()
        if phase["phase"] != "discriminator":
            continue
        for timings, call in ((step, trainer.step_snapshot), (full, lambda: trainer.snapshot(subsample=True))):
            clock = time.perf_counter()
            call()
            timings.append(time.perf_counter() - clock)
    embed, cached = statistics.median(full), statistics.median(step)
    print(f"after a discriminator update: embed again {embed * 1000:.1f} ms, step mode {cached * 1000:.1f} ms "
          f"({embed / cached:.0f}x less per click; {len(full)} clicks each); load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
