"""The engine as a library: `pip install .` gives the `argae` command, an installed copy keeps
its runs in the working directory (never in site-packages), and `argae export-tensorboard`
writes event files TensorBoard reads back as the run's records and snapshots."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from argae_core import cli, storage, tensorboard_export

REPO_DIR = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def karate_run() -> tuple[str, Path]:
    """A short saved ARGVA run on KarateClub with three snapshots."""
    result = subprocess.run([sys.executable, "-m", "argae_core", "train", "--model", "argva", "--epochs", "12",
                             "--snapshot-interval", "5", "--seed", "3", "--json", "--threads", "1"],
                            capture_output=True, text=True, cwd=REPO_DIR, timeout=300)
    assert result.returncode == 0, result.stderr
    run_dir = Path(json.loads(result.stdout)["run_dir"])
    return run_dir.name, run_dir


def read_events(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    return events


def test_export_tensorboard_reads_back_as_the_runs_records_and_snapshots(karate_run, tmp_path, capsys):
    run_id, run_dir = karate_run
    out = tmp_path / "tb"
    code, printed, err = run_cli(capsys, "export-tensorboard", run_id, "--out", str(out))
    assert code == 0, err
    snapshots = sorted(int(p.stem.split("_")[1]) for p in (run_dir / "snapshots").glob("epoch_*.npz"))
    assert len(snapshots) >= 3 and f"{len(snapshots)} latent snapshots" in printed
    assert "tensorboard --logdir" in printed

    records = pd.read_csv(run_dir / "records.csv")
    events = read_events(out)
    for column, tag in tensorboard_export.SCALAR_TAGS.items():
        points, kept = events.Scalars(tag), records[records[column].notna()]  # AUC: at some epochs
        assert len(kept) >= 3
        assert [p.step for p in points] == kept["epoch"].tolist(), tag
        np.testing.assert_allclose([p.value for p in points], kept[column], rtol=1e-6)
    assert {"run/config/text_summary", "run/final metrics/text_summary"} <= set(events.Tags()["tensors"])

    projector = (out / "projector_config.pbtxt").read_text()
    for epoch in snapshots:
        folder = out / f"{epoch:05d}" / tensorboard_export.EMBEDDING_TAG
        assert str(folder.relative_to(out)) in projector
        tensors = np.loadtxt(folder / "tensors.tsv", delimiter="\t")
        z = np.load(run_dir / "snapshots" / f"epoch_{epoch:05d}.npz")["z"]
        assert tensors.shape == (2 * len(z), z.shape[1])  # Z, then as many prior samples
        np.testing.assert_allclose(tensors[: len(z)], z, rtol=1e-5, atol=1e-6)
        metadata = (folder / "metadata.tsv").read_text().splitlines()
        assert metadata[0].split("\t") == tensorboard_export.METADATA_HEADER
        kinds = [line.split("\t")[0] for line in metadata[1:]]
        assert kinds == ["z"] * len(z) + ["prior"] * len(z)
        classes = {line.split("\t")[2] for line in metadata[1 : len(z) + 1]}
        assert len(classes) >= 2  # KarateClub's two clubs label the points


def test_export_refuses_a_full_folder_and_a_missing_run_in_one_line(karate_run, tmp_path, capsys):
    run_id, _ = karate_run
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run_cli(capsys, "export-tensorboard", run_id, "--out", str(out))
    assert code == cli.EXIT_CONFIG and "not empty" in err and "--replace" in err
    assert (out / "keep.txt").read_text() == "mine"
    code, _, err = run_cli(capsys, "export-tensorboard", run_id, "--out", str(out), "--replace")
    assert code == 0 and not (out / "keep.txt").exists()
    code, _, err = run_cli(capsys, "export-tensorboard", "no-such-run", "--out", str(tmp_path / "x"))
    assert code == cli.EXIT_CONFIG and "no-such-run" in err and len(err.strip().splitlines()) == 1


def test_import_argae_core_stays_light_and_trainer_comes_on_first_use():
    probe = ("import sys, argae_core; light = 'torch' not in sys.modules; "
             "from argae_core import Trainer; print(light, Trainer.__module__)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_DIR,
                            timeout=300)
    assert result.stdout.split() == ["True", "argae_core.training"], result.stderr


def test_a_source_checkout_keeps_its_own_folders():
    assert storage.project_dir() == REPO_DIR


def test_pip_install_gives_the_argae_command_and_runs_land_in_the_working_directory(tmp_path):
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO_DIR)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("argae_lab-*.whl")
    installed = subprocess.run(pip + ["install", "--no-deps", "--target", str(target), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("ARGAE_RUNS_DIR", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)  # the installed copy; its dependencies come from this venv
    argae = [str(target / "bin" / "argae")]
    where = subprocess.run([sys.executable, "-c", "import argae_core; print(argae_core.__file__)"],
                           capture_output=True, text=True, cwd=work, env=env, timeout=120)
    assert Path(where.stdout.strip()).is_relative_to(target)

    result = subprocess.run(argae + ["train", "--epochs", "3", "--seed", "0", "--json", "--threads", "1"],
                            capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    run_dir = Path(json.loads(result.stdout)["run_dir"])
    assert run_dir.parent == work / "runs" and (run_dir / "metrics.json").exists()
    assert not (target / "runs").exists()

    usage = subprocess.run(argae + ["train", "--epochs", "0"], capture_output=True, text=True, cwd=work,
                           env=env, timeout=120)
    assert usage.returncode == cli.EXIT_CONFIG and usage.stderr.startswith("argae: ")
