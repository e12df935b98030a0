"""Data sources: the graph a config names, with its feature mode applied.

Sources: PyG's Planetoid (Cora, CiteSeer, PubMed) and KarateClub, a planted-partition
graph generated from a seed, and uploaded edge lists (`uploads`). Every source ends as a
`graph.Graph`; the seeded edge split is `graph.split_edges` (both importable from here too).
"""
from __future__ import annotations

import contextlib
import fcntl
import shutil
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected

from .config import TrainConfig, planted_size_problem
from .graph import (FEATURE_NOTES, IDENTITY_FEATURE_LIMIT, MIN_SPLIT_EDGES, TEST_RATIO,  # noqa: F401
                    VAL_RATIO, DatasetUnavailable, Graph, Split, apply_features, degree_features,
                    split_edges, summary)
from .storage import PROJECT_DIR, cache_dir, data_dir  # noqa: F401

PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
FEATURE_ROWS_AT_ONCE = 65_536  # planted features are drawn in blocks of rows: no float64 N x F copy
PLANETOID_RAW = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


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
        from .uploads import load_upload  # uploads stand on graph, not on data: no circle
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
    block's edge count from a binomial and then the pairs, so a million nodes cost O(edges);
    features are drawn in blocks of rows into a float32 matrix (the same numbers as one
    float64 draw, without its N x F float64 copies). Refused before drawing anything when
    the expected edges pass the memory limit (of sampled training: the config refuses
    full-batch training at fewer)."""
    too_many = planted_size_problem(nodes, communities, p_in, p_out, sampled=True)
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
    x = np.empty((nodes, feature_dim), dtype=np.float32)
    for start in range(0, nodes, FEATURE_ROWS_AT_ONCE):  # one stream: as one (nodes, dim) draw
        rows = slice(start, min(start + FEATURE_ROWS_AT_ONCE, nodes))
        x[rows] = centres[labels[rows]] + rng.normal(0.0, 1.0, size=(rows.stop - rows.start, feature_dim))
    edge_index = _clean_edges(torch.from_numpy(edges).long(), nodes)
    return Graph(name="Planted partition", x=torch.from_numpy(x), edge_index=edge_index,
                 y=torch.from_numpy(labels).long(),
                 notes=[f"{nodes} nodes in {communities} planted communities "
                        f"(p_in={p_in:g}, p_out={p_out:g}), seed {seed}."])


