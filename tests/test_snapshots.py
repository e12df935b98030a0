"""Snapshots of a big graph: a fixed seeded, stratified subsample of nodes, the same at every
epoch, saved once per run; readers and exports map each row to its node; the final Z whole."""
import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from argae_core import runs, snapshots
from argae_core.config import ConfigError, TrainConfig
from argae_core.runs import RunError, RunWriter, load_run, record_run
from argae_core.training import Trainer

# 300 nodes, 4 communities; snapshots keep 100 of them
BIG = TrainConfig(dataset="planted", model="argva", epochs=6, eval_interval=3, snapshot_interval=3,
                  snapshot_nodes=100)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def big_run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    trainer = Trainer(BIG)
    writer = RunWriter(BIG, trainer.graph, root=root)
    records = list(record_run(trainer, writer))
    return root, trainer, writer, records


# ------------------------------------------------------------------ the subsample
def test_subsample_is_seeded_sorted_distinct_and_none_when_all_fit():
    labels = np.repeat(np.arange(4), 250)
    first = snapshots.subsample(1000, 200, seed=3, labels=labels)
    assert np.array_equal(first, snapshots.subsample(1000, 200, seed=3, labels=labels))
    assert not np.array_equal(first, snapshots.subsample(1000, 200, seed=4, labels=labels))
    assert len(first) == 200 and (np.diff(first) > 0).all() and first[0] >= 0 and first[-1] < 1000
    assert snapshots.subsample(1000, 1000, seed=3) is None
    assert snapshots.subsample(50, 200, seed=3) is None
    with pytest.raises(ValueError, match="at least one node"):
        snapshots.subsample(1000, 0, seed=3)


def test_subsample_is_stratified_by_label():
    # a community of 2 % of the nodes keeps its share; an unstratified draw of 100 is noisier
    labels = np.array([0] * 4900 + [1] * 100)
    kept = snapshots.subsample(5000, 500, seed=0, labels=labels)
    assert np.bincount(labels[kept]).tolist() == [490, 10]
    for seed in range(5):
        assert np.bincount(labels[snapshots.subsample(5000, 500, seed=seed, labels=labels)])[1] == 10


def test_rows_of_and_local_edges_map_nodes_to_snapshot_rows():
    kept = np.array([2, 5, 7, 9])
    assert snapshots.rows_of(kept, [7, 3, 2]) == ([2, 0], [3])
    assert snapshots.rows_of(None, [7, 3]) == ([7, 3], [])
    assert snapshots.node_of(kept, [0, 3]).tolist() == [2, 9]
    edges = np.array([[2, 5, 3, 9], [5, 9, 7, 2]])
    assert snapshots.local_edges(kept, edges, 10).tolist() == [[0, 1, 3], [1, 3, 0]]


def test_snapshot_nodes_knob_is_validated():
    with pytest.raises(ConfigError, match="snapshot_nodes: must be at least 100"):
        TrainConfig(snapshot_nodes=5).validate()
    with pytest.raises(ConfigError, match="snapshot_nodes: must be a whole number"):
        TrainConfig(snapshot_nodes=2.5).validate()
    assert TrainConfig().snapshot_nodes == 20_000


# ------------------------------------------------------------------ training and saving
def test_every_snapshot_keeps_the_same_nodes_and_the_final_z_is_whole(big_run):
    root, trainer, writer, records = big_run
    kept = trainer.snapshot_nodes
    labels = trainer.graph.y.numpy()
    assert len(kept) == 100 and np.bincount(labels[kept]).tolist() == [25, 25, 25, 25]
    assert np.array_equal(kept, writer.snapshot_nodes)
    shots = [r for r in records if r.z is not None]
    assert [r.epoch for r in shots] == [1, 3, 6]
    assert all(r.z.shape == (100, BIG.latent_size) and r.d_score.shape == (100,) for r in shots)
    run = load_run(writer.run_id, root)
    assert np.array_equal(run.graph.snapshot_nodes, kept) and run.graph.snapshot_size == 100
    assert (run.path / snapshots.FILE).is_file()
    for record in shots:  # the rows saved are the trainer's Z at those nodes
        z, d_score = run.snapshot(record.epoch)
        assert np.array_equal(z, record.z) and np.array_equal(d_score, record.d_score)
    epoch, final, _ = run.final_embedding()
    assert final.shape == (300, BIG.latent_size)
    trainer.model.load_state_dict(run.state_dict())
    whole, _ = trainer.snapshot()
    assert np.allclose(final, whole)
    assert np.allclose(trainer.snapshot(subsample=True)[0], whole[kept])


