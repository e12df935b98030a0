"""How the engine scales: planted-partition graphs of 1k, 10k and 100k nodes (and 1M sampled).

    PYTHONPATH=. python benchmarks/bench_scaling.py [--sizes 1000,10000,100000] [--epochs 5]
        [--degree 10] [--features 128] [--threads 1] [--no-umap] [--sampled] [--batch-nodes 8192]
        [--device cpu|cuda|auto] [--projection-device auto|cpu|cuda|torch-cpu]

With `--sampled` every size trains sampled (argae_core/sampling.py: an epoch is one pass over
the training edges in batches of subgraphs of `--batch-nodes` nodes); the parts of an epoch are
then those of one batch, and "first picture" is the time from generating the graph to a PCA
picture of a seeded 20,000-node subsample of the first epoch's Z.

Each size runs in a fresh process (so peak memory is that size's own: `ru_maxrss`) with the
default ARGVA config on a planted partition of 10 communities, average degree `--degree`
(80 % of edges inside communities), `--features` Gaussian features. Measured per size:

- setup: graph generation, the seeded edge split, the Trainer, the first epoch (which
  builds the normalised adjacency);
- one epoch, median of `--epochs` plain epochs, and its parts (encode, discriminator updates,
  encoder update) in CPU ms;
- what the dashboard pays besides training: a validation (eval-mode pass + AUC / AP on the
  validation edges), a snapshot (Z and D(z) as arrays), sending it through a
  multiprocessing queue as the job worker does, writing it as .npz as the run writer does;
  and once per run, `final_metrics` (test AUC / AP, KMeans clustering, MMD to the prior);
- a saved snapshot as the run writer keeps it: on graphs above `snapshot_nodes` (default
  20,000) only that seeded subsample of nodes (argae_core/snapshots.py), its size and .npz
  write time beside the whole Z's;
- time to a latent picture from a snapshot: PCA, and UMAP (after its warm-up, whose time is
  shown) on the projection's subsample cap.

`--device` trains on that device (argae_core/devices.py; default cpu); on a GPU the table
names it (torch.cuda.get_device_name) and adds its peak memory (torch.cuda.max_memory_allocated),
and wall times wait for the GPU (torch.cuda.synchronize). `--projection-device` (default auto:
the GPU where torch sees one; argae_core/projection_device.py) is where the pictures are
computed; the table's header names what computed them (Projection.backend).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMUNITIES = 10
INSIDE_SHARE = 0.8  # of each node's expected degree
PICTURE_NODES = 20_000  # the first latent picture of a sampled run: a seeded subsample of Z


def planted_config(nodes: int, degree: float, features: int, device: str = "cpu", sampling: str = "full",
                   batch_nodes: int = 8192):
    from argae_core.config import TrainConfig
    per_community = nodes / COMMUNITIES
    return TrainConfig(dataset="planted", model="argva", planted_nodes=nodes,
                       planted_communities=COMMUNITIES,
                       planted_p_in=INSIDE_SHARE * degree / per_community,
                       planted_p_out=(1 - INSIDE_SHARE) * degree / (nodes - per_community),
                       planted_feature_dim=features, device=device, epochs=10_000,
                       eval_interval=1000, snapshot_interval=1000,  # timed epochs stay plain
                       sampling=sampling, batch_nodes=batch_nodes)


SYNC = []   # torch.cuda.synchronize when the child trains on a GPU: wall times include its work


def clock(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    for sync in SYNC:
        sync()
    return result, time.perf_counter() - wall, time.process_time() - cpu


# ------------------------------------------------------------------ one size
def child(nodes: int, args) -> dict:
    import numpy as np
    import torch

    from argae_core import devices, projection
    from argae_core.data import load_graph, split_edges
    from argae_core.storage import npz_bytes
    from argae_core.training import Trainer
    torch.set_num_threads(args.threads)
    device = devices.resolve_device(args.device)
    if device.type == "cuda":
        SYNC.append(torch.cuda.synchronize)
    warm_up_process(args.device)
    out = {"nodes": nodes, "rss_after_imports_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "device": devices.device_name(device)}
    config = planted_config(nodes, args.degree, args.features, args.device, "sampled" if args.sampled else "full",
                            args.batch_nodes)
    graph, out["graph_s"], _ = clock(load_graph, config)
    progress(f"graph {out['graph_s']:.1f} s")
    out["rss_after_graph_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    split, out["split_s"], _ = clock(split_edges, graph, config.seed)
    trainer, out["trainer_s"], _ = clock(Trainer, config, graph, split)
    progress(f"split {out['split_s']:.1f} s, Trainer {out['trainer_s']:.1f} s")
    first, out["first_epoch_s"], first_cpu = clock(trainer.step)
    progress(f"first epoch {out['first_epoch_s']:.1f} s")
    out.update(edges=graph.num_edges, train_edges=int(split.train_edge_index.size(1) // 2))
    if args.sampled:
        out["batches"] = len(trainer.batches)
        rows = np.random.default_rng(config.seed).choice(nodes, min(nodes, PICTURE_NODES), replace=False)
        sample = first.z[rows]
        _, wall, _ = clock(projection.project, sample, projection.prior_samples(len(rows), sample.shape[1],
                                                                                  seed=config.seed), "pca")
        out["first_picture_s"] = out["graph_s"] + out["split_s"] + out["trainer_s"] + out["first_epoch_s"] + wall
        progress(f"first picture {out['first_picture_s']:.1f} s after generating began")
        del first, sample
    out["rss_after_first_epoch_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # --epochs 0 (a long sampled size): the first epoch is the one timed
    epochs = [clock(trainer.step) for _ in range(args.epochs)] or [(None, out["first_epoch_s"], first_cpu)]
    progress(f"timed epochs {[round(wall, 1) for _, wall, _ in epochs]} s")
    out["epoch_ms"] = 1000 * statistics.median(wall for _, wall, _ in epochs)
    out["epoch_cpu_ms"] = 1000 * statistics.median(cpu for _, _, cpu in epochs)
    out["load_during"] = os.getloadavg()[0]
    if args.sampled:
        out.update(batch_parts(trainer, repeats=max(3, args.epochs)))
    else:
        out.update(epoch_parts(trainer, repeats=max(1, args.epochs // 2)))

    z, out["validation_ms"] = evaluation_cost(trainer)
    (z_np, d_score), wall, _ = clock(trainer.snapshot, z)
    out["snapshot_ms"] = 1000 * wall
    out["snapshot_mb"] = (z_np.nbytes + d_score.nbytes) / 1e6
    out["queue_ms"] = 1000 * queue_round_trip({"row": {}, "z": z_np, "d_score": d_score})
    with tempfile.TemporaryDirectory() as folder:
        _, wall, _ = clock(np.savez, Path(folder) / "epoch.npz", z=z_np, d_score=d_score)
        out["npz_ms"] = 1000 * wall
        # what the run writer saves per snapshot: the nodes it keeps (all on a small graph)
        (kept_z, kept_score), wall, _ = clock(trainer.snapshot, z, subsample=True)
        out["kept_snapshot_ms"] = 1000 * wall
        out["kept_nodes"] = len(kept_z)
        data, wall_bytes, _ = clock(npz_bytes, z=kept_z, d_score=kept_score)
        _, wall_write, _ = clock((Path(folder) / "kept.npz").write_bytes, data)
        out["kept_npz_ms"] = 1000 * (wall_bytes + wall_write)
        out["kept_snapshot_mb"] = len(data) / 1e6
        out["whole_npz_mb"] = (Path(folder) / "epoch.npz").stat().st_size / 1e6
    final, out["final_metrics_s"], _ = clock(trainer.final_metrics)
    out.update(final_metric_parts(z_np, graph, config.seed))
    out["test_auc"] = final.get("test_auc")

    prior = projection.prior_samples(nodes, z_np.shape[1], seed=config.seed)
    frame, out["pca_picture_s"], _ = clock(projection.project, z_np, prior, "pca")
    out["pca_backend"] = frame.backend
    if args.umap:
        _, out["umap_warm_up_s"], _ = clock(projection.warm_up, False)
        frame, out["umap_picture_s"], _ = clock(projection.project, z_np, prior, "umap")
        out["umap_backend"] = frame.backend
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["gpu_peak_mb"] = devices.peak_memory_mb(device)
    return out


def progress(text: str) -> None:
    """A line on stderr while a size runs (a long one can be followed, and read if it is cut off)."""
    print(f"  [{time.strftime('%H:%M:%S')}] {text}; maxrss "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", file=sys.stderr, flush=True)


def warm_up_process(device: str = "cpu") -> None:
    """Lazy imports and first-call costs (scikit-learn's metrics, autograd, a GPU's context
    and kernels) on KarateClub, so that the timings below are the graph's own."""
    from argae_core.config import TrainConfig
    from argae_core.training import Trainer
    trainer = Trainer(TrainConfig(dataset="karate", epochs=2, eval_interval=1, device=device))
    for _ in trainer:
        pass
    trainer.final_metrics()


