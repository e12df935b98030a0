"""The Runs page under AppTest: empty folder, table, skipped entries, one run's details,
delete with confirmation, incomplete and running runs, opening a run in the Train page."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

os.environ.setdefault("ARGAE_EXECUTOR", "thread")  # as in test_pages: no worker processes

from apptest_helpers import AppTest, button, open_page, save_run  # noqa: E402

from argae_core import runs  # noqa: E402
from argae_core.config import TrainConfig  # noqa: E402

APP = str(Path(__file__).resolve().parent.parent / "app.py")
ARGVA = TrainConfig(dataset="karate", model="argva", epochs=12, eval_interval=3, snapshot_interval=5)
GAE = TrainConfig(dataset="karate", model="gae", epochs=8, seed=1, eval_interval=2)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, str, str]:
    """Two finished KarateClub runs (ARGVA first, GAE second, so GAE is the newest)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared; KarateClub does not need two threads
    root = tmp_path_factory.mktemp("saved-runs")
    ids = []
    for config in (ARGVA, GAE):
        ids.append(save_run(config, root))
    torch.set_num_threads(threads)
    return root, ids[0], ids[1]


@pytest.fixture
def runs_dir(saved, tmp_path, monkeypatch) -> Path:
    """A runs folder of this test's own holding copies of the two saved runs."""
    root = tmp_path / "runs"
    shutil.copytree(saved[0], root)
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(root))
    return root


