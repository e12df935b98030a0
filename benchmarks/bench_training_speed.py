"""Training speed and quality on Cora: the tutorial's ARGVA loop against the project's Trainer.

    ARGAE_DATA_DIR=../shared/datasets PYTHONPATH=. python benchmarks/bench_training_speed.py
        [--repeats 7] [--block 20] [--seeds 5] [--threads 1]

One process, one Cora graph. Three loops: (a) `reference_tutorial.py`, the tutorial's loop
with PyG's ARGVA, at the default config's sizes and learning rates; (b) `Trainer` with the
default ARGVA config; (c) `Trainer` with the tutorial's algorithm (5 discriminator updates,
regulariser weight 1), which separates what the engine gains from what the defaults change.

Speed: on the split of seed 0 the loops run blocks of `--block` epochs in turn, the order
reversed every repeat, so machine noise hits all; ms per epoch is the median over repeats, in
wall time and in process CPU time (steadier on a shared machine). The Trainer's epochs include
its own validation and snapshots at the default intervals; the reference's include no
evaluation. Evaluation share: from the Trainer's per-epoch seconds, the extra time of epochs
that validate or keep a snapshot over a plain epoch, at the default intervals. Where the time
goes: the parts of one epoch of each loop, timed separately.

Quality: for each of `--seeds` seeds (split, weights and samples) every loop trains the
config's epochs; test AUC / AP of the reference at its last epoch (as the tutorial does), of a
Trainer at its best-validation epoch (`final_metrics`) and at its last epoch.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_tutorial import TutorialARGVA  # noqa: E402

from argae_core import metrics, projection  # noqa: E402
from argae_core.config import TrainConfig  # noqa: E402
from argae_core.data import load_graph, split_edges  # noqa: E402
from argae_core.training import Trainer  # noqa: E402

TIMING_EPOCHS = 10_000  # the timed Trainer never reaches its last epoch (which evaluates)
REFERENCE = "(a) tutorial reference"
DEFAULT = "(b) Trainer, default config"
TUTORIAL_ALGORITHM = "(c) Trainer, 5 D steps, reg weight 1"


def timed_block(run_epoch, epochs: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per epoch over `epochs` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        run_epoch()
    return ((time.perf_counter() - wall) * 1000 / epochs,
            (time.process_time() - cpu) * 1000 / epochs)


def speed(configs: dict[str, TrainConfig], graph, repeats: int, block: int) -> dict:
    """Per loop: (wall, CPU) ms per epoch of each block; the default Trainer's history; parts."""
    config = configs[DEFAULT]
    split = split_edges(graph, config.seed)
    reference = TutorialARGVA(graph, split, config.seed, config)
    trainers = {name: Trainer(c.replace(epochs=TIMING_EPOCHS), graph, split) for name, c in configs.items()}
    loops = {REFERENCE: reference.epoch, **{name: t.step for name, t in trainers.items()}}
    for _ in range(3):  # warm: GCN normalisation, allocator, first-call costs
        for run in loops.values():
            run()
    blocks: dict[str, list] = {name: [] for name in loops}
    for repeat in range(repeats):
        order = list(loops) if repeat % 2 == 0 else list(loops)[::-1]
        for name in order:
            blocks[name].append(timed_block(loops[name], block))
    return {"blocks": blocks, "history": trainers[DEFAULT].history[3:],
            "parts": parts(reference, trainers, repeats=block)}


def thread_effect(config: TrainConfig, graph, block: int, repeats: int = 3) -> dict[int, float]:
    """Wall ms per epoch of the default Trainer at 1 thread and at one per CPU, interleaved."""
    counts = sorted({1, os.cpu_count() or 1})
    trainer = Trainer(config.replace(epochs=TIMING_EPOCHS), graph)
    trainer.step()
    before, out = torch.get_num_threads(), {n: [] for n in counts}
    for repeat in range(repeats):
        for n in (counts if repeat % 2 == 0 else counts[::-1]):
            torch.set_num_threads(n)
            out[n].append(timed_block(trainer.step, block)[0])
    torch.set_num_threads(before)
    return {n: statistics.median(v) for n, v in out.items()}