def epoch_parts(trainer, repeats: int) -> dict:
    """CPU ms of encode, the discriminator updates and the encoder update (medians)."""
    parts: dict[str, list[float]] = {"encode_ms": [], "discriminator_ms": [], "encoder_update_ms": []}
    for _ in range(repeats):
        trainer.model.train()
        z, _, cpu = clock(trainer.encode)
        parts["encode_ms"].append(cpu)
        _, _, cpu = clock(lambda: [trainer.discriminator_step(z)
                                   for _ in range(trainer.config.discriminator_steps)])
        parts["discriminator_ms"].append(cpu)
        _, _, cpu = clock(trainer.encoder_step, z)
        parts["encoder_update_ms"].append(cpu)
    return {k: 1000 * statistics.median(v) for k, v in parts.items()}


def batch_parts(trainer, repeats: int) -> dict:
    """Sampled: CPU ms of drawing a batch, encoding its subgraph, the D updates, the encoder
    update (medians over `repeats` batches)."""
    parts: dict[str, list[float]] = {"sample_ms": [], "encode_ms": [], "discriminator_ms": [],
                                     "encoder_update_ms": []}
    batches = trainer.batches.epoch()
    for _ in range(repeats):
        trainer.model.train()
        batch, _, cpu = clock(next, batches)
        parts["sample_ms"].append(cpu)
        z, _, cpu = clock(trainer.model.encode, trainer.x[batch.nodes], batch.edge_index)
        parts["encode_ms"].append(cpu)
        _, _, cpu = clock(lambda: [trainer.discriminator_step(z)
                                   for _ in range(trainer.config.discriminator_steps)])
        parts["discriminator_ms"].append(cpu)
        _, _, cpu = clock(trainer.encoder_step, z, batch.positives, lambda: batch.negatives)
        parts["encoder_update_ms"].append(cpu)
    return {k: 1000 * statistics.median(v) for k, v in parts.items()}