def test_a_small_graph_saves_no_node_file_and_whole_snapshots(tmp_path):
    config = TrainConfig(dataset="karate", model="gae", epochs=3, snapshot_interval=3)
    trainer = Trainer(config)
    writer = RunWriter(config, trainer.graph, root=tmp_path)
    list(record_run(trainer, writer))
    run = load_run(writer.run_id, tmp_path)
    assert trainer.snapshot_nodes is None and run.graph.snapshot_nodes is None
    assert not (run.path / snapshots.FILE).exists()
    assert run.snapshot(3)[0].shape[0] == 34 and run.graph.snapshot_node([5, 7]).tolist() == [5, 7]


def test_writer_refuses_a_snapshot_of_the_wrong_rows(tmp_path):
    trainer = Trainer(BIG)
    writer = RunWriter(BIG, trainer.graph, root=tmp_path)
    record = trainer.step()
    record.z = np.zeros((300, BIG.latent_size), np.float32)   # whole Z where the run keeps 100 rows
    with pytest.raises(RunError, match="snapshots keep 100 nodes"):
        writer.add(record)


def test_a_damaged_node_file_is_a_run_error(big_run, tmp_path):
    import shutil
    root, _, writer, _ = big_run
    shutil.copytree(root / writer.run_id, tmp_path / writer.run_id)
    (tmp_path / writer.run_id / snapshots.FILE).write_bytes(
        runs.writer.npz_bytes(nodes=np.array([5, 3, 400])))
    with pytest.raises(RunError, match="distinct sorted node indices"):
        load_run(writer.run_id, tmp_path)


# ------------------------------------------------------------------ exports
def test_exports_of_a_snapshot_name_the_nodes_it_keeps(big_run):
    root, trainer, writer, _ = big_run
    kept = trainer.snapshot_nodes
    run = load_run(writer.run_id, root)
    arrays = np.load(io.BytesIO(runs.export_embeddings(writer.run_id, root, epoch=3)))
    assert arrays["node_index"].tolist() == kept.tolist()
    assert arrays["node_id"].tolist() == [str(n) for n in kept]   # planted nodes are named by index
    assert arrays["label"].tolist() == run.graph.labels[kept].tolist()
    assert arrays["degree"].tolist() == run.graph.degrees[kept].tolist()
    assert np.array_equal(arrays["z"], run.snapshot(3)[0])
    frame = pd.read_csv(io.BytesIO(runs.export_embeddings(writer.run_id, root, epoch=3, fmt="csv")))
    assert frame["node_id"].tolist() == kept.tolist() and frame["degree"].tolist() == run.graph.degrees[kept].tolist()
    final = np.load(io.BytesIO(runs.export_embeddings(writer.run_id, root)))   # the final Z: every node
    assert final["node_index"].tolist() == list(range(300)) and final["z"].shape[0] == 300


def test_tensorboard_metadata_follows_the_kept_nodes(big_run, tmp_path):
    pytest.importorskip("tensorboard")
    from argae_core.tensorboard_export import _metadata
    root, trainer, writer, _ = big_run
    run = load_run(writer.run_id, root)
    rows = _metadata(run, prior_count=2)
    assert len(rows) == 102 and [r[1] for r in rows[:3]] == [str(n) for n in trainer.snapshot_nodes[:3]]


# ------------------------------------------------------------------ disk budgets
from argae_core.runs import budget  # noqa: E402

KARATE = TrainConfig(dataset="karate", model="argva", epochs=10, eval_interval=5, snapshot_interval=1)


def saved_karate(root, config=KARATE):
    trainer = Trainer(config)
    writer = RunWriter(config, trainer.graph, root=root)
    list(record_run(trainer, writer))
    return writer


def test_over_its_budget_a_run_drops_its_oldest_snapshots_and_leaves_markers(tmp_path, monkeypatch):
    unbounded = saved_karate(tmp_path / "free")
    path = unbounded.path
    sizes = {e: p.stat().st_size for e, p in budget.snapshot_files(path).items()}
    assert list(sizes) == list(range(1, 11))
    others = budget.folder_bytes(path) - sum(sizes.values())
    # room for the other files and four snapshots: six of the ten go, the oldest first
    monkeypatch.setenv(budget.RUN_ENV, str((others + 4.5 * max(sizes.values())) / budget.MB))
    writer = saved_karate(tmp_path / "bounded")
    run = load_run(writer.run_id, tmp_path / "bounded")
    assert run.snapshot_epochs == [7, 8, 9, 10] and sorted(run.dropped_epochs) == [1, 2, 3, 4, 5, 6]
    assert sorted(e for _, e in writer.dropped) == [1, 2, 3, 4, 5, 6]
    assert budget.folder_bytes(run.path) <= writer.budget.run_bytes
    marker = json.loads((run.path / "snapshots" / "epoch_00001.dropped.json").read_text())
    assert marker["epoch"] == 1 and marker["bytes"] == sizes[1] and budget.RUN_ENV in marker["reason"]
    for name in ("embedding.npz", "metrics.json", "config.json", "records.csv", "model.pt"):
        assert (run.path / name).is_file(), name
    assert run.final_embedding()[1].shape == (34, KARATE.latent_size) and len(run.records) == 10
    with pytest.raises(RunError, match="epoch 3 .* was dropped to keep the run within its"):
        run.snapshot(3)
    assert np.isfinite(run.snapshot(10)[0]).all()
    [summary], _ = runs.list_runs(tmp_path / "bounded")
    assert summary.snapshots_dropped == 6 and summary.disk_bytes == budget.folder_bytes(run.path)
    assert runs.dropped_snapshots(writer.run_id, tmp_path / "bounded").keys() == run.dropped_epochs.keys()


