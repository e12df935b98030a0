"""Frame rate of the Latent page while it plays, on Cora: can the discriminator's heatmap and
the followed nodes keep up (issue 17: a frame at least every 2 s on this machine)?

Per played frame the page computes, for a snapshot it has not drawn yet:
    snapshot     read Z and D(z) of the epoch (runs.Run.snapshot; the page caches it after)
    projection   the PCA frame of Z with the prior samples, aligned on the previous frame
                 (a UMAP frame comes from the background filler's cache: a dict lookup)
    hover        the hover text of every drawn node
    D map        judge.discriminator_map: D rebuilt from the snapshot's weights, on a 60 x 60
                 grid of the PCA plane mapped back into latent space
    follow       the followed nodes' 2-hop neighbourhood, nearest neighbours in Z and top
                 predicted links (nodes.py), for a 20-node selection
    figures      latent_figure (with the selection's rings) + discriminator_map_figure +
                 neighbourhood_figure
    to JSON      what st.plotly_chart sends: plotly.io.to_json of the three figures
The reference measured in the same run is one training epoch of the same model on the same
graph (the job that shares the machine while a class watches a run play).

    ARGAE_DATA_DIR=/work/shared/datasets OMP_NUM_THREADS=1 PYTHONPATH=. \\
        .venv/bin/python benchmarks/bench_frames.py [--epochs 40] [--snapshot-every 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

BUDGET_SECONDS = 2.0
SELECTION = 20


def timed(times: dict, name: str, fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    times.setdefault(name, []).append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--snapshot-every", type=int, default=5)
    parser.add_argument("--dataset", default="cora")
    args = parser.parse_args()

    import plotly.io
    import torch

    from argae_core import judge, nodes, plots, projection, runs
    from argae_core.config import TrainConfig
    from argae_core.data import split_edges
    from argae_core.training import Trainer

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    config = TrainConfig(dataset=args.dataset, model="argva", epochs=args.epochs,
                         snapshot_interval=args.snapshot_every)
    root = tempfile.mkdtemp(prefix="bench-frames-")
    trainer = Trainer(config)
    writer = runs.RunWriter(config, trainer.graph, root=root, source="benchmark")
    epoch_seconds = [record.seconds for record in runs.record_run(trainer, writer)]
    run = runs.load_run(writer.run_id, root)
    graph = run.graph
    split = split_edges(trainer.graph, config.seed)
    train, test = split.train_edge_index.numpy(), split.test_pos.numpy()
    names = [graph.node_label(i) for i in range(graph.nodes)]
    chosen = list(np.random.default_rng(0).choice(graph.nodes, SELECTION, replace=False))

    projector = projection.Projector("pca", config.seed, projection.DEFAULT_CAP)
    times: dict[str, list[float]] = {}
    previous = None
    for epoch in run.snapshot_epochs:
        frame_start = time.perf_counter()
        z, d_score = timed(times, "snapshot", run.snapshot, epoch)
        frame = timed(times, "projection", projector.frame, epoch, z, previous)
        previous = frame
        rows = frame.z_index if frame.z_index is not None else np.arange(len(z))
        hover = timed(times, "hover", plots.node_hover, [names[i] for i in rows],
                      [graph.label_name(int(i)) for i in rows], graph.degrees[rows], d_score[rows])
        weights = run.discriminator_weights(epoch)
        prior = projection.prior_samples(len(z), z.shape[1], config.seed)
        dmap = timed(times, "D map", judge.discriminator_map, weights, config.latent_size,
                     config.discriminator_hidden, z, prior)
        kept, links_in = timed(times, "follow", nodes.neighbourhood, train, chosen)
        timed(times, "follow", nodes.nearest_in_z, z, chosen, train, graph.labels)
        timed(times, "follow", nodes.predicted_links, z, chosen, train, test)
        figures = [
            timed(times, "latent fig", plots.latent_figure, frame.z_xy, frame.prior_xy, d_score=d_score[rows],
                  labels=graph.labels[rows], class_names=graph.class_names, degrees=graph.degrees[rows],
                  z_hover=hover, height=560, node_rows=rows, highlight=chosen),
            timed(times, "D map fig", plots.discriminator_map_figure, dmap),
            timed(times, "hood fig", plots.neighbourhood_figure, kept, links_in, chosen, names, graph.labels,
                  graph.class_names)]
        for figure in figures:
            timed(times, "to JSON", plotly.io.to_json, figure, validate=False)
        times.setdefault("frame", []).append(time.perf_counter() - frame_start)

    # Medians over the frames after the first (the first also loads plotly's validators and
    # the like: reported apart); "follow" and "to JSON" are several calls per frame, summed.
    frames = len(run.snapshot_epochs)
    per_call = {"follow": 3, "to JSON": 3}

    def frame_values(name: str) -> list[float]:
        values, k = times[name], per_call.get(name, 1)
        return [sum(values[i:i + k]) for i in range(0, len(values), k)]
    per_frame = {name: statistics.median(frame_values(name)[1:] or frame_values(name)) for name in times}
    reference = statistics.median(epoch_seconds[1:] or epoch_seconds)
    print(f"{trainer.graph.name}: {trainer.graph.num_nodes:,} nodes, latent {config.latent_size}, "
          f"{frames} snapshot frames, selection of {SELECTION} nodes, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'part of a frame':<14} {'ms':>9} {'share of 2 s':>13} {'x one epoch':>12}   (medians, frames 2..{frames})")
    for name, seconds in per_frame.items():
        label = "whole frame" if name == "frame" else name
        print(f"{label:<14} {1000 * seconds:9.1f} {seconds / BUDGET_SECONDS:12.1%} {seconds / reference:12.2f}")
    print(f"{'one epoch':<14} {1000 * reference:9.1f}  (reference: median training epoch of this run)")
    first, worst = times["frame"][0], max(times["frame"][1:] or times["frame"])
    print(f"first frame (cold) {1000 * first:.0f} ms; slowest later frame {1000 * worst:.0f} ms: "
          f"{'within' if worst <= BUDGET_SECONDS else 'OVER'} the {BUDGET_SECONDS:g} s budget; "
          f"median frame rate {1 / per_frame['frame']:.1f} per second")


if __name__ == "__main__":
    main()