def evaluation_cost(trainer):
    """(eval-mode Z, ms of one validation: the eval-mode pass plus AUC / AP)."""
    def validate():
        z = trainer.embed()
        trainer.model.test(z, *trainer.val_edges)
        return z
    z, wall, _ = clock(validate)
    return z, 1000 * wall


def queue_round_trip(payload: dict) -> float:
    """Seconds to put `payload` on a multiprocessing queue and get it back (pickling, the
    pipe, unpickling), the path a snapshot takes from the job worker to the page."""
    channel = multiprocessing.get_context("spawn").Queue()
    start = time.perf_counter()
    channel.put(payload)
    channel.get()
    seconds = time.perf_counter() - start
    channel.close()
    return seconds


def final_metric_parts(z, graph, seed: int) -> dict:
    from argae_core import metrics
    _, kmeans_s, _ = clock(metrics.clustering, z, graph.y.numpy(), seed)
    _, prior_s, _ = clock(metrics.prior_match, z, seed)
    return {"kmeans_s": kmeans_s, "prior_match_s": prior_s}


# ------------------------------------------------------------------- parent
def run_size(nodes: int, args) -> dict:
    command = [sys.executable, __file__, "--child", str(nodes), "--epochs", str(args.epochs),
               "--degree", str(args.degree), "--features", str(args.features),
               "--threads", str(args.threads), "--device", args.device, "--batch-nodes", str(args.batch_nodes)] + (
                   [] if args.umap else ["--no-umap"]) + (["--sampled"] if args.sampled else [])
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=args.timeout,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})  # stderr: progress
    if done.returncode != 0:
        raise SystemExit(f"{nodes} nodes failed (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


ROWS = [  # (label, key, format)
    ("edges (undirected)", "edges", "{:,.0f}"),
    ("graph + split + Trainer, s", None, "{:.2f}"),
    ("first epoch (builds Â), s", "first_epoch_s", "{:.2f}"),
    ("ms / epoch (wall, median)", "epoch_ms", "{:.0f}"),
    ("ms / epoch (CPU)", "epoch_cpu_ms", "{:.0f}"),
    ("  batches per epoch (sampled)", "batches", "{:,.0f}"),
    ("  draw a batch, CPU ms", "sample_ms", "{:.1f}"),
    ("  encode, CPU ms", "encode_ms", "{:.1f}"),
    ("  discriminator update(s), CPU ms", "discriminator_ms", "{:.1f}"),
    ("  encoder update, CPU ms", "encoder_update_ms", "{:.1f}"),
    ("  epoch CPU ms per 1k edges", None, "{:.2f}"),
    ("validation, ms", "validation_ms", "{:.0f}"),
    ("snapshot (Z, D(z)), ms", "snapshot_ms", "{:.1f}"),
    ("snapshot size, MB", "snapshot_mb", "{:.2f}"),
    ("  through a mp queue, ms", "queue_ms", "{:.1f}"),
    ("  written as .npz, ms", "npz_ms", "{:.1f}"),
    ("saved snapshot: nodes kept", "kept_nodes", "{:,.0f}"),
    ("  its .npz, MB (whole Z's .npz)", None, "{:.2f} ({:.2f})"),
    ("  cut + written, ms", None, "{:.1f}"),
    ("final_metrics, s", "final_metrics_s", "{:.2f}"),
    ("  KMeans clustering, s", "kmeans_s", "{:.2f}"),
    ("  prior match (MMD), s", "prior_match_s", "{:.2f}"),
    ("PCA picture, s", "pca_picture_s", "{:.2f}"),
    ("UMAP warm-up, s", "umap_warm_up_s", "{:.1f}"),
    ("UMAP picture (warm), s", "umap_picture_s", "{:.2f}"),
    ("first picture (sampled), s", "first_picture_s", "{:.1f}"),
    ("peak memory (maxrss), MB", "peak_rss_mb", "{:.0f}"),
    ("  after the graph, MB", "rss_after_graph_mb", "{:.0f}"),
    ("  after the first epoch, MB", "rss_after_first_epoch_mb", "{:.0f}"),
    ("load average while timing", "load_during", "{:.1f}"),
    ("  of which after imports, MB", "rss_after_imports_mb", "{:.0f}"),
    ("GPU peak memory allocated, MB", "gpu_peak_mb", "{:.0f}"),
    ("test AUC (after the timed epochs)", "test_auc", "{:.3f}"),
]


def cell(result: dict, label: str, key: str | None, fmt: str) -> str:
    if label.startswith("graph + split"):
        value = result["graph_s"] + result["split_s"] + result["trainer_s"]
    elif label.strip().startswith("epoch CPU ms per 1k"):
        value = result["epoch_cpu_ms"] / (result["edges"] / 1000)
    elif label.strip().startswith("its .npz"):
        return fmt.format(result["kept_snapshot_mb"], result["whole_npz_mb"])
    elif label.strip().startswith("cut + written"):
        value = result["kept_snapshot_ms"] + result["kept_npz_ms"]
    else:
        value = result.get(key)
    return "-" if value is None else fmt.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--epochs", type=int, default=5, help="timed plain epochs per size (0: time the first)")
    parser.add_argument("--degree", type=float, default=10.0)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-umap", dest="umap", action="store_false")
    parser.add_argument("--sampled", action="store_true", help="train every size sampled")
    parser.add_argument("--batch-nodes", type=int, default=8192)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per size")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    parser.add_argument("--projection-device", default="auto",
                        help="where the pictures are computed: auto (default), cpu, cuda or torch-cpu")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    from argae_core.devices import DeviceError, resolve_device
    try:
        resolve_device(args.device)   # refused here, with its reason, before any size runs
    except DeviceError as exc:
        raise SystemExit(str(exc)) from None
    from argae_core import projection_device
    try:
        projection_device.resolve(args.projection_device)
    except projection_device.ProjectionDeviceError as exc:
        raise SystemExit(str(exc)) from None
    os.environ[projection_device.ENV] = args.projection_device   # the children project there
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for nodes in sizes:
        print(f"{nodes:,} nodes ...", file=sys.stderr, flush=True)
        results.append(run_size(nodes, args))
    config = planted_config(sizes[0], args.degree, args.features, args.device)
    print(f"device: {results[0]['device']}; planted partition, {COMMUNITIES} communities, degree ~{args.degree:g}, "
          f"{args.features} features; {'sampled (' + format(args.batch_nodes, ',') + '-node batches)' if args.sampled else 'full-batch'}; default ARGVA (latent {config.latent_size}, encoder hidden "
          f"{config.encoder_hidden}, {config.discriminator_steps} D step(s)); {args.threads} torch thread(s); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"pictures ({args.projection_device}): PCA by {results[0].get('pca_backend')}"
          + (f", UMAP by {results[0].get('umap_backend')}" if args.umap else ""))
    print(f"{'nodes':<36}" + "".join(f"{r['nodes']:>12,}" for r in results))
    for label, key, fmt in ROWS:
        print(f"{label:<36}" + "".join(f"{cell(r, label, key, fmt):>12}" for r in results))


if __name__ == "__main__":
    main()