def test_the_newest_snapshot_is_kept_whatever_the_budget(tmp_path, monkeypatch):
    monkeypatch.setenv(budget.RUN_ENV, "0.001")   # 1 KB: less than any run
    writer = saved_karate(tmp_path)
    run = load_run(writer.run_id, tmp_path)
    assert run.snapshot_epochs == [10] and sorted(run.dropped_epochs) == list(range(1, 10))


def test_over_the_folders_budget_the_oldest_runs_lose_snapshots_first(tmp_path, monkeypatch):
    old = saved_karate(tmp_path)
    first_size = budget.total_bytes(tmp_path)
    newest_snapshot = budget.snapshot_files(old.path)[10].stat().st_size
    # room for about two runs less three snapshots: the second run's writing takes them from the first
    monkeypatch.setenv(budget.RUNS_ENV, str((2 * first_size - 3 * newest_snapshot) / budget.MB))
    new = saved_karate(tmp_path)
    assert budget.run_folders(tmp_path) == [old.path, new.path]   # by creation, even within one second
    dropped_old, dropped_new = runs.dropped_snapshots(old.run_id, tmp_path), runs.dropped_snapshots(new.run_id, tmp_path)
    assert sorted(dropped_old)[:3] == [1, 2, 3] and not dropped_new
    assert budget.RUNS_ENV in next(iter(dropped_old.values()))["reason"]
    assert budget.total_bytes(tmp_path) <= new.budget.runs_bytes


def test_budgets_read_the_environment_and_refuse_nonsense(monkeypatch):
    monkeypatch.delenv(budget.RUN_ENV, raising=False)
    monkeypatch.delenv(budget.RUNS_ENV, raising=False)
    assert (budget.budgets().run_mb, budget.budgets().runs_mb) == (1024, 8192)
    monkeypatch.setenv(budget.RUN_ENV, "lots")
    monkeypatch.setenv(budget.RUNS_ENV, "-5")
    found = budget.budgets()
    assert (found.run_mb, found.runs_mb) == (1024, 8192) and len(found.problems) == 2
    assert "ARGAE_RUN_DISK_MB='lots' is not a positive number" in found.problems[0]


def test_secrets_fill_only_unset_variables(monkeypatch):
    monkeypatch.setenv(budget.RUN_ENV, "300")
    monkeypatch.delenv(budget.RUNS_ENV, raising=False)
    budget.adopt_secrets({"run_disk_mb": 50, "runs_disk_mb": 2048})
    assert budget.budgets().run_mb == 300 and budget.budgets().runs_mb == 2048


def test_compare_names_a_live_snapshots_points_by_their_nodes_and_the_final_z_by_row(big_run, monkeypatch):
    from types import SimpleNamespace

    from argae_core import projection
    from pages import compare_data
    root, trainer, writer, records = big_run
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(root))
    compare_data.snapshot_nodes.clear()
    compare_data.final_embedding.clear()
    last = [r for r in records if r.z is not None][-1]
    live = SimpleNamespace(active=True, run_id=writer.run_id, latest_snapshot=lambda: (last.epoch, last.z, None))
    frame = projection.project(last.z, projection.prior_samples(100, BIG.latent_size), "pca")
    assert compare_data.node_rows(frame, live).tolist() == trainer.snapshot_nodes.tolist()
    over = SimpleNamespace(active=False, run_id=writer.run_id, latest_snapshot=live.latest_snapshot)
    z = compare_data.latent_of(over)[1]
    whole = projection.project(z, projection.prior_samples(300, BIG.latent_size), "pca", cap=1000)
    assert compare_data.node_rows(whole, over).tolist() == list(range(300))
