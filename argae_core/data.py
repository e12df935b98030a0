"""Graphs the engine trains on, and the seeded edge split every model of a comparison shares.

Sources: PyG's Planetoid (Cora, CiteSeer, PubMed) and KarateClub, a planted-partition
graph generated from a seed, and uploaded edge lists (see `uploads`). Every source ends
as a `Graph`: undirected `edge_index` without self-loops, float features, optional labels.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.transforms import RandomLinkSplit
from torch_geometric.utils import coalesce, degree, remove_self_loops, to_undirected

from .config import TrainConfig, planted_size_problem
from .places import project_dir

PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
PLANETOID_RAW = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
IDENTITY_FEATURE_LIMIT = 20_000  # one-hot ids beyond this would not fit a laptop's memory
VAL_RATIO, TEST_RATIO = 0.05, 0.10
MIN_SPLIT_EDGES = 20  # int(0.05 * E) >= 1: RandomLinkSplit fails without a validation edge
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

    def to_pyg(self) -> Data:
        return Data(x=self.x, edge_index=self.edge_index, y=self.y, num_nodes=self.num_nodes)


# ------------------------------------------------------------------ directories
def data_dir() -> Path:
    return Path(os.environ.get("ARGAE_DATA_DIR", project_dir() / "data")).expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get("ARGAE_CACHE_DIR", project_dir() / ".cache")).expanduser()


@contextlib.contextmanager
def _file_lock(path: Path):
    """Serialise dataset processing across processes (PyG writes processed/ files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------- sources
def load_graph(config: TrainConfig) -> Graph:
    """The graph a config names, with its feature mode applied."""
    name = config.dataset
    if name == "karate":
        graph = _karate()
    elif name == "planted":
        graph = planted_partition(config.planted_nodes, config.planted_communities,
                                  config.planted_p_in, config.planted_p_out,
                                  config.planted_feature_dim, config.planted_signal, config.seed)
    elif name in PLANETOID:
        graph = planetoid(name)
    elif name.startswith("upload:"):
        from .uploads import load_upload
        graph = load_upload(name.split(":", 1)[1])
    else:
        raise DatasetUnavailable(f"Unknown dataset {name!r}.")
    return apply_features(graph, config.features)


def _karate() -> Graph:
    from torch_geometric.datasets import KarateClub
    d = KarateClub()[0]
    return _from_pyg("KarateClub", d, notes=["KarateClub ships inside PyG (34 members, 4 groups)."])


def planetoid(name: str) -> Graph:
    """Cora / CiteSeer / PubMed. Raw files under the data dir are copied to a writable
    cache and processed there (the data dir may be read-only); missing ones are
    downloaded by PyG; offline, a `DatasetUnavailable` says what to put where."""
    from torch_geometric.datasets import Planetoid
    pyg_name = PLANETOID[name]
    files = [f"ind.{pyg_name.lower()}.{suffix}" for suffix in PLANETOID_RAW]
    source = data_dir() / "Planetoid" / pyg_name / "raw"
    root = cache_dir() / "datasets" / "Planetoid"
    target = root / pyg_name / "raw"
    with _file_lock(cache_dir() / "datasets" / f".{pyg_name}.lock"):
        if all((source / f).is_file() for f in files) and not all((target / f).is_file() for f in files):
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                shutil.copyfile(source / f, target / f)
        have_raw = all((target / f).is_file() for f in files)
        rebuilt = _drop_unsafe_processed(root / pyg_name / "processed")
        try:
            dataset = Planetoid(str(root), pyg_name)
        except Exception as exc:  # PyG raises URLError / OSError / others when offline
            shutil.rmtree(root / pyg_name, ignore_errors=True)
            raise DatasetUnavailable(" ".join(filter(None, [rebuilt, _planetoid_failure(
                pyg_name, files, source, have_raw, exc)]))) from None
    return _from_pyg(pyg_name, dataset[0], notes=[rebuilt] if rebuilt else None)


def _drop_unsafe_processed(folder: Path) -> str | None:
    """Remove PyG's processed files unless each loads with torch.load(weights_only=True):
    PyG itself falls back to pickle, and a crafted data.pt would run code. Without them PyG
    rebuilds from the raw files. Returns a sentence saying so, or None when all are sound."""
    for file in sorted(folder.glob("*.pt")):
        try:
            torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many kinds for a damaged or unsafe file
            shutil.rmtree(folder, ignore_errors=True)
            return (f"The processed file {file} was corrupt or held more than plain data "
                    f"({type(exc).__name__}), so it was deleted and rebuilt from the raw files.")
    return None


def _planetoid_failure(pyg_name: str, files: list[str], source: Path, have_raw: bool,
                       exc: Exception) -> str:
    """Why Planetoid failed: damaged raw files (they were there), or none and no download."""
    error = f"{type(exc).__name__}: {exc}"
    if have_raw:
        return (f"{pyg_name} could not be built from its raw files ({error}); they may be "
                f"damaged: replace them in {source} with fresh copies of the 8 Planetoid raw files.")
    return (f"{pyg_name} could not be loaded: its raw files are not in {source} and the "
            f"download failed ({error}). Put the 8 Planetoid raw files ({', '.join(files)}) in "
            f"{source}, or set ARGAE_DATA_DIR to a folder that has Planetoid/{pyg_name}/raw/.")


def _from_pyg(name: str, d: Data, notes: list[str] | None = None) -> Graph:
    edge_index = _clean_edges(d.edge_index, d.num_nodes)
    return Graph(name=name, x=d.x.float(), edge_index=edge_index, y=d.y, notes=notes or [])


def _clean_edges(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    edge_index, _ = remove_self_loops(edge_index)
    return coalesce(to_undirected(edge_index, num_nodes=num_nodes), num_nodes=num_nodes)


def planted_partition(nodes: int, communities: int, p_in: float, p_out: float,
                      feature_dim: int, signal: float, seed: int) -> Graph:
    """A stochastic block model with Gaussian features around a mean per community.

    PyG's `stochastic_blockmodel_graph` enumerates all N^2 node pairs; this samples each
    block's edge count from a binomial and then the pairs, so 100k nodes cost O(edges).
    Refused before drawing anything when the expected edges pass the memory limit."""
    too_many = planted_size_problem(nodes, communities, p_in, p_out)
    if too_many:
        raise DatasetUnavailable(f"Planted partition: {too_many}.")
    rng = np.random.default_rng(seed)
    labels = np.arange(nodes) % communities
    rng.shuffle(labels)
    members = [np.flatnonzero(labels == c) for c in range(communities)]
    chunks = []
    for a in range(communities):
        for b in range(a, communities):
            p = p_in if a == b else p_out
            pairs = len(members[a]) * (len(members[a]) - 1) // 2 if a == b else len(members[a]) * len(members[b])
            count = rng.binomial(pairs, p) if pairs else 0
            if count == 0:
                continue
            src = rng.choice(members[a], size=count)
            dst = rng.choice(members[b], size=count)
            chunks.append(np.stack([src, dst]))
    edges = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0), dtype=np.int64)
    centres = rng.normal(0.0, 1.0, size=(communities, feature_dim))
    centres *= signal / np.sqrt(2)  # two centres then differ by `signal` noise std per dimension
    x = centres[labels] + rng.normal(0.0, 1.0, size=(nodes, feature_dim))
    edge_index = _clean_edges(torch.from_numpy(edges).long(), nodes)
    return Graph(name="Planted partition", x=torch.from_numpy(x).float(), edge_index=edge_index,
                 y=torch.from_numpy(labels).long(),
                 notes=[f"{nodes} nodes in {communities} planted communities "
                        f"(p_in={p_in:g}, p_out={p_out:g}), seed {seed}."])


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


def summary(graph: Graph) -> dict:
    """Plain numbers about a graph, for pages and saved runs."""
    return {"name": graph.name, "nodes": graph.num_nodes, "edges": graph.num_edges,
            "features": graph.num_features, "classes": graph.num_classes, "notes": list(graph.notes)}
