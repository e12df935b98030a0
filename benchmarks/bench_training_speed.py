"""Training speed and quality on Cora: the tutorial's ARGVA loop against the project's Trainer.

    ARGAE_DATA_DIR=../shared/datasets PYTHONPATH=. python benchmarks/bench_training_speed.py
        [--repeats 7] [--block 20] [--seeds 5] [--threads 1,2] [--rows abc]

One process, one Cora graph, three rows, each a reference loop against a Trainer:

    (a) the tutorial's recipe and sizes (encoder hidden 64, latent 32, discriminator hidden 64,
        5 discriminator steps on all nodes, regulariser weight 1, KL 1/N): the tutorial's loop
        (`reference_tutorial.py`, PyG's ARGVA) vs the Trainer at the same config;
    (b) the project's default sizes (hidden 256, latent 64) with the tutorial's algorithm
        (5 D steps, weight 1): the tutorial's loop at those sizes vs the Trainer, same algorithm;
    (c) the project's defaults (1 D step, weight 0.25): the same reference vs the default Trainer,
        which separates what the engine gains from what the defaults change.

Speed, at each thread count of `--threads` (both loops at the same count): on the split of
seed 0 all five loops run blocks of `--block` epochs in turn, the order reversed every repeat,
so machine noise hits all; ms per epoch is the median over repeats, in wall time and in process
CPU time (steadier on a shared machine); the speed-up is also given per pair of neighbouring
blocks. The Trainer's epochs include its own validation and snapshots at the default intervals;
the reference's include no evaluation. Evaluation share: from the default Trainer's per-epoch
seconds, the extra time of epochs that validate or keep a snapshot over a plain epoch. Where
the time goes: the parts of one epoch of each loop, timed separately (first thread count).

Quality: for each of `--seeds` seeds (split, weights and samples) every loop trains the
config's epochs; test AUC / AP of a reference at its last epoch (as the tutorial does), of a
Trainer at its best-validation epoch (`final_metrics`) and at its last epoch.
"""
from __future__ import annotations

import argparse
import os
import platform
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
TUTORIAL_SIZES = dict(encoder_hidden=64, latent_size=32, discriminator_hidden=64)
TUTORIAL_ALGORITHM = dict(discriminator_steps=5, reg_weight=1.0)
REFERENCE_TUTORIAL = "tutorial loop, tutorial sizes"
REFERENCE_DEFAULT = "tutorial loop, default sizes"
ROWS = {  # row -> (its reference loop, its Trainer's config changes from the default)
    "(a) tutorial recipe": (REFERENCE_TUTORIAL, {**TUTORIAL_SIZES, **TUTORIAL_ALGORITHM}),
    "(b) default sizes, tutorial algorithm": (REFERENCE_DEFAULT, TUTORIAL_ALGORITHM),
    "(c) project defaults": (REFERENCE_DEFAULT, {}),
}
DEFAULT = "(c) project defaults"


def median_ms(call, repeats: int, warmup: int = 0) -> float:
    """Wall ms of one `call()`, the median over `repeats` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def timed_block(run_epoch, epochs: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per epoch over `epochs` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        run_epoch()
    return ((time.perf_counter() - wall) * 1000 / epochs,
            (time.process_time() - cpu) * 1000 / epochs)


def loops_for(configs: dict[str, TrainConfig], references: dict[str, TrainConfig], graph, split):
    """The reference loops and the Trainers, built on one split (seed 0)."""
    built = {name: TutorialARGVA(graph, split, c.seed, c) for name, c in references.items()}
    trainers = {name: Trainer(c.replace(epochs=TIMING_EPOCHS), graph, split) for name, c in configs.items()}
    return built, trainers


def speed(configs: dict[str, TrainConfig], references: dict[str, TrainConfig], graph, repeats: int,
          block: int, threads: int, with_parts: bool) -> dict:
    """At `threads` torch threads: per loop the (wall, CPU) ms per epoch of each block; the
    default Trainer's history; the parts of one epoch when `with_parts`."""
    torch.set_num_threads(threads)
    built, trainers = loops_for(configs, references, graph, split_edges(graph, next(iter(configs.values())).seed))
    loops = {**{name: r.epoch for name, r in built.items()}, **{name: t.step for name, t in trainers.items()}}
    for _ in range(3):  # warm: GCN normalisation, allocator, first-call costs
        for run in loops.values():
            run()
    blocks: dict[str, list] = {name: [] for name in loops}
    for repeat in range(repeats):
        order = list(loops) if repeat % 2 == 0 else list(loops)[::-1]
        for name in order:
            blocks[name].append(timed_block(loops[name], block))
    return {"blocks": blocks, "history": trainers[DEFAULT].history[3:] if DEFAULT in trainers else [],
            "parts": parts(built, trainers, repeats=block) if with_parts else {},
            "load": os.getloadavg()[0]}


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
        return median_ms(lambda: metrics.prior_match(z, seed=0, **options), repeats)
    return {"curve point": clock(shape=False, mmd_sample=projection.CURVE_MMD_SAMPLE), "final": clock()}


