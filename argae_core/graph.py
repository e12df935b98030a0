"""The graph every source ends as, its feature modes, and the seeded edge split.

A `Graph` holds an undirected `edge_index` (both directions, no self-loops), float
features and optional labels. Data sources (`data`: Planetoid, KarateClub, planted
partition) and uploads (`uploads`) both build one; `split_edges` holds out the validation
and test edges every model of a comparison shares.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.transforms import RandomLinkSplit
from torch_geometric.utils import degree

VAL_RATIO, TEST_RATIO = 0.05, 0.10
MIN_SPLIT_EDGES = 20  # int(0.05 * E) >= 1: RandomLinkSplit fails without a validation edge
IDENTITY_FEATURE_LIMIT = 20_000  # one-hot ids beyond this would not fit a laptop's memory
FEATURE_NOTES = {  # what each feature mode but "raw" does, as a graph's note says it
    "row_normalized": "Features row-normalised (each row sums to 1).",
    "identity": "Features replaced by identity (one-hot node ids): no feature information.",
    "degree": "Features replaced by node degree (log-degree and one-hot degree buckets)."}


class DatasetUnavailable(RuntimeError):
    """A dataset that cannot be loaded; the message says what is missing and where."""


@dataclass
class Graph:
    name: str
    x: torch.Tensor                      # [N, F] float32
    edge_index: torch.Tensor             # [2, 2E] both directions, no self-loops
    y: torch.Tensor | None = None        # [N] class ids, or None
    node_ids: list[str] | None = None    # display ids (uploads); None: 0..N-1
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)  # what was done to the input, in words

    @property
    def num_nodes(self) -> int:
        return int(self.x.size(0))

    @property
    def num_features(self) -> int:
        return int(self.x.size(1))

    @property
    def num_edges(self) -> int:
        """Undirected edges."""
        return int(self.edge_index.size(1) // 2)

    @property
    def num_classes(self) -> int:
        return 0 if self.y is None else int(self.y.max().item()) + 1

    def degrees(self) -> np.ndarray:
        return degree(self.edge_index[0], self.num_nodes).long().numpy()

    def node_label(self, i: int) -> str:
        return self.node_ids[i] if self.node_ids else str(i)

    def summary(self, notes: bool = True) -> dict:
        """Plain numbers about the graph (and its notes), for pages and saved runs."""
        numbers = {"name": self.name, "nodes": self.num_nodes, "edges": self.num_edges,
                   "features": self.num_features, "classes": self.num_classes}
        return {**numbers, "notes": list(self.notes)} if notes else numbers



# -------------------------------------------------------------------- features
def apply_features(graph: Graph, mode: str) -> Graph:
    if mode == "raw":
        return graph
    if mode == "row_normalized":
        x = graph.x.clamp(min=0) if (graph.x < 0).any() else graph.x
        x = x / x.sum(dim=1, keepdim=True).clamp(min=1e-12)
    elif mode == "identity":
        if graph.num_nodes > IDENTITY_FEATURE_LIMIT:
            raise DatasetUnavailable(
                f"Identity features need an {graph.num_nodes} x {graph.num_nodes} matrix; "
                f"use them on graphs of at most {IDENTITY_FEATURE_LIMIT} nodes, or pick degree.")
        x = torch.eye(graph.num_nodes)
    elif mode == "degree":
        x = degree_features(graph.edge_index, graph.num_nodes)
    else:
        raise DatasetUnavailable(f"Unknown feature mode {mode!r}.")
    return Graph(graph.name, x.float(), graph.edge_index, graph.y, graph.node_ids,
                 graph.class_names, graph.notes + [FEATURE_NOTES[mode]])


def degree_features(edge_index: torch.Tensor, num_nodes: int, buckets: int = 16) -> torch.Tensor:
    """log(1 + degree) plus a one-hot of the log2 degree bucket."""
    deg = degree(edge_index[0], num_nodes)
    bucket = torch.log2(deg + 1).floor().long().clamp(max=buckets - 1)
    return torch.cat([torch.log1p(deg)[:, None], torch.nn.functional.one_hot(bucket, buckets).float()], 1)


# ------------------------------------------------------------------ edge split
@dataclass
class Split:
    train_edge_index: torch.Tensor   # message passing + positive training edges
    val_pos: torch.Tensor
    val_neg: torch.Tensor
    test_pos: torch.Tensor
    test_neg: torch.Tensor


def split_edges(graph: Graph, seed: int) -> Split:
    """5 % validation and 10 % test edges (with as many non-edges), seeded."""
    if graph.num_edges < MIN_SPLIT_EDGES:
        raise DatasetUnavailable(
            f"{graph.name} has {graph.num_edges} edges; link prediction needs at least "
            f"{MIN_SPLIT_EDGES} to hold out 5 % validation and 10 % test edges (one of each at least).")
    unconnected = graph.num_nodes * (graph.num_nodes - 1) // 2 - graph.num_edges
    needed = int(VAL_RATIO * graph.num_edges) + int(TEST_RATIO * graph.num_edges)
    if unconnected < needed:
        raise DatasetUnavailable(
            f"{graph.name} is too dense: {unconnected} unconnected node pairs, and link prediction "
            f"needs {needed} as negative examples.")
    transform = RandomLinkSplit(num_val=VAL_RATIO, num_test=TEST_RATIO, is_undirected=True,
                                split_labels=True, add_negative_train_samples=False)
    python_state = random.getstate()  # PyG's negative sampling draws from Python's random
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        try:
            train, val, test = transform(Data(edge_index=graph.edge_index, num_nodes=graph.num_nodes))
        finally:
            random.setstate(python_state)
    return Split(train_edge_index=train.edge_index,
                 val_pos=val.pos_edge_label_index, val_neg=val.neg_edge_label_index,
                 test_pos=test.pos_edge_label_index, test_neg=test.neg_edge_label_index)


summary = Graph.summary  # summary(graph), as `data` and the job worker call it
