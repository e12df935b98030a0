"""What the adversarial regulariser does to Z, and what it costs: test AUC and prior match
(spread of Z in the prior's units, a classifier two-sample test, MMD) over seeds.

Two tables, both mean ± sample std over --seeds seeds, Z at the best-validation epoch (what
the app reports):

- `--table rows` (default): the settings a teacher tries first (defaults, the tutorial's
  5 discriminator steps at weight 1, a strong regulariser, small latent sizes), GAE beside
  ARGVA where it matters;
- `--table grid`: ARGVA over regulariser weights x latent sizes (the Compare page's sweep).

    ARGAE_DATA_DIR=../shared/datasets PYTHONPATH=. python benchmarks/bench_regulariser.py --dataset cora --seeds 5
    PYTHONPATH=. python benchmarks/bench_regulariser.py --dataset planted --table grid --seeds 5

One torch thread per run (on this shared 2-core machine more threads were slower). `--json`
writes every run's numbers for later reading.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from argae_core import sweep
from argae_core.compare import Stat
from argae_core.config import TrainConfig
from argae_core.data import load_graph, split_edges
from argae_core.training import Trainer

COLUMNS = (("test_auc", "test AUC", 3), ("z_std", "spread", 2), ("norm_ratio", "norm", 2),
           ("c2st", "C2ST", 2), ("c2st_shape", "C2ST unit", 2), ("mmd", "MMD", 4))
ROWS = (  # (label, changes over the dataset's defaults)
    ("GAE, defaults (latent 64)", {"model": "gae"}),
    ("VGAE, defaults", {"model": "vgae"}),
    ("ARGVA, defaults", {"model": "argva"}),
    ("ARGVA, 5 D steps, weight 1", {"model": "argva", "discriminator_steps": 5, "reg_weight": 1.0}),
    ("ARGVA, weight 16", {"model": "argva", "reg_weight": 16.0}),
    ("GAE, latent 8", {"model": "gae", "latent_size": 8}),
    ("ARGVA, latent 8", {"model": "argva", "latent_size": 8}),
    ("ARGVA, latent 8, 5 D steps, weight 1", {"model": "argva", "latent_size": 8, "discriminator_steps": 5,
                                              "reg_weight": 1.0}),
    ("GAE, latent 2", {"model": "gae", "latent_size": 2}),
    ("ARGVA, latent 2", {"model": "argva", "latent_size": 2}),
    ("ARGVA, latent 2, 5 D steps, weight 1", {"model": "argva", "latent_size": 2, "discriminator_steps": 5,
                                              "reg_weight": 1.0}),
)


def train(config: TrainConfig, graphs: dict) -> dict:
    """Final metrics of one run; graphs and splits are shared by every run of a seed."""
    key = (config.dataset, config.seed)
    if key not in graphs:
        graph = load_graph(config)
        graphs[key] = (graph, split_edges(graph, config.seed))
    graph, split = graphs[key]
    trainer = Trainer(config, graph=graph, split=split)
    for _ in trainer:
        pass
    return trainer.final_metrics()


def cell(values: list[float], digits: int) -> str:
    if not values:
        return "–"
    stat = Stat.of(values)
    return f"{stat.mean:.{digits}f}" + (f" ± {stat.std:.{digits}f}" if stat.std is not None else "")


def print_table(title: str, labelled: list[tuple[str, list[dict]]]) -> None:
    print(f"\n{title}\n")
    print("| setting | " + " | ".join(name for _, name, _ in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for label, results in labelled:
        cells = [cell([r[k] for r in results if r.get(k) is not None], d) for k, _, d in COLUMNS]
        print(f"| {label} | " + " | ".join(cells) + " |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--table", choices=("rows", "grid"), default="rows")
    parser.add_argument("--weights", default=",".join(f"{w:g}" for w in sweep.REG_WEIGHTS))
    parser.add_argument("--latents", default=",".join(str(d) for d in sweep.LATENT_SIZES))
    parser.add_argument("--json", help="write every run's metrics to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    base = TrainConfig(dataset=args.dataset, epochs=args.epochs)
    seeds = list(range(args.seeds))
    if args.table == "rows":
        jobs = [(label, base.replace(**changes)) for label, changes in ROWS]
    else:
        weights = [float(w) for w in args.weights.split(",")]
        latents = [int(d) for d in args.latents.split(",")]
        jobs = [(f"ARGVA, latent {c.latent_size}, weight {c.reg_weight:g}", c)
                for c in sweep.sweep_configs(base.replace(model="argva"), weights, latents, [0])]
    graphs, everything, labelled = {}, [], []
    start = time.perf_counter()
    for label, config in jobs:
        results = []
        for seed in seeds:
            metrics = train(config.replace(seed=seed), graphs)
            results.append(metrics)
            everything.append({"setting": label, "seed": seed, "config": config.replace(seed=seed).to_dict(),
                               **{k: v for k, v in metrics.items() if not isinstance(v, list)}})
            print(f"{label}, seed {seed}: AUC {metrics.get('test_auc', float('nan')):.3f} "
                  f"C2ST {metrics.get('c2st', float('nan')):.2f} spread {metrics.get('z_std', float('nan')):.2f} "
                  f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
        labelled.append((label, results))
    edges = everything[0].get("test_edges") if everything else None
    print_table(f"{args.dataset}, {args.epochs} epochs, seeds 0-{args.seeds - 1}, mean ± std; test split "
                f"{edges} edges; spread = per-dimension std of Z (prior: 1); norm = mean ||z|| / prior's; "
                "C2ST = held-out accuracy of a fresh MLP telling Z from prior samples (0.5: like the prior); "
                "C2ST unit = the same with Z rescaled to unit spread; MMD: RBF sum at 0.5, 1, 2 x sqrt(2 d)",
                labelled)
    print(f"\n{len(everything)} runs in {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(everything, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
