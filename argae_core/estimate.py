"""Time and memory of a training before it starts, from the graph's size and the config.

Torch-free (the page process imports it: tests/test_page_imports.py). Calibrated from
measurements on the 2-core machine this project is built on (benchmarks/bench_scaling.py,
full-batch and `--sampled`; the constants below say where each comes from).
"""
from __future__ import annotations

import math

SPLIT_TRAIN_SHARE = 0.85  # graph.split_edges holds out 5 % validation and 10 % test edges


def edges_per_batch(batch_nodes: int) -> int:
    """Training edges seeding one sampled batch: their endpoints fill at most half the batch
    (the rest: sampled neighbours and random nodes)."""
    return max(1, batch_nodes // 4)


def batches_per_epoch(edges: int, batch_nodes: int) -> int:
    """Sampled updates in one pass over the training edges of a graph of `edges` undirected edges."""
    train = max(1, int(edges * SPLIT_TRAIN_SHARE))
    return math.ceil(train / edges_per_batch(batch_nodes))