def evaluation_share(history: list[dict], config: TrainConfig) -> float:
    """Share of the Trainer's time spent validating and keeping snapshots, at the config's
    intervals: extra seconds of those epochs over a plain epoch (medians), per cycle."""
    def kind(row):
        return (row["val_auc"] is not None, row["epoch"] % config.snapshot_interval == 0)
    groups: dict[tuple, list[float]] = {}
    for row in history:
        groups.setdefault(kind(row), []).append(row["seconds"])
    plain = statistics.median(groups[(False, False)])
    cycle = np.lcm(config.eval_interval, config.snapshot_interval)
    counts = {(v, s): 0 for v in (False, True) for s in (False, True)}
    for epoch in range(1, cycle + 1):
        counts[(epoch % config.eval_interval == 0, epoch % config.snapshot_interval == 0)] += 1
    extra = sum(n * (statistics.median(groups[k]) - plain) for k, n in counts.items() if n and k in groups)
    return max(extra, 0.0) / (cycle * plain + extra)


def prior_match_cost(config: TrainConfig, graph, repeats: int = 3) -> dict[str, float]:
    """Wall ms (median) of the prior-match measures on a Cora Z: one point of the per-snapshot
    curve (computed beside the pictures, never in the training loop) and the full set the
    final metrics add once at the end of a run."""
    trainer = Trainer(config.replace(epochs=TIMING_EPOCHS), graph=graph)
    for _ in range(10):
        trainer.step()
    z = trainer.embed().cpu().numpy()

    def clock(**options) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            metrics.prior_match(z, seed=0, **options)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)
    return {"curve point": clock(shape=False, mmd_sample=projection.CURVE_MMD_SAMPLE), "final": clock()}


def parts(reference: TutorialARGVA, trainers: dict[str, Trainer], repeats: int) -> dict:
    """CPU ms of the parts of one epoch (median over `repeats`): encode, the discriminator
    updates, the encoder update (losses, backward, step), negative sampling, evaluation."""
    from torch_geometric.utils import negative_sampling
    model, out = reference.model, {}

    def clock(name, fn, *args):
        start = time.process_time()
        result = fn(*args)
        out.setdefault(name, []).append((time.process_time() - start) * 1000)
        return result

    def reference_discriminator(z):
        for _ in range(5):
            reference.discriminator_optimizer.zero_grad()
            model.discriminator_loss(z[range(reference.num_nodes)]).backward(retain_graph=True)
            reference.discriminator_optimizer.step()

    def reference_encoder(z):
        loss = (model.reg_loss(z) + model.recon_loss(z, reference.train_edges)
                + model.kl_loss() / reference.num_nodes)
        loss.backward()
        reference.encoder_optimizer.step()

    def trainer_discriminator(trainer, z):
        for _ in range(trainer.config.discriminator_steps):
            trainer.discriminator_step(z)

    def trainer_evaluation(trainer):
        z = trainer.embed()
        trainer.model.test(z, *trainer.val_edges)
        trainer.snapshot(z)

    for _ in range(repeats):
        model.train()
        reference.encoder_optimizer.zero_grad()
        z = clock(f"{REFERENCE}: encode", model.encode, reference.x, reference.train_edges)
        clock(f"{REFERENCE}: 5 discriminator updates", reference_discriminator, z)
        clock(f"{REFERENCE}: encoder update", reference_encoder, z)
        clock(f"{REFERENCE}: (in it) PyG negative sampling", negative_sampling,
              reference.train_edges, reference.num_nodes)
        for name, trainer in trainers.items():
            steps = trainer.config.discriminator_steps
            trainer.model.train()
            z = clock(f"{name}: encode", trainer.encode)
            clock(f"{name}: {steps} discriminator update(s)", trainer_discriminator, trainer, z)
            clock(f"{name}: encoder update", trainer.encoder_step, z)
            clock(f"{name}: (in it) negative sampling", trainer.negative_edges)
            clock(f"{name}: one validation + snapshot", trainer_evaluation, trainer)
    return {name: statistics.median(values) for name, values in out.items()}


def quality(configs: dict[str, TrainConfig], graph, seeds: int) -> dict:
    """(test AUC, test AP) per seed: `name` (reference: last epoch; Trainers: best validation
    epoch) and, for Trainers, `name (last epoch)`."""
    scores: dict[str, list[tuple[float, float]]] = {}
    epochs = configs[DEFAULT].epochs
    for seed in range(seeds):
        split = split_edges(graph, seed)
        reference = TutorialARGVA(graph, split, seed, configs[DEFAULT])
        for _ in range(epochs):
            reference.epoch()
        scores.setdefault(REFERENCE, []).append(reference.test_scores())
        for name, config in configs.items():
            trainer = Trainer(config.replace(seed=seed), graph, split)
            for _ in trainer:
                pass
            last = trainer.model.test(trainer.embed(), *trainer.test_edges)
            scores.setdefault(f"{name} (last epoch)", []).append(tuple(float(v) for v in last))
            best = trainer.final_metrics()
            scores.setdefault(name, []).append((best["test_auc"], best["test_ap"]))
        print(f"  seed {seed}: test AUC " + ", ".join(f"{k} {v[-1][0]:.3f}" for k, v in scores.items()),
              flush=True)
    return scores