def select_row(at: AppTest, row: int) -> None:
    at.session_state["runs_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def skipped(at: AppTest) -> list:
    """The expanders listing skipped entries of the runs folder."""
    return [e for e in at.expander if "runs folder" in e.label]


def table(at: AppTest, column: str = "status"):
    """The first table shown with `column`: the runs table, the final metrics, the config."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def set_status(root: Path, run_id: str, **changes) -> None:
    path = root / run_id / "status.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_empty_runs_folder_points_to_the_train_page(tmp_path, monkeypatch):
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(tmp_path / "nothing-yet"))
    at = open_page("pages/runs.py")
    assert any("No saved runs yet" in i.value for i in at.info)
    assert not at.dataframe and not skipped(at)


def test_table_lists_both_runs_newest_first(runs_dir, saved):
    _, argva_id, gae_id = saved
    at = open_page("pages/runs.py")
    rows = table(at)
    assert list(rows["run"]) == [gae_id, argva_id]
    assert list(rows["model"]) == ["GAE", "ARGVA"]
    assert list(rows["status"]) == ["finished", "finished"]
    assert list(rows["epochs"]) == [8, 12] and list(rows["seed"]) == [1, 0]
    assert rows["AUC"].between(0, 1).all() and rows["MMD"].notna().all()
    assert rows["C2ST"].between(0, 1).all() and (rows["spread"] > 0).all()  # prior match, readable
    assert not skipped(at)  # nothing was skipped


def test_filters_narrow_the_table(runs_dir, saved):
    at = open_page("pages/runs.py")
    at.multiselect(key="runs_filter_model").set_value(["ARGVA"])
    at.run()
    assert list(table(at)["run"]) == [saved[1]]
    assert at.header[0].value == "ARGVA on karate, seed 0"  # the selection follows the rows left


def test_corrupt_and_foreign_entries_warn_and_the_page_still_works(runs_dir):
    (runs_dir / "broken-run").mkdir()
    (runs_dir / "broken-run" / "status.json").write_text("{ not json")
    (runs_dir / "notes.txt").write_text("a stray file")
    at = open_page("pages/runs.py")
    [expander] = skipped(at)
    assert "2 entries" in expander.label
    assert "broken-run" in expander.markdown[0].value and "notes.txt" in expander.markdown[0].value
    assert len(table(at)) == 2
    select_row(at, 1)
    assert at.header[0].value == "ARGVA on karate, seed 0"


def test_selecting_a_run_shows_its_curves_metrics_and_downloads(runs_dir, saved):
    at = open_page("pages/runs.py")
    assert at.header[0].value == "GAE on karate, seed 1"  # the newest is shown first
    assert len(at.get("plotly_chart")) == 2  # GAE: encoder loss and validation only
    select_row(at, 1)
    assert at.header[0].value == "ARGVA on karate, seed 0"
    assert any("finished" in s.value and "12 epochs" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 4
    metrics = table(at, "MMD to prior")
    assert 0 <= float(metrics["AUC"].iloc[0]) <= 1
    config = table(at, "setting")
    assert dict(zip(config["setting"], config["value"]))["epochs"] == "12"
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Metrics per epoch (CSV)", "Config (JSON)", "Embeddings (npz)", "Embeddings (CSV)",
                      "Everything (zip)", "Script to retrain (Python)"]
    assert not any(b.disabled for b in at.get("download_button"))


def test_the_selection_stays_on_its_run_when_a_new_run_appears(runs_dir, saved):
    at = open_page("pages/runs.py")
    select_row(at, 1)
    _, argva_id, _ = saved
    shutil.copytree(runs_dir / argva_id, runs_dir / "zz-newer-copy")
    set_status(runs_dir, "zz-newer-copy", started="2999-01-01T00:00:00+00:00")
    at.run()
    assert list(table(at)["run"])[0] == "zz-newer-copy"
    # still the run picked, not the one now in its row
    assert any(f"`{argva_id}`" in c.value for c in at.caption)


def test_delete_asks_for_confirmation_then_removes_the_run(runs_dir, saved):
    _, argva_id, gae_id = saved
    at = open_page("pages/runs.py")
    button(at, "Delete").click()
    at.run()
    assert (runs_dir / gae_id).is_dir()  # nothing deleted yet
    assert any(gae_id in w.value for w in at.warning)
    button(at, "Cancel").click()
    at.run()
    assert (runs_dir / gae_id).is_dir() and not any(b.label.startswith("Yes") for b in at.button)
    button(at, "Delete").click()
    at.run()
    button(at, f"Yes, delete {gae_id}").click()
    at.run()
    assert not at.exception
    assert not (runs_dir / gae_id).exists()
    assert any(f"Deleted run `{gae_id}`" in s.value for s in at.success)
    assert list(table(at)["run"]) == [argva_id]


def test_an_interrupted_run_is_listed_incomplete(runs_dir, saved):
    _, argva_id, _ = saved
    # Its writer's pid is ours, but with another start time: a dead process whose pid was reused.
    set_status(runs_dir, argva_id, status="running", pid=os.getpid(),
               pid_start=runs._process_start(os.getpid()) + 1)
    (runs_dir / argva_id / "metrics.json").unlink()
    at = open_page("pages/runs.py")
    assert list(table(at)["status"]) == ["finished", "incomplete"]
    select_row(at, 1)
    assert any("incomplete" in w.value and "after 12 of 12 epochs" in w.value for w in at.warning)
    assert len(at.get("plotly_chart")) == 4  # the curves up to then are kept
    assert not button(at, "Delete").disabled


def test_a_run_still_training_cannot_be_deleted(runs_dir, saved):
    _, _, gae_id = saved
    set_status(runs_dir, gae_id, status="running", pid=os.getpid(),
               pid_start=runs._process_start(os.getpid()))
    at = open_page("pages/runs.py")
    assert table(at)["status"].iloc[0] == "running"
    assert button(at, "Delete").disabled


def test_open_in_train_page_shows_the_run_there(runs_dir, saved):
    _, _, gae_id = saved
    at = open_page("pages/runs.py")
    button(at, "Open in Train page").click()
    at.run()
    assert not at.exception
    assert at.session_state["view_run"] == gae_id
    assert any(gae_id in i.value for i in at.info)  # the Train page's saved-run banner
    # the run's own settings, read-only, not the session's (default ARGVA, seed 0, 200 epochs)
    own = {w.key.rsplit("_", 1)[-1]: (w.value, w.disabled) for w in [*at.selectbox, *at.number_input]
           if w.key and w.key.startswith(f"view_{gae_id}_")}
    assert own["model"] == ("gae", True) and own["seed"] == (1, True) and own["epochs"] == (8, True), own
    assert dict(at.query_params) == {"run": gae_id}  # a link that reopens it
    assert button(at, "Start").disabled


def test_the_latent_button_appears_only_when_the_latent_page_exists(runs_dir):
    at = open_page("pages/runs.py")
    labels = [b.label for b in at.button]
    assert ("Open in Latent page" in labels) == (Path(APP).parent / "pages" / "latent.py").exists()


def test_a_run_with_a_damaged_status_is_skipped_and_named_while_the_others_list(runs_dir, saved):
    set_status(runs_dir, saved[1], epochs_done="abc")
    at = open_page("pages/runs.py")
    [expander] = skipped(at)
    assert saved[1] in expander.markdown[0].value and "epochs_done" in expander.markdown[0].value
    assert list(table(at)["run"]) == [saved[2]]


def test_an_uploaded_graphs_run_is_named_after_its_file(runs_dir, saved):
    status = json.loads((runs_dir / saved[2] / "status.json").read_text())
    set_status(runs_dir, saved[2], dataset="upload:da59d16eb690e6c3",
               graph={**status["graph"], "name": "my_graph.csv"})
    config = runs_dir / saved[2] / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "dataset": "upload:da59d16eb690e6c3"}))
    graph = runs_dir / saved[2] / "graph.json"
    graph.write_text(json.dumps({**json.loads(graph.read_text()), "name": "my_graph.csv"}))
    at = open_page("pages/runs.py")
    assert list(table(at)["dataset"]) == ["my_graph.csv", "karate"]
    assert at.header[0].value == "GAE on my_graph.csv, seed 1"


def test_a_capped_clustering_score_says_so_under_the_metrics(runs_dir, saved):
    note = "Clustering scored with 100 clusters for 10,000 classes, one KMeans start, to bound its time."
    metrics = runs_dir / saved[2] / "metrics.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "clustering_capped": note}))
    at = open_page("pages/runs.py")
    assert any(note in c.value for c in at.caption), [c.value for c in at.caption]


def test_the_sampler_a_run_trained_with_is_said_under_the_metrics(runs_dir, saved):
    metrics = runs_dir / saved[2] / "metrics.json"
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "sampler": "PyG LinkNeighborLoader (torch-sparse)"}))
    at = open_page("pages/runs.py")
    assert any("Trained sampled, by PyG LinkNeighborLoader (torch-sparse)." in c.value for c in at.caption), \
        [c.value for c in at.caption]


def test_the_runs_page_counts_dropped_snapshots_and_shows_the_folder_against_its_budget(runs_dir, saved, monkeypatch):
    _, argva_id, gae_id = saved
    monkeypatch.delenv(runs.budget.RUNS_ENV, raising=False)
    monkeypatch.setenv(runs.budget.RUN_ENV, "512")
    for epoch in (1, 5):   # as the writer does over a budget: the oldest go, a marker stays
        path = runs_dir / argva_id / "snapshots" / f"epoch_{epoch:05d}.npz"
        runs.budget.drop_snapshot(path, epoch, "the run within its 512 MB (ARGAE_RUN_DISK_MB)")
    at = open_page("pages/runs.py")
    rows = table(at).set_index("run")
    assert rows.loc[argva_id, "dropped"] == 2 and rows.loc[gae_id, "dropped"] == 0
    total_mb = runs.budget.total_bytes(runs_dir) / runs.budget.MB
    assert abs(rows["MB"].sum() - total_mb) < 1e-6
    note = " ".join(c.value for c in at.caption)
    assert f"Runs folder: **{runs.budget.megabytes(total_mb)} MB of its 8,192 MB budget**" in note
    assert "each run at most 512 MB" in note and "2 snapshot(s) of 1 run(s) were dropped" in note
    select_row(at, 1)   # the ARGVA run: which epochs went, and what is kept
    said = " ".join(w.value for w in at.warning)
    assert "2 of this run's snapshots (epoch 1, 5) were dropped to keep the run within its 512 MB" in said
    assert "final Z, metrics, config and records are all here" in said


def test_a_runs_folder_over_its_budget_is_a_warning_and_a_bad_budget_is_named(runs_dir, monkeypatch):
    monkeypatch.setenv(runs.budget.RUNS_ENV, "0.01")   # 10 KB: less than the two runs' newest snapshots
    monkeypatch.setenv(runs.budget.RUN_ENV, "plenty")
    at = open_page("pages/runs.py")
    said = " ".join(w.value for w in at.warning)
    assert "of its 0.01 MB budget" in said and "over its budget even so" in said and "delete runs" in said
    assert "ARGAE_RUN_DISK_MB='plenty' is not a positive number of megabytes" in said
