"""Runs on disk: save / list / load round trip, finish statuses, an interrupted run,
corrupt and foreign entries, path traversal, exports."""
import csv
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from argae_core import runs
from argae_core.config import TrainConfig
from argae_core.data import load_graph
from argae_core.runs import RunError, RunWriter, list_runs, load_run, record_run
from argae_core.training import Trainer

PROJECT = Path(__file__).resolve().parent.parent
KARATE = TrainConfig(dataset="karate", model="argva", epochs=12, eval_interval=3, snapshot_interval=5)


pytestmark = pytest.mark.usefixtures("one_thread")


def train_and_save(root, config=KARATE, graph=None, **writer_args):
    """Train through record_run; return (trainer, writer, records seen by the consumer)."""
    trainer = Trainer(config, graph=graph)
    writer = RunWriter(config, trainer.graph, root=root, **writer_args)
    return trainer, writer, list(record_run(trainer, writer))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    trainer, writer, records = train_and_save(root, group="cmp-1", source="test")
    return root, trainer, writer, records


@pytest.fixture
def saved_copy(saved, tmp_path):
    """The saved run in a folder this test may damage."""
    root, trainer, writer, records = saved
    shutil.copytree(root / writer.run_id, tmp_path / writer.run_id)
    return tmp_path, writer.run_id


