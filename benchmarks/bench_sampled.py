"""Sampled against full-batch training on the same graphs and splits (issue 18: within 1 point).

    PYTHONPATH=. python benchmarks/bench_sampled.py [--nodes 100000] [--seeds 5]
        [--full-epochs 50] [--sampled-epochs 2] [--batch-nodes 8192] [--threads 1]
        [--samplers auto] [--no-full]

`--samplers subgraph,neighbour` trains sampled once per sampler (config `sampler`: the
edge-seeded subgraphs, PyG's LinkNeighborLoader, which needs pyg-lib or torch-sparse; auto:
the loader where it runs), each its own column; `--no-full` leaves full-batch out. `--draw`
trains nothing: it times one epoch of each sampler's batch draws on seed 0's graph and prints
the batches' nodes and message edges.

For each seed: a planted partition (10 communities, degree ~10, 128 features; the graph and
the split drawn from the seed), the default ARGVA trained full-batch and sampled, each in a
fresh process (so peak memory is its own: ru_maxrss), test AUC / AP at the best validation
epoch. Full-batch validates every 5 epochs, sampled every epoch (a sampled epoch is one pass
over the training edges: `batches` updates, against one for full-batch). Printed: test AUC
and AP mean ± std over the seeds, the per-seed difference sampled - full, ms per epoch and per
update (medians), peak memory, and the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_scaling import planted_config  # noqa: E402


def child(args) -> dict:
    import torch

    from argae_core.data import load_graph, split_edges
    from argae_core.training import Trainer
    torch.set_num_threads(args.threads)
    sampled = args.child == "sampled"
    config = planted_config(args.nodes, 10.0, 128, sampling=args.child, batch_nodes=args.batch_nodes).replace(
        seed=args.seed, epochs=args.sampled_epochs if sampled else args.full_epochs,
        eval_interval=1 if sampled else 5, snapshot_interval=1000, sampler=args.sampler)
    graph = load_graph(config)
    split = split_edges(graph, config.seed)
    trainer = Trainer(config, graph, split)
    start = time.perf_counter()
    seconds = [record.seconds for record in trainer]
    wall = time.perf_counter() - start
    final = trainer.final_metrics()
    return {"mode": args.child, "sampler": trainer.sampler, "seed": args.seed, "test_auc": final["test_auc"], "test_ap": final["test_ap"],
            "best_epoch": final["best_epoch"], "epochs": len(seconds), "train_s": wall,
            "epoch_ms": 1000 * statistics.median(seconds),
            "updates_per_epoch": len(trainer.batches) if trainer.batches else 1,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "load": os.getloadavg()[0]}


def draw(args, samplers: list[str]) -> None:
    """One epoch of batch draws per sampler (no training): ms per batch, nodes and edges."""
    import torch

    from argae_core import sampling
    from argae_core.data import load_graph, split_edges
    from argae_core.training import one_direction
    torch.set_num_threads(args.threads)
    config = planted_config(args.nodes, 10.0, 128, sampling="sampled", batch_nodes=args.batch_nodes)
    graph = load_graph(config)
    train = split_edges(graph, config.seed).train_edge_index
    positives = one_direction(train)
    for choice in samplers:
        torch.manual_seed(0)
        batches, words = sampling.batch_source(choice, train, positives, graph.num_nodes, args.batch_nodes)
        start, nodes, edges = time.perf_counter(), [], []
        for batch in batches.epoch():
            nodes.append(batch.nodes.numel())
            edges.append(batch.edge_index.size(1))
        wall = time.perf_counter() - start
        print(f"{choice}: {words}: {len(nodes)} batches, {1000 * wall / len(nodes):.1f} ms per draw, nodes "
              f"{statistics.mean(nodes):,.0f} on average (min {min(nodes):,}, max {max(nodes):,}), message edges "
              f"{statistics.mean(edges):,.0f}; load average {os.getloadavg()[0]:.1f}")


def run(mode: str, seed: int, args) -> dict:
    """`mode`: "full" or "sampled:<sampler>"."""
    child, _, sampler = mode.partition(":")
    command = [sys.executable, __file__, "--child", child, "--seed", str(seed), "--nodes", str(args.nodes),
               "--full-epochs", str(args.full_epochs), "--sampled-epochs", str(args.sampled_epochs),
               "--batch-nodes", str(args.batch_nodes), "--threads", str(args.threads),
               "--sampler", sampler or "auto"]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=args.timeout,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    if done.returncode != 0:
        raise SystemExit(f"{mode} seed {seed} failed (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


def spread(values) -> str:
    values = list(values)
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0:.4f}"


def main() -> None:
    from argae_core.config import SAMPLERS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--full-epochs", type=int, default=50)
    parser.add_argument("--sampled-epochs", type=int, default=2)
    parser.add_argument("--batch-nodes", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samplers", default="auto",
                        help=f"comma-separated, of {', '.join(SAMPLERS)}: one sampled column each [auto]")
    parser.add_argument("--no-full", action="store_true", help="leave full-batch training out")
    parser.add_argument("--draw", action="store_true", help="only time the samplers' batch draws")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per training")
    parser.add_argument("--child", choices=("full", "sampled"), help=argparse.SUPPRESS)
    parser.add_argument("--sampler", default="auto", choices=SAMPLERS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    samplers = [name.strip() for name in args.samplers.split(",") if name.strip()]
    if not samplers or set(samplers) - set(SAMPLERS):
        parser.error(f"--samplers takes {', '.join(SAMPLERS)}")
    if args.draw:
        draw(args, samplers)
        return
    modes = ([] if args.no_full else ["full"]) + [f"sampled:{name}" for name in samplers]
    load_before = os.getloadavg()[0]
    results = {mode: [] for mode in modes}
    for seed in range(args.seeds):
        for mode in modes:  # interleaved: the machine's load falls on all alike
            print(f"seed {seed}, {mode} ...", file=sys.stderr, flush=True)
            results[mode].append(run(mode, seed, args))
    print(f"planted partition, {args.nodes:,} nodes, 10 communities, degree ~10, 128 features; default ARGVA; "
          f"{args.seeds} seeds (graph, split and weights from the seed); {args.threads} torch thread(s); "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    for mode in modes:
        if mode != "full":
            print(f"{mode}: {results[mode][0]['sampler']}")
    columns = [results[mode] for mode in modes]
    width = 24

    def row(label: str, cell) -> None:
        print(f"{label:<34}" + "".join(f"{cell(rs):>{width}}" for rs in columns))

    def median(rs, key) -> float:
        return statistics.median(key(r) for r in rs)

    print(f"{'':<34}" + "".join(f"{'full-batch' if m == 'full' else m:>{width}}" for m in modes))
    row("test AUC (best validation epoch)", lambda rs: spread(r["test_auc"] for r in rs))
    row("test AP", lambda rs: spread(r["test_ap"] for r in rs))
    row("epochs run (best epoch median)", lambda rs: f"{rs[0]['epochs']} ({median(rs, lambda r: r['best_epoch']):.0f})")
    row("updates per epoch", lambda rs: f"{rs[0]['updates_per_epoch']:,}")
    row("ms per epoch (median)", lambda rs: f"{median(rs, lambda r: r['epoch_ms']):,.0f}")
    row("ms per update (median)", lambda rs: f"{median(rs, lambda r: r['epoch_ms'] / r['updates_per_epoch']):,.0f}")
    row("training wall s (median)", lambda rs: f"{median(rs, lambda r: r['train_s']):,.0f}")
    row("peak memory MB (max over seeds)", lambda rs: f"{max(r['peak_rss_mb'] for r in rs):,.0f}")
    if "full" in results:
        for mode in modes[1:]:
            gaps = [s["test_auc"] - f["test_auc"] for f, s in zip(results["full"], results[mode])]
            print(f"test AUC {mode} - full, per seed: {', '.join(f'{g:+.4f}' for g in gaps)}; mean {spread(gaps)} "
                  f"(target: within 0.01)")


if __name__ == "__main__":
    main()