def parts(references: dict[str, TutorialARGVA], trainers: dict[str, Trainer], repeats: int) -> dict:
    """CPU ms of the parts of one epoch (median over `repeats`): encode, the discriminator
    updates, the encoder update (losses, backward, step), negative sampling, evaluation."""
    from torch_geometric.utils import negative_sampling
    out = {}

    def clock(name, fn, *args):
        start = time.process_time()
        result = fn(*args)
        out.setdefault(name, []).append((time.process_time() - start) * 1000)
        return result

    def reference_discriminator(reference, z):
        for _ in range(5):
            reference.discriminator_optimizer.zero_grad()
            reference.model.discriminator_loss(z[range(reference.num_nodes)]).backward(retain_graph=True)
            reference.discriminator_optimizer.step()

    def reference_encoder(reference, z):
        model = reference.model
        loss = (model.reg_loss(z) + model.recon_loss(z, reference.train_edges)
                + model.kl_loss() / reference.num_nodes)
        loss.backward()
        reference.encoder_optimizer.step()

    def trainer_discriminator(trainer, z):
        for _ in range(trainer.config.discriminator_steps):
            trainer.discriminator_step(z)

    def trainer_evaluation(trainer):  # what a validating, snapshotting epoch adds
        z = trainer.embed()
        trainer._validate(z)
        trainer.snapshot(z, subsample=True)

    for _ in range(repeats):
        for name, reference in references.items():
            reference.model.train()
            reference.encoder_optimizer.zero_grad()
            z = clock(f"{name}: encode", reference.model.encode, reference.x, reference.train_edges)
            clock(f"{name}: 5 discriminator updates", reference_discriminator, reference, z)
            clock(f"{name}: encoder update", reference_encoder, reference, z)
            clock(f"{name}: (in it) PyG negative sampling", negative_sampling,
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


def cpu_model() -> str:
    """The processor's name as Linux gives it (the ratios differ between machines of one kind)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def core_speed(configs: dict[str, TrainConfig], graph, calls: int = 20) -> dict:
    """How near this core's best rate the discriminator update runs: a 1024^3 sgemm's (ms,
    GFLOP/s) as "sgemm", and per row ("rows"), the (ms, GFLOP/s of its five products) of one
    `batch_gradients` call at the row's D sizes on a [prior; z] batch of Cora's size; medians."""
    from argae_core.models import Discriminator
    big = torch.randn(1024, 1024)
    ms = median_ms(lambda: torch.mm(big, big), 5, warmup=1)
    out = {"sgemm": (ms, 2 * 1024 ** 3 / ms / 1e6), "rows": {}}
    rows = 2 * graph.num_nodes
    for name, c in configs.items():
        latent, hidden = c.latent_size, c.discriminator_hidden
        torch.manual_seed(0)
        d, batch = Discriminator(latent, hidden), torch.randn(rows, latent)
        # warm-up: the first calls time both libraries for each product (dense.py)
        ms = median_ms(lambda: d.batch_gradients(batch, rows // 2), calls, warmup=3)
        # forward W1 x, W2 h1, w3 h2; backward w3's and W2's, W1's weight gradients and G2 W2
        flops = 2 * rows * (2 * latent * hidden + 3 * hidden * hidden + 2 * hidden)
        out["rows"][name] = (ms, flops / ms / 1e6)
    return out


def quality(configs: dict[str, TrainConfig], references: dict[str, TrainConfig], graph, seeds: int) -> dict:
    """(test AUC, test AP) per seed: `name` (references: last epoch; Trainers: best validation
    epoch) and, for Trainers, `name (last epoch)`."""
    scores: dict[str, list[tuple[float, float]]] = {}
    for seed in range(seeds):
        split = split_edges(graph, seed)
        for name, config in references.items():
            reference = TutorialARGVA(graph, split, seed, config)
            for _ in range(config.epochs):
                reference.epoch()
            scores.setdefault(name, []).append(reference.test_scores())
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


def speed_table(timing: dict, threads: int, rows: dict) -> None:
    blocks = timing["blocks"]
    wall = {name: statistics.median(w for w, _ in b) for name, b in blocks.items()}
    cpu = {name: statistics.median(c for _, c in b) for name, b in blocks.items()}
    print(f"\n{threads} thread(s), load average {timing['load']:.1f} (1 min, after the blocks)")
    print(f"{'row':<40}{'reference ms':>13}{'Trainer ms':>12}{'speed-up':>10}"
          f"{'  per block pair':<26}{'CPU speed-up':>13}")
    for name, (reference, _) in rows.items():
        ratios = [r[0] / t[0] for r, t in zip(blocks[reference], blocks[name])]
        print(f"{name:<40}{wall[reference]:>13.1f}{wall[name]:>12.1f}{wall[reference] / wall[name]:>9.2f}x"
              f"  median {statistics.median(ratios):.2f}x, {min(ratios):.2f}-{max(ratios):.2f}"
              f"{cpu[reference] / cpu[name]:>12.2f}x")


def report(configs: dict[str, TrainConfig], graph, timings: dict[int, dict], scores: dict, args,
           rows: dict) -> None:
    config = TrainConfig(dataset="cora", model="argva")
    print(f"\nCora: {graph.num_nodes} nodes, {graph.num_edges} edges, {graph.num_features} features; "
          f"torch {torch.__version__}; {os.cpu_count()} CPUs ({cpu_model()}), load average now "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    for name, c in configs.items():
        print(f"{name}: hidden {c.encoder_hidden}, latent {c.latent_size}, D hidden "
              f"{c.discriminator_hidden}, {c.discriminator_steps} D step(s), regulariser weight "
              f"{c.effective_reg_weight():g}, lr {c.encoder_lr} / {c.discriminator_lr}")
    print(f"{config.epochs} epochs; Trainer: eval every {config.eval_interval}, snapshot every "
          f"{config.snapshot_interval}; speed: {args.repeats} interleaved blocks of {args.block} "
          f"epochs (median); quality: {args.seeds} seeds, mean ± std")
    for threads, timing in timings.items():
        speed_table(timing, threads, rows)
    print("\ntarget: every row >= 3x the reference's epochs per second at 1 and 2 threads")
    if scores:
        print(f"\n{'loop':<48}{'test AUC':<17}{'test AP':<17}")
        for name in [*dict.fromkeys(r for r, _ in rows.values()), *rows]:
            print(f"{name:<48}{mean_std(scores.get(name), 0):<17}{mean_std(scores.get(name), 1):<17}")
            if name in rows:
                last = scores.get(f"{name} (last epoch)")
                print(f"{'  same, last epoch':<48}{mean_std(last, 0):<17}{mean_std(last, 1):<17}")
        print("target: a Trainer's mean test AUC / AP not lower than its reference's")
    if not timings:
        return
    first = next(iter(timings.values()))
    if DEFAULT in rows:
        share = evaluation_share(first["history"], config)
        wall_default = statistics.median(w for w, _ in first["blocks"][DEFAULT])
        print(f"\nevaluation share of the default Trainer's epoch time: {100 * share:.1f} %   (target < 20 %)")
        cost, between = first["prior_match"], config.snapshot_interval * wall_default
        print(f"prior match, per snapshot (beside the pictures, not in the loop): {cost['curve point']:.0f} ms = "
              f"{100 * cost['curve point'] / between:.0f} % of the {between:.0f} ms between two snapshots; "
              f"full set at the end of a run: {cost['final']:.0f} ms once")
    print(f"\nwhere the time goes (CPU ms, one epoch, median, {next(iter(timings))} thread(s)):")
    for name, ms in first["parts"].items():
        print(f"  {name:<70}{ms:>8.2f}")
    if "core" in first:
        sgemm_ms, peak = first["core"]["sgemm"]
        print(f"\nthis core ({next(iter(timings))} thread(s)): a 1024^3 sgemm {sgemm_ms:.1f} ms, {peak:.0f} GFLOP/s")
        for name, (ms, rate) in first["core"]["rows"].items():
            print(f"  {name}: one D update {ms:.2f} ms, its five products at {rate:.0f} GFLOP/s "
                  f"({100 * rate / peak:.0f} % of the sgemm's; at the sgemm's rate the update would take "
                  f"{ms * rate / peak:.2f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks per loop")
    parser.add_argument("--block", type=int, default=20, help="epochs per timed block")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for test AUC / AP (0: speed only)")
    parser.add_argument("--threads", default="1,2", help="torch thread counts, comma-separated (both loops)")
    parser.add_argument("--rows", default="abc", help="which rows, by letter [abc]; --repeats 0: quality only")
    args = parser.parse_args()
    rows = {name: row for name, row in ROWS.items() if name[1] in args.rows}
    default = TrainConfig(dataset="cora", model="argva", device="cpu")  # like for like: CPU
    configs = {name: default.replace(**changes) for name, (_, changes) in rows.items()}
    references = {name: c for name, c in {REFERENCE_TUTORIAL: default.replace(**TUTORIAL_SIZES),
                                          REFERENCE_DEFAULT: default}.items()
                  if any(reference == name for reference, _ in rows.values())}
    graph = load_graph(default)
    counts = [int(n) for n in args.threads.split(",")] if args.repeats else []
    timings = {}
    for i, threads in enumerate(counts):
        timings[threads] = speed(configs, references, graph, args.repeats, args.block, threads, i == 0)
        print(f"timed {args.repeats} x {args.block} epochs of each at {threads} thread(s)", flush=True)
    if counts:
        torch.set_num_threads(counts[0])
        if DEFAULT in rows:
            timings[counts[0]]["prior_match"] = prior_match_cost(default, graph)
        timings[counts[0]]["core"] = core_speed(configs, graph)
    torch.set_num_threads(counts[0] if counts else int(args.threads.split(",")[0]))
    scores = quality(configs, references, graph, args.seeds) if args.seeds else {}
    report(configs, graph, timings, scores, args, rows)


if __name__ == "__main__":
    main()