def mean_std(pairs, index: int) -> str:
    """'mean ± std' of element `index` of (AUC, AP) pairs; '-' when quality was skipped."""
    if not pairs:
        return "-"
    values = [p[index] for p in pairs]
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def report(configs: dict[str, TrainConfig], graph, timing: dict, scores: dict, args) -> None:
    config = configs[DEFAULT]
    blocks = timing["blocks"]
    wall = {name: statistics.median(w for w, _ in b) for name, b in blocks.items()}
    cpu = {name: statistics.median(c for _, c in b) for name, b in blocks.items()}
    print(f"\nCora: {graph.num_nodes} nodes, {graph.num_edges} edges, {graph.num_features} features; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"config: latent {config.latent_size}, encoder hidden {config.encoder_hidden}, "
          f"discriminator hidden {config.discriminator_hidden}, lr {config.encoder_lr} / "
          f"{config.discriminator_lr}; default Trainer: {config.discriminator_steps} D step(s), "
          f"regulariser weight {config.effective_reg_weight():g}; {config.epochs} epochs, "
          f"eval every {config.eval_interval}, snapshot every {config.snapshot_interval}")
    print(f"speed: {args.repeats} interleaved blocks of {args.block} epochs (median); quality: "
          f"{args.seeds} seeds, mean ± std\n")
    print(f"{'loop':<36}{'ms/epoch wall':>14}{'ms/epoch CPU':>14}{'speed-up':>10}   "
          f"{'test AUC':<16}{'test AP':<16}")
    for name in blocks:
        ratios = [r[0] / b[0] for r, b in zip(blocks[REFERENCE], blocks[name])]
        speedup = (f"{wall[REFERENCE] / wall[name]:.2f}x" if name != REFERENCE else "1")
        pairs = scores.get(name, [])
        print(f"{name:<36}{wall[name]:>14.1f}{cpu[name]:>14.1f}{speedup:>10}   "
              f"{mean_std(pairs, 0):<16}{mean_std(pairs, 1):<16}")
        if name != REFERENCE:
            pairs = scores.get(f"{name} (last epoch)", [])
            print(f"{'  same, last epoch':<36}{'':>14}{'':>14}{'':>10}   "
                  f"{mean_std(pairs, 0):<16}{mean_std(pairs, 1):<16}")
            print(f"{'  wall speed-up per block pair':<36}  median {statistics.median(ratios):.2f}x, "
                  f"range {min(ratios):.2f}-{max(ratios):.2f}; CPU {cpu[REFERENCE] / cpu[name]:.2f}x")
    print(f"\ntarget: {DEFAULT} >= 3x the reference's epochs per second, mean AUC / AP not lower")
    share = evaluation_share(timing["history"], config)
    print(f"evaluation share of the Trainer's epoch time: {100 * share:.1f} %   (target < 20 %)")
    cost, between = timing["prior_match"], config.snapshot_interval * wall[DEFAULT]
    print(f"prior match, per snapshot (beside the pictures, not in the loop): {cost['curve point']:.0f} ms = "
          f"{100 * cost['curve point'] / between:.0f} % of the {between:.0f} ms between two snapshots; "
          f"full set at the end of a run: {cost['final']:.0f} ms once")
    print("threads, default Trainer, wall ms/epoch: " + ", ".join(
        f"{n}: {ms:.1f}" for n, ms in timing["threads"].items()))
    print("\nwhere the time goes (CPU ms, one epoch, median):")
    for name, ms in timing["parts"].items():
        print(f"  {name:<58}{ms:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks per loop")
    parser.add_argument("--block", type=int, default=20, help="epochs per timed block")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for test AUC / AP")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (both loops)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    default = TrainConfig(dataset="cora", model="argva", device="cpu")  # like for like: CPU
    configs = {DEFAULT: default,
               TUTORIAL_ALGORITHM: default.replace(discriminator_steps=5, reg_weight=1.0)}
    graph = load_graph(default)
    timing = speed(configs, graph, args.repeats, args.block)
    timing["threads"] = thread_effect(default, graph, args.block)
    timing["prior_match"] = prior_match_cost(default, graph)
    print(f"timed {args.repeats} x {args.block} epochs of each; quality over {args.seeds} seeds:", flush=True)
    scores = quality(configs, graph, args.seeds)
    report(configs, graph, timing, scores, args)


if __name__ == "__main__":
    main()
