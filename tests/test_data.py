"""Datasets (KarateClub, planted partition, Planetoid incl. the offline error), feature
modes and the seeded edge split."""
import os
import tracemalloc

import numpy as np
import pytest
import torch
from torch_geometric.datasets import Planetoid

from argae_core.config import TrainConfig
from argae_core.data import (DatasetUnavailable, Graph, apply_features, load_graph, planetoid,
                             planted_partition, split_edges)


def edge_set(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    """Undirected edges as (small, large) pairs."""
    a, b = edge_index
    return set(zip(torch.minimum(a, b).tolist(), torch.maximum(a, b).tolist()))


def assert_clean_undirected(graph: Graph):
    src, dst = graph.edge_index
    assert not (src == dst).any(), "self-loops"
    forward = set(zip(src.tolist(), dst.tolist()))
    assert forward == {(d, s) for s, d in forward}, "not symmetric"
    assert len(forward) == graph.edge_index.size(1), "duplicate edges"


# ------------------------------------------------------------------ KarateClub
def test_karate_is_the_offline_default():
    graph = load_graph(TrainConfig())
    assert (graph.num_nodes, graph.num_edges, graph.num_classes) == (34, 78, 4)
    assert graph.x.dtype == torch.float32
    assert_clean_undirected(graph)
    assert graph.degrees().sum() == 2 * graph.num_edges


# ----------------------------------------------------------- planted partition
def planted(seed=0, nodes=600, communities=4, p_in=0.05, p_out=0.002, dim=8, signal=1.0):
    return planted_partition(nodes, communities, p_in, p_out, dim, signal, seed)


def test_planted_partition_is_seeded():
    a, b, c = planted(seed=1), planted(seed=1), planted(seed=2)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    assert torch.equal(a.y, b.y)
    assert not torch.equal(a.edge_index, c.edge_index)


def test_planted_partition_has_the_asked_communities_and_densities():
    nodes, communities, p_in, p_out = 2000, 5, 0.03, 0.002
    graph = planted(nodes=nodes, communities=communities, p_in=p_in, p_out=p_out)
    assert_clean_undirected(graph)
    assert graph.num_classes == communities
    assert np.bincount(graph.y.numpy()).tolist() == [nodes // communities] * communities
    y = graph.y.numpy()
    src, dst = graph.edge_index.numpy()
    inside = (y[src] == y[dst]).sum() / 2
    between = (y[src] != y[dst]).sum() / 2
    size = nodes // communities
    pairs_inside = communities * size * (size - 1) / 2
    pairs_between = nodes * (nodes - 1) / 2 - pairs_inside
    # sampling pairs with replacement loses a few duplicates, hence the one-sided slack
    assert 0.85 * p_in < inside / pairs_inside < 1.05 * p_in
    assert 0.85 * p_out < between / pairs_between < 1.05 * p_out


def test_planted_features_carry_signal_only_when_asked():
    def centre_spread(signal):
        graph = planted(signal=signal, dim=16)
        x, y = graph.x.numpy(), graph.y.numpy()
        centres = np.stack([x[y == c].mean(0) for c in range(4)])
        return np.linalg.norm(centres - centres.mean(0), axis=1).mean()
    assert centre_spread(4.0) > 5 * centre_spread(0.0)


def test_planted_partition_scales_with_edges_not_node_pairs():
    """20k nodes: a dense N x N pass would need >= 400 MB; an O(edges) one needs a few MB."""
    tracemalloc.start()
    try:
        graph = planted(nodes=20_000, communities=20, p_in=0.005, p_out=0.0001, dim=4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert graph.num_nodes == 20_000
    assert 40_000 < graph.num_edges < 80_000
    assert peak < 100 * 2**20, f"peak numpy memory {peak / 2**20:.0f} MB"


def test_a_200k_node_planted_partition_needs_memory_linear_in_edges_and_features():
    """Float32 features drawn in blocks (no float64 N x F copies), edges drawn per block."""
    nodes, dim = 200_000, 64
    tracemalloc.start()
    try:
        graph = planted(nodes=nodes, communities=10, p_in=3.2e-5 * 10, p_out=0.8e-5 * 10 / 9, dim=dim)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert graph.x.dtype == torch.float32 and graph.x.shape == (nodes, dim)
    assert graph.edge_index.dtype == torch.int64 and graph.edge_index.shape == (2, 2 * graph.num_edges)
    assert 700_000 < graph.num_edges < 900_000  # degree about 8
    feature_bytes = nodes * dim * 4  # 51 MB; one float64 N x F copy would be 102 MB more
    assert peak < feature_bytes + 100 * graph.num_edges + 40 * 2**20, f"peak numpy {peak / 2**20:.0f} MB"


def test_load_graph_builds_planted_from_config_knobs():
    config = TrainConfig(dataset="planted", planted_nodes=90, planted_communities=3,
                         planted_feature_dim=5, seed=4)
    graph = load_graph(config)
    assert (graph.num_nodes, graph.num_features, graph.num_classes) == (90, 5, 3)
    assert torch.equal(graph.edge_index, load_graph(config).edge_index)


# ------------------------------------------------------------------- Planetoid
def test_cora_loads_from_the_data_dir_without_writing_there(cora_available):
    before = sorted(p.name for p in cora_available.parent.iterdir())
    graph = load_graph(TrainConfig(dataset="cora"))
    assert (graph.num_nodes, graph.num_features, graph.num_classes) == (2708, 1433, 7)
    assert graph.num_edges == 5278
    assert_clean_undirected(graph)
    assert sorted(p.name for p in cora_available.parent.iterdir()) == before


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Empty data and cache dirs, and a download that fails at once as it would offline."""
    data, cache = tmp_path / "data", tmp_path / "cache"
    monkeypatch.setenv("ARGAE_DATA_DIR", str(data))
    monkeypatch.setenv("ARGAE_CACHE_DIR", str(cache))

    def no_network(self):
        raise OSError("Network is unreachable")
    monkeypatch.setattr(Planetoid, "download", no_network)
    return data, cache


@pytest.mark.parametrize("name, pyg_name", [("citeseer", "CiteSeer"), ("pubmed", "PubMed")])
def test_missing_planetoid_offline_names_dataset_dir_and_files(offline, name, pyg_name):
    data, cache = offline
    with pytest.raises(DatasetUnavailable) as caught:
        planetoid(name)
    message = str(caught.value)
    assert pyg_name in message
    assert str(data / "Planetoid" / pyg_name / "raw") in message
    assert f"ind.{pyg_name.lower()}.graph" in message and f"ind.{pyg_name.lower()}.test.index" in message
    assert "ARGAE_DATA_DIR" in message
    assert "Traceback" not in message and "\n" not in message
    assert not (cache / "datasets" / "Planetoid" / pyg_name).exists(), "half download left behind"
    assert not data.exists() or not any(data.rglob("*")), "wrote into the data dir"


def test_unknown_dataset_raises_dataset_unavailable():
    config = TrainConfig()
    config.dataset = "imagenet"  # load_graph does not validate; the check is its own
    with pytest.raises(DatasetUnavailable, match="imagenet"):
        load_graph(config)


# --------------------------------------------------------------- feature modes
def test_raw_features_are_untouched():
    graph = load_graph(TrainConfig())
    assert apply_features(graph, "raw") is graph


def test_row_normalized_rows_sum_to_one_and_note_it():
    graph = planted()  # Gaussian features, some negative: clamped before normalising
    normed = apply_features(graph, "row_normalized")
    sums = normed.x.sum(1)
    nonzero = sums > 0
    assert torch.allclose(sums[nonzero], torch.ones(int(nonzero.sum())), atol=1e-5)
    assert (normed.x >= 0).all()
    assert len(normed.notes) == len(graph.notes) + 1
    assert torch.equal(normed.edge_index, graph.edge_index)


def test_identity_features_are_one_hot_node_ids():
    graph = load_graph(TrainConfig(features="identity"))
    assert torch.equal(graph.x, torch.eye(34))


def test_identity_features_refused_on_huge_graphs():
    huge = Graph("huge", torch.zeros(20_001, 1), torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(DatasetUnavailable, match="degree"):
        apply_features(huge, "identity")


def test_degree_features_encode_degree():
    graph = load_graph(TrainConfig(features="degree"))
    degrees = torch.from_numpy(graph.degrees()).float()
    assert torch.allclose(graph.x[:, 0], torch.log1p(degrees))
    assert torch.equal(graph.x[:, 1:].sum(1), torch.ones(34))  # exactly one bucket each


def test_unknown_feature_mode_raises():
    with pytest.raises(DatasetUnavailable, match="tfidf"):
        apply_features(planted(), "tfidf")


# ------------------------------------------------------------------ edge split
def test_split_sizes_and_disjointness():
    graph = planted(nodes=400)
    split = split_edges(graph, seed=0)
    edges = edge_set(graph.edge_index)
    train, val, test = (edge_set(split.train_edge_index), edge_set(split.val_pos),
                        edge_set(split.test_pos))
    assert len(val) == int(0.05 * len(edges)) and len(test) == int(0.10 * len(edges))
    assert train | val | test == edges
    assert not (train & val) and not (train & test) and not (val & test)
    for pos, neg in ((split.val_pos, split.val_neg), (split.test_pos, split.test_neg)):
        assert neg.size(1) == pos.size(1)
        assert not (edge_set(neg) & edges), "a negative pair is an edge"
    # message passing sees every training edge in both directions
    assert split.train_edge_index.size(1) == 2 * len(train)


def test_split_is_seeded_and_leaves_global_rng_alone():
    graph = planted(nodes=400)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = split_edges(graph, seed=3)
    assert torch.equal(torch.rand(1), expected_next)
    b, c = split_edges(graph, seed=3), split_edges(graph, seed=4)
    assert torch.equal(a.test_pos, b.test_pos) and torch.equal(a.val_neg, b.val_neg)
    assert not torch.equal(a.test_pos, c.test_pos)


def test_split_refuses_graphs_with_too_few_edges():
    tiny = Graph("tiny", torch.ones(4, 1), torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    with pytest.raises(DatasetUnavailable, match="at least 20"):
        split_edges(tiny, seed=0)


def test_split_works_at_the_minimum_and_refuses_one_below():
    """19 edges would give int(0.05 * 19) = 0 validation edges and RandomLinkSplit crashes."""
    def path_graph(edges):
        src = torch.arange(edges)
        pairs = torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])
        return Graph("path", torch.ones(edges + 1, 1), pairs)
    split = split_edges(path_graph(20), seed=0)
    assert split.val_pos.size(1) == 1 and split.val_neg.size(1) == 1
    with pytest.raises(DatasetUnavailable, match="at least 20"):
        split_edges(path_graph(19), seed=0)


def test_split_refuses_a_graph_too_dense_for_negative_examples():
    nodes = 8  # the complete graph K8 has 28 edges and no unconnected pair
    pairs = torch.tensor([(a, b) for a in range(nodes) for b in range(nodes) if a != b]).t()
    with pytest.raises(DatasetUnavailable, match="too dense"):
        split_edges(Graph("K8", torch.ones(nodes, 1), pairs), seed=0)


def test_env_points_tests_away_from_the_repo():
    from conftest import REPO_DIR
    for var in ("ARGAE_CACHE_DIR", "ARGAE_RUNS_DIR"):
        assert not os.environ[var].startswith(str(REPO_DIR)), var


# ------------------------------------------------- issue 14: sizes and processed files
def test_a_planted_partition_too_big_is_refused_before_it_is_drawn():
    tracemalloc.start()
    try:
        with pytest.raises(DatasetUnavailable) as caught:
            planted(nodes=200_000, p_in=1.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "5,029,900,000 edges" in str(caught.value) and "limit of" in str(caught.value)
    assert peak < 50 * 2**20, f"drew {peak / 2**20:.0f} MB before refusing"


def test_the_planted_edge_estimate_counts_the_pairs_the_generator_draws_from():
    from argae_core.config import planted_edge_estimate
    sizes = np.bincount(planted(nodes=601, communities=4).y.numpy())  # uneven communities
    inside = sum(s * (s - 1) // 2 for s in sizes)
    assert planted_edge_estimate(601, 4, 1.0, 0.0) == inside
    assert planted_edge_estimate(601, 4, 0.0, 1.0) == 601 * 600 // 2 - inside


class _RunsCode:
    """Unpickling this opens (creates) a file: what a crafted processed file could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture
def cora_cache(cora_available, tmp_path, monkeypatch):
    """A fresh cache for Cora; returns its processed folder (filled by a first load)."""
    monkeypatch.setenv("ARGAE_CACHE_DIR", str(tmp_path / "cache"))
    planetoid("cora")
    return tmp_path / "cache" / "datasets" / "Planetoid" / "Cora" / "processed"


def test_a_crafted_processed_file_is_not_unpickled_but_rebuilt_from_raw(cora_cache, tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({"x": _RunsCode(marker)}, cora_cache / "data.pt")
    graph = planetoid("cora")
    assert not marker.exists(), "the processed file was unpickled"
    assert (graph.num_nodes, graph.num_edges) == (2708, 5278)
    assert any("rebuilt from the raw files" in note for note in graph.notes), graph.notes
    torch.load(cora_cache / "data.pt", weights_only=True)  # the rebuilt file is plain data


def test_a_corrupt_processed_file_is_said_to_be_corrupt_not_missing_raw_files(cora_cache):
    (cora_cache / "data.pt").write_bytes(b"not a torch file")
    graph = planetoid("cora")
    assert graph.num_nodes == 2708
    note = " ".join(graph.notes)
    assert "corrupt" in note and "data.pt" in note and "raw files are not in" not in note


def test_damaged_raw_files_are_not_called_missing(cora_available, tmp_path, monkeypatch):
    data = tmp_path / "data"
    raw = data / "Planetoid" / "Cora" / "raw"
    raw.mkdir(parents=True)
    for file in cora_available.iterdir():
        raw.joinpath(file.name).write_bytes(b"garbage")
    monkeypatch.setenv("ARGAE_DATA_DIR", str(data))
    monkeypatch.setenv("ARGAE_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DatasetUnavailable) as caught:
        planetoid("cora")
    assert "damaged" in str(caught.value) and "are not in" not in str(caught.value)
