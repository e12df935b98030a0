"""Sampled against full-batch training on the same graphs and splits (issue 18: within 1 point).

    PYTHONPATH=. python benchmarks/bench_sampled.py [--nodes 100000] [--seeds 5]
        [--full-epochs 50] [--sampled-epochs 2] [--batch-nodes 8192] [--threads 1]

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
    config = planted_config(args.nodes, 10.0, 128, args.child, args.batch_nodes).replace(
        seed=args.seed, epochs=args.sampled_epochs if sampled else args.full_epochs,
        eval_interval=1 if sampled else 5, snapshot_interval=1000)
    graph = load_graph(config)
    split = split_edges(graph, config.seed)
    trainer = Trainer(config, graph, split)
    start = time.perf_counter()
    seconds = [record.seconds for record in trainer]
    wall = time.perf_counter() - start
    final = trainer.final_metrics()
    return {"mode": args.child, "seed": args.seed, "test_auc": final["test_auc"], "test_ap": final["test_ap"],
            "best_epoch": final["best_epoch"], "epochs": len(seconds), "train_s": wall,
            "epoch_ms": 1000 * statistics.median(seconds),
            "updates_per_epoch": len(trainer.batches) if trainer.batches else 1,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "load": os.getloadavg()[0]}


def run(mode: str, seed: int, args) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--seed", str(seed), "--nodes", str(args.nodes),
               "--full-epochs", str(args.full_epochs), "--sampled-epochs", str(args.sampled_epochs),
               "--batch-nodes", str(args.batch_nodes), "--threads", str(args.threads)]
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--full-epochs", type=int, default=50)
    parser.add_argument("--sampled-epochs", type=int, default=2)
    parser.add_argument("--batch-nodes", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per training")
    parser.add_argument("--child", choices=("full", "sampled"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    load_before = os.getloadavg()[0]
    results = {"full": [], "sampled": []}
    for seed in range(args.seeds):
        for mode in ("full", "sampled"):  # interleaved: the machine's load falls on both alike
            print(f"seed {seed}, {mode} ...", file=sys.stderr, flush=True)
            results[mode].append(run(mode, seed, args))
    print(f"planted partition, {args.nodes:,} nodes, 10 communities, degree ~10, 128 features; default ARGVA; "
          f"{args.seeds} seeds (graph, split and weights from the seed); {args.threads} torch thread(s); "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"{'':<34}{'full-batch':>22}{'sampled':>22}")
    full, sampled = results["full"], results["sampled"]
    rows = [("test AUC (best validation epoch)", spread(r["test_auc"] for r in full), spread(r["test_auc"] for r in sampled)),
            ("test AP", spread(r["test_ap"] for r in full), spread(r["test_ap"] for r in sampled)),
            ("epochs run (best epoch median)", f"{full[0]['epochs']} ({statistics.median(r['best_epoch'] for r in full):.0f})",
             f"{sampled[0]['epochs']} ({statistics.median(r['best_epoch'] for r in sampled):.0f})"),
            ("updates per epoch", f"{full[0]['updates_per_epoch']:,}", f"{sampled[0]['updates_per_epoch']:,}"),
            ("ms per epoch (median)", f"{statistics.median(r['epoch_ms'] for r in full):,.0f}",
             f"{statistics.median(r['epoch_ms'] for r in sampled):,.0f}"),
            ("ms per update (median)", f"{statistics.median(r['epoch_ms'] / r['updates_per_epoch'] for r in full):,.0f}",
             f"{statistics.median(r['epoch_ms'] / r['updates_per_epoch'] for r in sampled):,.0f}"),
            ("training wall s (median)", f"{statistics.median(r['train_s'] for r in full):,.0f}",
             f"{statistics.median(r['train_s'] for r in sampled):,.0f}"),
            ("peak memory MB (max over seeds)", f"{max(r['peak_rss_mb'] for r in full):,.0f}",
             f"{max(r['peak_rss_mb'] for r in sampled):,.0f}")]
    for label, a, b in rows:
        print(f"{label:<34}{a:>22}{b:>22}")
    gaps = [s["test_auc"] - f["test_auc"] for f, s in zip(full, sampled)]
    print(f"test AUC sampled - full, per seed: {', '.join(f'{g:+.4f}' for g in gaps)}; mean {spread(gaps)} "
          f"(target: within 0.01)")


if __name__ == "__main__":
    main()
