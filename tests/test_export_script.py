"""Take it home: a saved run exported as one script (torch + torch_geometric only) retrains
that run and prints its test AUC / AP.

Tolerance: none beyond float printing. The script is pasted from the engine's own source
and carries the run's split, knobs and steering, so on this machine at one thread it repeats
the run's epochs float for float; the test compares every epoch's encoder loss (1e-9) and
the test scores (1e-9). KarateClub's test set is only 7 edges and 7 non-edges, so its AUC
moves in steps of 1/49 and could match by luck: the losses are what catch a mismatch."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from argae_core import cli, runs
from argae_core.config import TrainConfig
from argae_core.export_script import ExportError, export_script, script_or_reason, size_problem
from argae_core.training import Trainer

EPOCHS = 24
ALLOWED_IMPORTS = set(sys.stdlib_module_names) | {"torch", "torch_geometric", "numpy"}


def imported_packages(script: bytes) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(script)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("." if node.level else node.module.split(".")[0])
    return names


def run_script(path, cwd) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGAE_", "PYTHON"))}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, "-I", str(path), "--json", "--root", str(cwd / "data")], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def saved_steered_run(config: TrainConfig) -> runs.Run:
    trainer = Trainer(config)
    writer = runs.RunWriter(config, trainer.graph, source="test")
    for record in runs.record_run(trainer, writer):
        if record.epoch == 8:
            trainer.steer({"reg_weight": 1.0, "discriminator_steps": 3})
        if record.epoch == 15:
            trainer.steer({"adversary": "off", "encoder_lr": 0.01})
    return runs.load_run(writer.run_id)


@pytest.mark.parametrize("model", ["argva", "gae"])
def test_the_exported_script_reproduces_its_run(tmp_path, model):
    import torch
    torch.set_num_threads(1)
    config = TrainConfig(epochs=EPOCHS, model=model, discriminator_steps=2 if model == "argva" else 1)
    run = saved_steered_run(config) if model == "argva" else runs.load_run(_plain_run(config))
    script = export_script(run.run_id)
    assert imported_packages(script) <= ALLOWED_IMPORTS, imported_packages(script) - ALLOWED_IMPORTS
    path = tmp_path / "retrain.py"
    path.write_bytes(script)
    out = run_script(path, tmp_path)
    assert out["encoder_loss"] == pytest.approx(run.records["encoder_loss"].tolist(), rel=1e-9, abs=1e-9)
    assert out["test_auc"] == pytest.approx(run.metrics["test_auc"], abs=1e-9)
    assert out["test_ap"] == pytest.approx(run.metrics["test_ap"], abs=1e-9)
    assert out["best_epoch"] == run.metrics["best_epoch"]
    assert out["steering"] == run.steering and (model == "gae") == (not run.steering)


def _plain_run(config: TrainConfig) -> str:
    trainer = Trainer(config)
    writer = runs.RunWriter(config, trainer.graph, source="test")
    list(runs.record_run(trainer, writer))
    return writer.run_id


def test_a_planted_graph_travels_in_the_script_and_a_big_one_is_refused(tmp_path, monkeypatch):
    config = TrainConfig(dataset="planted", planted_nodes=120, epochs=3, features="degree")
    run_id = _plain_run(config)
    path = tmp_path / "planted.py"
    path.write_bytes(export_script(run_id))
    out = run_script(path, tmp_path)
    assert out["test_auc"] == pytest.approx(runs.load_run(run_id).metrics["test_auc"], abs=1e-9)
    assert size_problem("pubmed", 19_717, 44_324, 500) is None   # the biggest built-in travels
    monkeypatch.setattr("argae_core.export_script.EMBED_LIMIT_BYTES", 1000)
    with pytest.raises(ExportError, match="over the 0 MB limit; download the run's files"):
        export_script(run_id)
    refusal = script_or_reason(run_id)     # what the Runs page's button hands out then
    done = subprocess.run([sys.executable, "-c", refusal.decode()], capture_output=True, text=True)
    assert done.returncode == 1 and "over the 0 MB limit" in done.stderr and "Traceback" not in done.stderr



def test_a_sampled_run_travels_too(tmp_path):
    """The sampler is pasted with the trainer: a sampled run's script repeats its epochs."""
    import torch
    torch.set_num_threads(1)
    config = TrainConfig(dataset="planted", planted_nodes=400, epochs=3, sampling="sampled", batch_nodes=64,
                         eval_interval=1)
    run = runs.load_run(_plain_run(config))
    path = tmp_path / "sampled.py"
    path.write_bytes(export_script(run.run_id))
    out = run_script(path, tmp_path)
    assert out["encoder_loss"] == pytest.approx(run.records["encoder_loss"].tolist(), rel=1e-9, abs=1e-9)
    assert out["test_auc"] == pytest.approx(run.metrics["test_auc"], abs=1e-9)