# ------------------------------------------------------------------ round trip
def test_save_list_load_round_trip(saved):
    root, trainer, writer, records = saved
    summaries, warnings = list_runs(root)
    assert warnings == []
    [summary] = summaries
    metrics = trainer.final_metrics()
    assert (summary.run_id, summary.dataset, summary.model, summary.seed) == (writer.run_id, "karate", "argva", 0)
    assert (summary.status, summary.epochs_done, summary.epochs_planned) == ("finished", 12, 12)
    assert (summary.group, summary.source) == ("cmp-1", "test")
    for key in runs.SUMMARY_METRICS:
        assert getattr(summary, key) == pytest.approx(metrics[key])

    run = load_run(writer.run_id, root)
    assert run.config == KARATE
    assert run.status == "finished" and run.warnings == []
    assert run.metrics["test_auc"] == pytest.approx(metrics["test_auc"])
    expected = pd.DataFrame([r.row() for r in records]).astype({"reg_loss": float, "val_auc": float})
    assert list(run.records.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(run.records, expected, check_dtype=False)
    assert run.graph.nodes == 34 and run.graph.classes == 4
    np.testing.assert_array_equal(run.graph.labels, trainer.graph.y.numpy())
    np.testing.assert_array_equal(run.graph.degrees, trainer.graph.degrees())


def test_snapshots_and_weights_round_trip(saved):
    root, trainer, writer, records = saved
    run = load_run(writer.run_id, root)
    with_z = [r for r in records if r.z is not None]
    assert run.snapshot_epochs == [r.epoch for r in with_z] == [1, 5, 10, 12]
    for record in with_z:
        z, d_score = run.snapshot(record.epoch)
        np.testing.assert_array_equal(z, record.z)
        np.testing.assert_array_equal(d_score, record.d_score)
    with pytest.raises(RunError, match="no snapshot at epoch 7"):
        run.snapshot(7)
    epoch, z, _ = run.final_embedding()
    assert epoch == run.metrics["best_epoch"] and z.shape == (34, KARATE.latent_size)
    saved_state = run.state_dict()
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(saved_state[name], tensor), name


def test_records_are_flushed_while_training(tmp_path):
    trainer = Trainer(KARATE.replace(epochs=6, snapshot_interval=3))
    writer = RunWriter(trainer.config, trainer.graph, root=tmp_path)
    iterator = record_run(trainer, writer)
    for _ in range(3):  # epoch 3 carries a snapshot, which forces a flush
        next(iterator)
    run = load_run(writer.run_id, tmp_path)
    assert run.status == "running"          # this process is alive
    assert list(run.records["epoch"]) == [1, 2, 3] and run.snapshot_epochs == [1, 3]
    assert run.metrics is None
    with pytest.raises(RunError, match="still running"):
        runs.delete_run(writer.run_id, tmp_path)
    list(iterator)
    assert load_run(writer.run_id, tmp_path).status == "finished"


# ------------------------------------------------------------------- statuses
def test_trainer_stop_finishes_as_stopped(tmp_path):
    trainer = Trainer(KARATE)
    writer = RunWriter(KARATE, trainer.graph, root=tmp_path)
    for record in record_run(trainer, writer):
        if record.epoch == 4:
            trainer.stop()
    run = load_run(writer.run_id, tmp_path)
    assert run.status == "stopped" and len(run.records) == 4
    assert run.metrics["epochs_run"] == 4 and "test_auc" in run.metrics


def test_closing_the_generator_finishes_as_stopped(tmp_path):
    trainer = Trainer(KARATE)
    writer = RunWriter(KARATE, trainer.graph, root=tmp_path)
    iterator = record_run(trainer, writer)
    next(iterator), next(iterator)
    iterator.close()
    run = load_run(writer.run_id, tmp_path)
    assert run.status == "stopped" and len(run.records) == 2 and run.state_dict() is not None


def test_divergence_finishes_as_diverged_and_keeps_records(tmp_path):
    config = KARATE.replace(model="gae")
    graph = load_graph(config)
    graph.x = graph.x * 1e38  # overflows the first layer: the loss is NaN
    trainer, writer, records = train_and_save(tmp_path, config, graph)
    run = load_run(writer.run_id, tmp_path)
    assert run.status == "diverged" and "diverged at epoch 1" in run.info["message"]
    assert list(run.records["diverged"]) == [True] and math.isnan(run.records["encoder_loss"][0])
    assert run.final_embedding() is None  # a NaN embedding is not worth exporting


def test_exception_finishes_as_failed_and_reraises(tmp_path):
    trainer = Trainer(KARATE)
    writer = RunWriter(KARATE, trainer.graph, root=tmp_path)
    real_step = trainer.step

    def step_then_break():
        if trainer.epoch == 2:
            raise RuntimeError("out of memory, pretend")
        return real_step()

    trainer.step = step_then_break
    with pytest.raises(RuntimeError, match="pretend"):
        list(record_run(trainer, writer))
    [summary], _ = list_runs(tmp_path)
    assert summary.status == "failed" and summary.epochs_done == 2
    assert "RuntimeError: out of memory, pretend" in summary.message


def test_writer_refuses_unknown_status_and_double_finish(tmp_path):
    graph = load_graph(KARATE)
    writer = RunWriter(KARATE, graph, root=tmp_path)
    assert list(load_run(writer.run_id, tmp_path).records.columns)[:2] == ["epoch", "encoder_loss"]
    with pytest.raises(ValueError, match="status must be one of"):
        writer.finish({}, None, "done")
    writer.finish({}, None, "stopped")
    with pytest.raises(RunError, match="already finished"):
        writer.finish({}, None, "stopped")


# ------------------------------------------------------------ interrupted run
CHILD = textwrap.dedent("""
    import torch
    torch.set_num_threads(1)
    from argae_core.config import TrainConfig
    from argae_core.runs import RunWriter, record_run
    from argae_core.training import Trainer
    config = TrainConfig(dataset="karate", model="argva", epochs=10000, snapshot_interval=1000)
    trainer = Trainer(config)
    writer = RunWriter(config, trainer.graph, source="cli")
    print(writer.run_id, flush=True)
    for record in record_run(trainer, writer):
        pass
""")


def test_killed_training_process_is_listed_incomplete_and_loads(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "ARGAE_RUNS_DIR": str(tmp_path)}
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, cwd=PROJECT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run_id = child.stdout.readline().strip()
        assert run_id, child.stderr.read()
        deadline = time.monotonic() + 120  # a bound against hanging, not a speed check
        summaries = []
        while time.monotonic() < deadline and child.poll() is None:
            summaries, _ = list_runs(tmp_path)
            if summaries and summaries[0].epochs_done >= 5:
                break
            time.sleep(0.2)
        assert child.poll() is None, f"the training process died: {child.stderr.read()}"
        assert summaries[0].status == "running" and summaries[0].epochs_done >= 5
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close(), child.stderr.close()

    summaries, warnings = list_runs(tmp_path)
    assert warnings == []
    [summary] = summaries
    assert summary.run_id == run_id and summary.status == "incomplete"
    assert summary.epochs_done >= 5 and summary.test_auc is None
    run = load_run(run_id, tmp_path)
    assert run.status == "incomplete" and run.info["source"] == "cli"
    assert len(run.records) == summary.epochs_done
    assert list(run.records["epoch"]) == list(range(1, summary.epochs_done + 1))
    assert run.snapshot_epochs[0] == 1 and run.snapshot(1)[0].shape == (34, TrainConfig().latent_size)
    assert run.metrics is None and run.state_dict() is None


def test_running_status_from_another_host_goes_stale(saved_copy):
    root, run_id = saved_copy
    status_path = root / run_id / "status.json"
    status = json.loads(status_path.read_text())
    status.update(status="running", host="another-machine", pid=1)
    status_path.write_text(json.dumps({**status, "heartbeat": runs._now()}))
    assert list_runs(root)[0][0].status == "running"
    status_path.write_text(json.dumps({**status, "heartbeat": "2020-01-01T00:00:00+00:00"}))
    assert list_runs(root)[0][0].status == "incomplete"


def test_reused_pid_does_not_keep_a_dead_run_alive(saved_copy):
    root, run_id = saved_copy
    status_path = root / run_id / "status.json"
    status = json.loads(status_path.read_text())
    # our own pid, but a different process start time: the writer was another process
    status.update(status="running", pid=os.getpid(), pid_start=runs._process_start(os.getpid()) + 1)
    status_path.write_text(json.dumps(status))
    assert list_runs(root)[0][0].status == "incomplete"


# ---------------------------------------------------- corrupt and foreign files
def test_corrupt_and_foreign_entries_are_skipped_with_warnings(saved, tmp_path):
    root, _, writer, _ = saved
    good = writer.run_id
    shutil.copytree(root / good, tmp_path / good)
    (tmp_path / "random.bin").write_bytes(os.urandom(300))
    (tmp_path / "no-status").mkdir()
    (tmp_path / "no-status" / "records.csv").write_text("epoch\n1\n")
    shutil.copytree(root / good, tmp_path / "bad-json")
    (tmp_path / "bad-json" / "status.json").write_text('{"status": "fini')
    shutil.copytree(root / good, tmp_path / "binary-json")
    (tmp_path / "binary-json" / "status.json").write_bytes(b"\xff\xfe\x00garbage")
    shutil.copytree(root / good, tmp_path / "truncated")
    records = tmp_path / "truncated" / "records.csv"
    records.write_bytes(records.read_bytes()[:-25])
    (tmp_path / "not a run!").mkdir()
    (tmp_path / ".new-abc").mkdir()  # a run being created: silently ignored

    summaries, warnings = list_runs(tmp_path)
    assert sorted(s.run_id for s in summaries) == sorted([good, "truncated"])
    text = "\n".join(warnings)
    for expected in ("random.bin: a file", "no-status: status.json is missing",
                     "bad-json: status.json is not valid JSON", "binary-json: status.json is not valid JSON",
                     "truncated/records.csv ends with a truncated line", "not a run!: not a run folder name"):
        assert expected in text
    assert ".new-abc" not in text
    assert next(s for s in summaries if s.run_id == "truncated").status == "finished"

    run = load_run("truncated", tmp_path)
    assert len(run.records) == 11 and run.records["epoch"].iloc[-1] == 11
    assert any("truncated line" in w for w in run.warnings)
    with pytest.raises(RunError, match="bad-json cannot be loaded: status.json is not valid JSON"):
        load_run("bad-json", tmp_path)
    with pytest.raises(RunError, match="no run 'no-status'"):
        load_run("no-status", tmp_path)


def test_a_cut_off_last_row_is_dropped_not_misread(tmp_path):
    path = tmp_path / "records.csv"
    path.write_text("epoch,encoder_loss,val_auc\n1,0.5,\n2,0.25,0.9\n3,0.12")  # 0.12... cut short
    records, warnings = runs.read_records(path)
    assert list(records["epoch"]) == [1, 2] and math.isnan(records["val_auc"][0])
    assert warnings == ["records.csv ends with a truncated line; ignored that line"]
    path.write_text("epoch,encoder_loss\n1,0.5\n2,0.25,extra\n")
    records, warnings = runs.read_records(path)
    assert list(records["epoch"]) == [1] and "1 malformed rows skipped" in warnings[0]


def test_damaged_snapshot_and_config_raise_run_errors(saved_copy):
    root, run_id = saved_copy
    (root / run_id / "snapshots" / "epoch_00005.npz").write_bytes(b"PK\x03\x04 not really")
    run = load_run(run_id, root)
    with pytest.raises(RunError, match="epoch_00005.npz is not a readable npz"):
        run.snapshot(5)
    (root / run_id / "config.json").write_text('{"epochs": "many"}')
    with pytest.raises(RunError, match="unreadable config.json"):
        load_run(run_id, root)


def test_missing_runs_dir_lists_nothing(tmp_path):
    assert list_runs(tmp_path / "nowhere") == ([], [])


# ------------------------------------------------------------- names, deletion
@pytest.mark.parametrize("bad", ["..", "../etc", "a/b", "/tmp", "", ".hidden", "x" * 200, None, 5])
def test_run_ids_with_paths_are_refused(tmp_path, bad):
    for action in (runs.load_run, runs.delete_run, runs.export_zip, runs.export_records_csv):
        with pytest.raises(RunError, match="is not a run id"):
            action(bad, tmp_path)


def test_delete_run(saved_copy):
    root, run_id = saved_copy
    runs.delete_run(run_id, root)
    assert list_runs(root) == ([], []) and list(root.iterdir()) == []
    with pytest.raises(RunError, match="no run"):
        runs.delete_run(run_id, root)


def test_runs_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert runs.runs_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("ARGAE_RUNS_DIR")
    assert runs.runs_dir() == PROJECT / "runs"


# -------------------------------------------------------------------- exports
def test_exports_parse_back(saved):
    root, trainer, writer, records = saved
    run_id = writer.run_id
    names = zipfile.ZipFile(io.BytesIO(runs.export_zip(run_id, root))).namelist()
    for name in ("status.json", "config.json", "records.csv", "metrics.json", "model.pt",
                 "graph.npz", "embedding.npz", "snapshots/epoch_00010.npz"):
        assert f"{run_id}/{name}" in names

    table = pd.read_csv(io.BytesIO(runs.export_records_csv(run_id, root)))
    assert list(table["epoch"]) == list(range(1, 13))
    assert TrainConfig.from_json(runs.export_config_json(run_id, root).decode()) == KARATE

    frame = pd.read_csv(io.BytesIO(runs.export_embeddings(run_id, root, epoch=10, fmt="csv")))
    assert list(frame.columns[:3]) == ["node_id", "label", "degree"]
    assert list(frame.columns[3:]) == [f"z{i}" for i in range(KARATE.latent_size)]
    assert list(frame["node_id"]) == list(range(34))
    np.testing.assert_array_equal(frame["label"], trainer.graph.y.numpy())
    np.testing.assert_allclose(frame.iloc[:, 3:].to_numpy(), records[9].z, rtol=1e-6)

    with np.load(io.BytesIO(runs.export_embeddings(run_id, root)), allow_pickle=False) as npz:
        assert int(npz["epoch"]) == load_run(run_id, root).metrics["best_epoch"]
        assert npz["node_id"].dtype.kind == "U" and npz["z"].shape == (34, KARATE.latent_size)
        np.testing.assert_array_equal(npz["label"], trainer.graph.y.numpy())
    with pytest.raises(RunError, match="format must be npz or csv"):
        runs.export_embeddings(run_id, root, fmt="pickle")


def test_embedding_csv_uses_node_ids_and_class_names(tmp_path):
    graph = load_graph(KARATE)
    graph.node_ids = [f"member-{i}" for i in range(34)]
    graph.class_names = ["red", "green", "blue", "gold"]
    trainer, writer, _ = train_and_save(tmp_path, KARATE.replace(epochs=2), graph)
    frame = pd.read_csv(io.BytesIO(runs.export_embeddings(writer.run_id, tmp_path, fmt="csv")))
    assert frame["node_id"][5] == "member-5"
    assert frame["label"][5] == graph.class_names[int(graph.y[5])]


def test_leftovers_of_killed_processes_are_swept_after_an_hour_and_nothing_else(tmp_path):
    old = time.time() - 2 * runs.LEFTOVER_SECONDS
    (tmp_path / ".new-abandoned" / "snapshots").mkdir(parents=True)
    (tmp_path / ".deleting-run-x-ab12").mkdir()
    (tmp_path / ".tmp-half-written").write_bytes(b"{")
    (tmp_path / ".gitkeep").write_bytes(b"")
    for name in (".new-abandoned", ".deleting-run-x-ab12", ".tmp-half-written", ".gitkeep"):
        os.utime(tmp_path / name, (old, old))
    (tmp_path / ".new-being-created").mkdir()   # a run starting right now
    listed, warnings = runs.list_runs(tmp_path)
    assert listed == [] and warnings == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitkeep", ".new-being-created"]


# ------------------------------------------------------- issue 14: damaged files, exports
def edit_json(path: Path, **changes):
    values = json.loads(path.read_text())
    values.update(changes)
    path.write_text(json.dumps(values))


@pytest.mark.parametrize("value", ["abc", [1, 2], "1e400", -3, 10**400],
                         ids=["text", "list", "1e400", "negative", "400 digits"])
def test_a_wrong_type_in_status_json_skips_that_run_with_a_warning(saved, tmp_path, value):
    root, _, writer, _ = saved
    shutil.copytree(root / writer.run_id, tmp_path / writer.run_id)
    shutil.copytree(root / writer.run_id, tmp_path / "damaged")
    status = tmp_path / "damaged" / "status.json"
    # 1e400 has to be written as a literal: json.dumps would write "Infinity"
    status.write_text(json.dumps({**json.loads(status.read_text()), "epochs_done": 0})
                      .replace('"epochs_done": 0', '"epochs_done": 1e400' if value == "1e400"
                               else f'"epochs_done": {json.dumps(value)}'))
    summaries, warnings = list_runs(tmp_path)
    assert [s.run_id for s in summaries] == [writer.run_id]
    assert any(w.startswith("damaged: ") and "epochs_done" in w for w in warnings), warnings
    with pytest.raises(RunError, match="epochs_done"):
        load_run("damaged", tmp_path)


@pytest.mark.parametrize("file, changes, words", [
    ("config.json", {"epochs": 10**400}, "epochs"),
    ("config.json", {"model": "gan"}, "model"),
    ("config.json", {"epochs": -5}, "epochs"),
    ("graph.json", {"nodes": "many"}, "nodes"),
    ("graph.json", {"edges": 1.5}, "edges"),
    ("graph.json", {"node_ids": ["a", "b"]}, "node ids"),
    ("graph.json", {"class_names": [1, 2]}, "class names"),
    ("metrics.json", {"test_auc": "high"}, "test_auc"),
])
def test_load_run_validates_what_it_reads_and_raises_only_run_errors(saved_copy, file, changes, words):
    root, run_id = saved_copy
    edit_json(root / run_id / file, **changes)
    with pytest.raises(RunError, match=words):
        load_run(run_id, root)


def test_a_huge_number_in_config_json_is_a_run_error(saved_copy):
    root, run_id = saved_copy
    (root / run_id / "config.json").write_text('{"epochs": 1' + "0" * 5000 + "}")
    with pytest.raises(RunError, match="config.json"):
        load_run(run_id, root)


def test_damaged_arrays_are_run_errors(saved_copy):
    root, run_id = saved_copy
    folder = root / run_id
    np.savez(folder / "embedding.npz", z=np.array([["a", "b"]]), epoch=np.int64(3))
    with pytest.raises(RunError, match="2-D array z of numbers"):
        runs.export_embeddings(run_id, root, fmt="csv")
    np.savez(folder / "graph.npz", degree=np.array([-1, 2]))
    with pytest.raises(RunError, match="degree"):
        load_run(run_id, root)


def test_the_zip_holds_only_the_runs_regular_files_not_what_links_point_to(saved_copy, tmp_path):
    root, run_id = saved_copy
    secret = tmp_path / "secret.txt"
    secret.write_text("server secret")
    os.symlink(secret, root / run_id / "passwd")
    os.symlink(tmp_path, root / run_id / "linked-folder")
    os.mkfifo(root / run_id / "a-fifo")
    archive = zipfile.ZipFile(io.BytesIO(runs.export_zip(run_id, root)))
    names = archive.namelist()
    assert f"{run_id}/config.json" in names
    assert not any(n.endswith(("passwd", "a-fifo")) or "linked-folder" in n for n in names), names
    assert all(b"server secret" not in archive.read(n) for n in names)


def test_csv_exports_write_formula_like_text_as_text_and_keep_numbers(tmp_path):
    graph = load_graph(KARATE)
    graph.node_ids = ["=HYPERLINK(\"x\")", "+1+2", "-3", "@SUM(A1)", "\tcmd", "\rcmd", "-2.5e3"] + [
        f"m{i}" for i in range(27)]
    graph.class_names = ["=1+1", "-x", "ok", "+"]
    _, writer, _ = train_and_save(tmp_path, KARATE.replace(epochs=2), graph)
    text = runs.export_embeddings(writer.run_id, tmp_path, fmt="csv").decode()
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))  # a quoted CR stays in its cell
    assert [row[0] for row in rows[:7]] == ["'=HYPERLINK(\"x\")", "'+1+2", "-3", "'@SUM(A1)", "'\tcmd",
                                             "'\rcmd", "-2.5e3"]
    assert {row[1] for row in rows} <= {"'=1+1", "'-x", "ok", "'+"}
    z = np.array([row[3:] for row in rows], dtype=float)  # every z cell still a plain number
    assert (z < 0).any()


def test_a_records_csv_header_that_is_a_formula_is_exported_as_text(saved_copy):
    root, run_id = saved_copy
    path = root / run_id / "records.csv"
    path.write_text(path.read_text().replace("encoder_loss", "=cmd|' /C calc'!A0", 1))
    header = runs.export_records_csv(run_id, root).decode().splitlines()[0]
    assert "'=cmd" in header and ",=cmd" not in header


def test_an_uploads_runs_are_named_after_the_file(tmp_path):
    graph = load_graph(KARATE)
    graph.name = "my_graph.csv"
    config = KARATE.replace(dataset="upload:da59d16eb690e6c3", epochs=1)
    writer = RunWriter(config, graph, root=tmp_path)
    summary = list_runs(tmp_path)[0][0]
    assert summary.dataset == "upload:da59d16eb690e6c3"  # still the key
    assert summary.dataset_label == "my_graph.csv"
    assert runs.dataset_label("cora", "Cora") == "cora"
    assert runs.dataset_label(load_run(writer.run_id, tmp_path).config.dataset, graph.name) == "my_graph.csv"
