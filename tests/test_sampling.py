"""Sampled training (argae_core/sampling.py): the batches, the chunked embedding, a sampled
run against full-batch on the same split. Small planted graphs only."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from argae_core import estimate, sampling
from argae_core.config import TrainConfig, chosen_sampler, sampler_label
from argae_core.data import load_graph, split_edges
from argae_core.training import ROW_FIELDS, Trainer, one_direction


def planted(**changes) -> TrainConfig:
    return TrainConfig(**{"dataset": "planted", "planted_nodes": 1500, "planted_communities": 5,
                          "planted_p_in": 0.02, "planted_p_out": 0.001, "planted_feature_dim": 16,
                          "epochs": 6, "eval_interval": 2, "snapshot_interval": 3, "latent_size": 16,
                          "encoder_hidden": 32, "batch_nodes": 256, **changes})


@pytest.fixture(scope="module")
def graph_and_split():
    config = planted()
    graph = load_graph(config)
    return graph, split_edges(graph, config.seed)


def edge_set(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.t().tolist()))


def test_batches_are_induced_subgraphs_of_training_edges_with_the_node_cap(graph_and_split):
    graph, split = graph_and_split
    train = split.train_edge_index
    batches = sampling.EdgeBatches(train, one_direction(train), graph.num_nodes, batch_nodes=256)
    training = edge_set(train)
    held_out = edge_set(split.test_pos) | edge_set(split.val_pos)
    seen_positives = 0
    torch.manual_seed(0)
    for batch in batches.epoch():
        nodes = batch.nodes.tolist()
        assert len(nodes) == len(set(nodes)) == 256  # the cap, reached, no node twice
        inside = set(nodes)
        induced = {(a, b) for a, b in training if a in inside and b in inside}
        local = {(nodes[a], nodes[b]) for a, b in batch.edge_index.t().tolist()}
        assert local == induced  # exactly the training edges among the batch's nodes
        assert not local & held_out
        positives = {(nodes[a], nodes[b]) for a, b in batch.positives.t().tolist()}
        assert positives <= training and len(positives) <= estimate.edges_per_batch(256)
        seen_positives += len(positives)
        negatives = batch.negatives.t().tolist()
        assert len(negatives) == batch.positives.size(1)
        assert all(a != b and (nodes[a], nodes[b]) not in training for a, b in negatives)
    # one epoch is one pass over the training edges, each once
    assert seen_positives == train.size(1) // 2
    assert len(batches) == estimate.batches_per_epoch(graph.num_edges, 256) or \
        abs(len(batches) - estimate.batches_per_epoch(graph.num_edges, 256)) <= 1


def test_a_batch_fills_up_with_random_nodes_when_neighbours_run_out():
    # a path 0-1 and isolated nodes: the endpoints have no other neighbours
    train = torch.tensor([[0, 1], [1, 0]])
    batches = sampling.EdgeBatches(train, torch.tensor([[0], [1]]), 50, batch_nodes=10)
    batch = batches.batch(torch.tensor([0]))
    assert batch.nodes.numel() == 10 and set(batch.nodes[:2].tolist()) == {0, 1}
    assert batch.edge_index.size(1) == 2


def test_chunked_embedding_is_the_encoders_output(graph_and_split):
    graph, split = graph_and_split
    for model in ("argva", "arga"):
        trainer = Trainer(planted(model=model, sampling="full", epochs=2), graph, split)
        list(trainer)
        expected = trainer.embed()
        adjacency = sampling.full_adjacency(trainer.train_edges, graph.num_nodes)
        chunked = sampling.chunked_embedding(trainer.model.encoder, trainer.x, adjacency, chunk=97)
        assert torch.allclose(chunked, expected, atol=1e-5), (chunked - expected).abs().max()


def test_a_sampled_run_trains_about_as_well_as_full_batch_on_the_same_split(graph_and_split):
    graph, split = graph_and_split
    sampled = Trainer(planted(sampling="sampled", epochs=6), graph, split)
    assert sampled.sampled and len(sampled.batches) > 1
    records = list(sampled)
    rows = [r.row() for r in records]
    assert [r["epoch"] for r in rows] == list(range(1, 7))
    assert all(set(r) == set(ROW_FIELDS) for r in rows)  # records keep their shape
    assert all(r["discriminator_loss"] is not None and 0 < r["d_real"] < 1 for r in rows)
    assert [r.epoch for r in records if r.z is not None] == [1, 3, 6]
    assert records[0].z.shape == (graph.num_nodes, 16) and records[0].d_score.shape == (graph.num_nodes,)
    sampled_auc = sampled.final_metrics()["test_auc"]
    full = Trainer(planted(sampling="full", epochs=60), graph, split)
    assert not full.sampled and full.batches is None
    list(full)
    full_auc = full.final_metrics()["test_auc"]
    assert sampled_auc > 0.7 and abs(sampled_auc - full_auc) < 0.08, (sampled_auc, full_auc)


def test_a_sampled_gae_recon_loss_goes_down(graph_and_split):
    graph, split = graph_and_split
    trainer = Trainer(planted(model="gae", sampling="sampled", epochs=4), graph, split)
    first_update = trainer.advance()  # a GAE has no discriminator: the first update is the encoder's
    assert first_update["phase"] == "encoder" and first_update["batch"] == 1
    recon = [r.recon_loss for r in trainer]
    assert recon[-1] < recon[0] < first_update["recon_loss"] and recon[-1] < 0.8 * first_update["recon_loss"], \
        (first_update["recon_loss"], recon)


def test_auto_samples_above_the_threshold_only(graph_and_split):
    graph, split = graph_and_split
    assert Trainer(planted(sample_threshold=1000, epochs=1), graph, split).sampled
    assert not Trainer(planted(sample_threshold=1500, epochs=1), graph, split).sampled
    assert not Trainer(planted(sample_threshold=10, sampling="full", epochs=1), graph, split).sampled


def test_step_mode_walks_the_batches_of_a_sampled_epoch(graph_and_split):
    graph, split = graph_and_split
    trainer = Trainer(planted(sampling="sampled", epochs=1, eval_interval=1), graph, split)
    phases = []
    while not trainer.finished:
        phases.append(trainer.advance())
    encoder_updates = [p for p in phases if isinstance(p, dict) and p["phase"] == "encoder"]
    assert len(encoder_updates) == len(trainer.batches)
    assert [p["batch"] for p in encoder_updates] == list(range(1, len(trainer.batches) + 1))
    assert phases[-1].epoch == 1 and phases[-1].val_auc is not None


def test_validation_of_a_sampled_run_scores_a_seeded_sample_of_the_held_out_edges():
    pos, neg = torch.arange(60).view(2, 30), torch.arange(60, 120).view(2, 30)
    a, b = sampling.held_out_sample(pos, neg, 10, seed=3)
    again = sampling.held_out_sample(pos, neg, 10, seed=3)
    assert a.shape == b.shape == (2, 10) and torch.equal(a, again[0]) and torch.equal(b, again[1])
    assert edge_set(a) <= edge_set(pos) and edge_set(b) <= edge_set(neg)
    assert sampling.held_out_sample(pos, neg, 30, seed=3)[0] is pos


def test_the_loader_backend_is_reported():
    assert sampling.loader_backend() in (None, "pyg-lib", "torch-sparse")
    np.testing.assert_equal(estimate.edges_per_batch(8192), 2048)


# ------------------------------------------- PyG's LinkNeighborLoader (pyg-lib / torch-sparse)
NO_LOADER = pytest.mark.skipif(sampling.loader_backend() is None,
                               reason="PyG's neighbour loaders need pyg-lib or torch-sparse (neither installed)")


def test_the_sampler_is_chosen_by_the_knob_and_what_is_installed():
    assert chosen_sampler("auto", "torch-sparse") == chosen_sampler("neighbour", "pyg-lib") == "neighbour"
    assert chosen_sampler("auto", None) == chosen_sampler("neighbour", None) == "subgraph"
    assert chosen_sampler("subgraph", "torch-sparse") == "subgraph"
    assert sampler_label("auto", "torch-sparse") == "PyG LinkNeighborLoader (torch-sparse)"
    assert sampler_label("subgraph", "pyg-lib") == "edge-seeded subgraphs (torch + PyG subgraph)"
    assert "needs pyg-lib or torch-sparse, neither is installed here" in sampler_label("neighbour", None)
    assert TrainConfig().sampler == "auto" and "sampler" in TrainConfig(sampler="oops").problems()


def test_a_backend_that_cannot_run_falls_back_to_the_subgraphs_and_says_why(graph_and_split, monkeypatch):
    graph, split = graph_and_split
    train = split.train_edge_index
    installed = sampling.loader_backend()
    args = (train, one_direction(train), graph.num_nodes, 256)
    monkeypatch.setattr(sampling, "loader_backend", lambda: "torch-sparse")
    batches, words = sampling.batch_source("auto", *args)
    if installed is None:  # PyG says torch-sparse, but it is not here: the loader fails on its probe
        assert isinstance(batches, sampling.EdgeBatches)
        assert words.startswith("edge-seeded subgraphs (torch + PyG subgraph; PyG's LinkNeighborLoader "
                                "(torch-sparse) failed here: "), words
    else:
        assert isinstance(batches, sampling.NeighbourBatches) and words == "PyG LinkNeighborLoader (torch-sparse)"
    batch = next(iter(batches.epoch()))  # either way the batches are there
    assert batch.positives.size(1) == batch.negatives.size(1) > 0
    monkeypatch.setattr(sampling, "loader_backend", lambda: None)
    batches, words = sampling.batch_source("neighbour", *args)
    assert isinstance(batches, sampling.EdgeBatches) and "neither is installed here" in words
    assert isinstance(sampling.batch_source("subgraph", *args)[0], sampling.EdgeBatches)


def test_the_sampler_is_said_before_start_and_kept_in_the_metrics(graph_and_split, monkeypatch):
    graph, split = graph_and_split
    from argae_core import cli
    from argae_core.runs import reader
    trainer = Trainer(planted(sampling="sampled", epochs=1), graph, split)
    assert trainer.sampler == sampler_label("auto", sampling.loader_backend())
    final = trainer.final_metrics()
    assert final["sampler"] == trainer.sampler
    assert f"trained sampled, by {trainer.sampler}" in cli.metrics_table(final, trainer.config, graph)
    assert reader._checked_metrics(dict(final))["sampler"] == trainer.sampler  # the Runs page reads it back
    with pytest.raises(reader.RunError, match="sampler is 3, not text"):
        reader._checked_metrics({**final, "sampler": 3})
    assert "sampler" not in Trainer(planted(sampling="full", epochs=1), graph, split).final_metrics()
    assert Trainer(planted(sampling="sampled", sampler="subgraph", epochs=1), graph, split).sampler == \
        "edge-seeded subgraphs (torch + PyG subgraph)" or sampling.loader_backend() is None
    for backend, words in (("torch-sparse", "Sampler: PyG LinkNeighborLoader (torch-sparse). Estimate"),
                           (None, "Sampler: edge-seeded subgraphs (torch + PyG subgraph; PyG's LinkNeighborLoader "
                                  "needs pyg-lib or torch-sparse, neither is installed here). Estimate")):
        monkeypatch.setattr(estimate, "installed_backend", lambda backend=backend: backend)
        found = estimate.estimate(100_000, 500_000, 128, TrainConfig(sampling="sampled"))
        assert f"Training sampled: 8,192-node subgraphs, 208 per epoch. {words}" in found.sentence(), found.sentence()


def test_the_fan_out_keeps_a_batch_within_its_nodes():
    assert sampling.fan_out(8192, 2048) == [1]
    assert sampling.fan_out(8192, 512) == [2, 2] and sampling.fan_out(8192, 100) == [5, 5]
    for nodes, seeds in ((8192, 2048), (8192, 512), (8192, 100), (256, 64), (1000, 300)):
        fan = sampling.fan_out(nodes, seeds)
        reach, total = 2 * seeds, 2 * seeds
        for k in fan:
            reach *= k
            total += reach
        assert total <= nodes or fan == [1]


@NO_LOADER
def test_loader_batches_are_induced_subgraphs_and_cover_every_training_edge_once(graph_and_split):
    graph, split = graph_and_split
    train = split.train_edge_index
    positives_all = one_direction(train)
    torch.manual_seed(0)
    batches, words = sampling.batch_source("neighbour", train, positives_all, graph.num_nodes, 256)
    assert isinstance(batches, sampling.NeighbourBatches) and words.startswith("PyG LinkNeighborLoader (")
    assert batches.num_neighbors == [1] and len(batches) == math.ceil(positives_all.size(1) / 64)
    training = edge_set(train)
    held_out = edge_set(split.test_pos) | edge_set(split.val_pos)
    seen = []
    for batch in batches.epoch():
        nodes = batch.nodes.tolist()
        n = len(nodes)
        assert n == len(set(nodes)) and n <= 256  # no node twice, within the batch's nodes
        for local in (batch.edge_index, batch.positives, batch.negatives):
            assert local.dtype == torch.long and (local.numel() == 0 or 0 <= int(local.min()) <= int(local.max()) < n)
        inside = set(nodes)
        induced = {(a, b) for a, b in training if a in inside and b in inside}
        local = {(nodes[a], nodes[b]) for a, b in batch.edge_index.t().tolist()}
        assert local == induced and not local & held_out  # every training edge among them, no held-out one
        positives = [(nodes[a], nodes[b]) for a, b in batch.positives.t().tolist()]
        assert set(positives) <= training and len(positives) <= 64
        seen += positives
        negatives = batch.negatives.t().tolist()
        assert len(negatives) == len(positives)
        assert all(a != b and (nodes[a], nodes[b]) not in training for a, b in negatives)
    # the loader's contract: one epoch is one pass over the seed links, each once
    assert sorted(seen) == sorted(map(tuple, positives_all.t().tolist()))


@NO_LOADER
def test_loader_batches_follow_the_seed(graph_and_split):
    graph, split = graph_and_split
    train = split.train_edge_index
    firsts = []
    for _ in range(2):
        torch.manual_seed(5)
        batches = sampling.NeighbourBatches(train, one_direction(train), graph.num_nodes, 256)
        firsts.append(next(iter(batches.epoch())))
    assert torch.equal(firsts[0].nodes, firsts[1].nodes) and torch.equal(firsts[0].negatives, firsts[1].negatives)


@NO_LOADER
def test_a_run_sampled_by_the_loader_learns(graph_and_split):
    graph, split = graph_and_split
    trainer = Trainer(planted(sampling="sampled", sampler="neighbour", epochs=6), graph, split)
    assert isinstance(trainer.batches, sampling.NeighbourBatches)
    rows = [record.row() for record in trainer]
    assert all(set(r) == set(ROW_FIELDS) for r in rows) and len(rows) == 6
    final = trainer.final_metrics()
    assert final["sampler"].startswith("PyG LinkNeighborLoader (")
    assert final["test_auc"] > 0.7, final["test_auc"]
