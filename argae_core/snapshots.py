"""Which nodes a run's snapshots keep: all of them on graphs up to `snapshot_nodes` nodes,
else a fixed seeded subsample (stratified by label when the graph has labels), the same
nodes at every epoch so that the picture stays stable from one snapshot to the next.

The trainer cuts each snapshot's Z and D(z) to these rows; the run writer saves the node
indices once per run (snapshot_nodes.npz); every reader maps a snapshot's rows back to the
graph's nodes with them. The final (best-validation) Z is always saved whole.

A 100k-node snapshot of the default ARGVA is 26 MB; 20,000 rows of it are 5.2 MB.
Torch-free (numpy only): the run writer and the pages import it.
"""
from __future__ import annotations

import numpy as np

FILE = "snapshot_nodes.npz"
STREAM = 0x5A4E   # a stream of its own: the split, the weights and the prior draws use the seed too


def subsample(num_nodes: int, limit: int, seed: int, labels: np.ndarray | None = None) -> np.ndarray | None:
    """Sorted node indices a snapshot keeps, `limit` of `num_nodes` (None: all fit).

    Stratified by `labels` when given and there are at least two classes: each class keeps
    its share of the `limit` (the shares rounded by largest remainder, ties drawn), so a small
    community stays in the picture. Seeded: the same seed, graph and limit give the same nodes.
    numpy only: the standalone retrain script (export_script) pastes this module."""
    if limit < 1:
        raise ValueError(f"a snapshot must keep at least one node, got {limit}")
    if num_nodes <= limit:
        return None
    rng = np.random.default_rng([seed, STREAM])
    if labels is None or len(np.unique(labels)) < 2:
        return np.sort(rng.choice(num_nodes, limit, replace=False)).astype(np.int64)
    labels = np.asarray(labels)
    if len(labels) != num_nodes:
        raise ValueError(f"{len(labels):,} labels for {num_nodes:,} nodes")
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    share = counts * limit / num_nodes
    quota = np.floor(share).astype(np.int64)
    left = limit - int(quota.sum())
    order = np.lexsort((rng.random(len(classes)), -(share - quota)))   # largest remainder first, ties drawn
    quota[order[:left]] += 1
    kept = [rng.choice(np.flatnonzero(inverse == c), quota[c], replace=False) for c in range(len(classes))]
    return np.sort(np.concatenate(kept)).astype(np.int64)


def rows_of(kept: np.ndarray | None, nodes: list[int] | np.ndarray) -> tuple[list[int], list[int]]:
    """(rows of the snapshot holding `nodes`, the nodes it does not hold), in the given order."""
    nodes = [int(n) for n in nodes]
    if kept is None:
        return nodes, []
    where = np.searchsorted(kept, nodes)
    inside = [(n, int(w)) for n, w in zip(nodes, where) if w < len(kept) and kept[w] == n]
    held = {n for n, _ in inside}
    return [w for _, w in inside], [n for n in nodes if n not in held]


def node_of(kept: np.ndarray | None, rows) -> np.ndarray:
    """The graph's node index of each snapshot row."""
    rows = np.asarray(rows, dtype=np.int64)
    return rows if kept is None else kept[rows]


def local_edges(kept: np.ndarray | None, edges: np.ndarray, num_nodes: int) -> np.ndarray:
    """The edges [2, E] with both ends among the snapshot's nodes, renumbered as its rows
    (what `nodes.nearest_in_z` and `nodes.predicted_links` need on a snapshot's Z)."""
    edges = np.asarray(edges).reshape(2, -1)
    if kept is None:
        return edges
    row = np.full(num_nodes, -1, dtype=np.int64)
    row[kept] = np.arange(len(kept))
    mapped = row[edges]
    return mapped[:, (mapped >= 0).all(axis=0)]