def test_a_script_whose_sampler_is_missing_here_says_its_numbers_will_differ(tmp_path):
    """A run trained by PyG's loader (pyg-lib or torch-sparse there) retrained where neither
    is installed falls back to the subgraph sampler: the script says so, not only the numbers."""
    from argae_core.export_script import build_script
    from argae_core.sampling import loader_backend, sampler_label
    config = TrainConfig(dataset="planted", planted_nodes=400, epochs=2, sampling="sampled", batch_nodes=64)
    run = runs.load_run(_plain_run(config))
    elsewhere = "PyG LinkNeighborLoader (torch-sparse)" if loader_backend() is None else sampler_label("subgraph", None)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGAE_", "PYTHON"))}
    for sampler, noted in ((run.metrics["sampler"], False), (elsewhere, True)):
        path = tmp_path / "script.py"
        path.write_text(build_script(run.config, run.steering, {**run.metrics, "sampler": sampler}, run.run_id))
        done = subprocess.run([sys.executable, "-I", str(path), "--json"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert ("note: the run was trained sampled by " + sampler in done.stderr) is noted, done.stderr[-500:]


def test_the_cli_writes_the_script_or_says_why_not(tmp_path, capsys):
    run_id = _plain_run(TrainConfig(epochs=2))
    target = tmp_path / "out.py"
    assert cli.main(["export-script", run_id, "-o", str(target)]) == 0
    assert "retrains run" in capsys.readouterr().err
    compile(target.read_text(), str(target), "exec")
    assert cli.main(["export-script", "no-such-run"]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert "no run 'no-such-run'" in err and len(err.strip().splitlines()) == 1


def test_the_script_computes_dense_products_with_the_libraries_its_run_used(tmp_path, monkeypatch):
    """A run big enough for oneDNN-or-MKL choices (argae_core/dense.py) records them and its
    script pins them: here the run is made to use the opposite of what this machine's timing
    picks, which the script, timing afresh, would not choose on its own."""
    import torch
    from argae_core import dense
    if dense._LINEAR_POINTWISE is None:
        pytest.skip("this torch build has no oneDNN")
    torch.set_num_threads(1)
    monkeypatch.setattr(dense, "CHOICES", {})
    config = TrainConfig(dataset="planted", planted_nodes=dense.MIN_ROWS + 76, features="degree", epochs=6)
    list(Trainer(config.replace(epochs=1)))  # the timings choose, for every product of this run
    for key, on in dense.CHOICES.items():
        dense.CHOICES[key] = not on
    opposite = dense.in_use()
    run = runs.load_run(_plain_run(config))
    assert run.metrics["dense_products"] == opposite
    path = tmp_path / "pinned.py"
    path.write_bytes(export_script(run.run_id))
    out = run_script(path, tmp_path)
    assert out["encoder_loss"] == pytest.approx(run.records["encoder_loss"].tolist(), rel=1e-9, abs=1e-9)
