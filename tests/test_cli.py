"""`python -m argae_core train / reproduce`: output shapes, saved runs, exit codes, and
bad input as one line on stderr without a traceback."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from torch_geometric.datasets import Planetoid

from argae_core import cli

REPO_DIR = Path(__file__).resolve().parent.parent


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clean_line(err: str):
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No Planetoid raw files and a download that fails at once."""
    monkeypatch.setenv("ARGAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ARGAE_CACHE_DIR", str(tmp_path / "cache"))

    def no_network(self):
        raise OSError("Network is unreachable")
    monkeypatch.setattr(Planetoid, "download", no_network)


# -------------------------------------------------------------------- train
def test_train_json_is_one_object_with_metrics_config_and_saved_run(capsys):
    code, out, _ = run_cli(capsys, "train", "--model", "argva", "--epochs", "6", "--seed", "1",
                           "--latent-size", "8", "--json")
    assert code == 0
    result = json.loads(out)  # the whole of stdout is one JSON document
    for key in cli.REQUIRED_JSON_KEYS:
        assert key in result, key
    assert 0.0 <= result["test_auc"] <= 1.0 and 0.0 <= result["acc"] <= 1.0
    assert result["epochs_run"] == 6 and result["diverged"] is False
    assert result["config"]["latent_size"] == 8 and result["config"]["seed"] == 1
    run_dir = Path(result["run_dir"])
    assert run_dir.parent == Path(os.environ["ARGAE_RUNS_DIR"])
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["test_auc"] == pytest.approx(result["test_auc"])


def test_train_table_and_no_save(capsys):
    code, out, _ = run_cli(capsys, "train", "--model", "gae", "--epochs", "4", "--no-save")
    assert code == 0
    assert out.startswith("GAE on KarateClub")
    for label in ("test AUC", "test AP", "clustering ACC", "MMD to N(0, I)", "epochs run"):
        assert label in out
    assert "run saved" not in out


def test_train_table_says_when_the_run_is_degenerate(capsys):
    code, out, _ = run_cli(capsys, "train", "--epochs", "100", "--encoder-lr", "1", "--discriminator-lr", "1",
                           "--no-save")
    assert code == 0
    assert "(AUC 0.5)" in out and "lower it" in out
    code, out, _ = run_cli(capsys, "train", "--epochs", "20", "--no-save")
    assert "(AUC 0.5)" not in out


def test_train_prints_where_the_run_was_saved(capsys):
    code, out, _ = run_cli(capsys, "train", "--model", "vgae", "--epochs", "3")
    assert code == 0
    saved = Path(out.strip().splitlines()[-1].removeprefix("run saved in "))
    assert (saved / "config.json").is_file()


def test_train_flags_with_empty_value_mean_default(capsys):
    code, out, _ = run_cli(capsys, "train", "--model", "argva", "--epochs", "2", "--kl-weight", "",
                           "--json", "--no-save")
    assert code == 0 and json.loads(out)["config"]["kl_weight"] is None


@pytest.mark.parametrize("argv, words", [
    (["--dataset", "imagenet"], "--dataset: unknown dataset 'imagenet'"),
    (["--latent-size", "0", "--encoder-lr", "-1"], "--latent-size: must be at least 1"),
    (["--model", "gae", "--reg-weight", "2"], "--reg-weight: GAE has no discriminator"),
    (["--epochs", "many"], "--epochs: cannot read 'many'"),
    (["--model", "transformer"], "--model: unknown value"),
])
def test_train_bad_settings_exit_2_with_one_line(capsys, argv, words):
    code, out, err = run_cli(capsys, "train", *argv)
    assert code == 2 and out == ""
    assert_one_clean_line(err)
    assert words in err


def test_unknown_flag_is_a_one_line_usage_error(capsys):
    code, out, err = run_cli(capsys, "train", "--colour", "red")
    assert code == 2
    assert_one_clean_line(err)
    assert "--colour" in err


def test_train_offline_dataset_exits_3_naming_it(capsys, offline):
    code, out, err = run_cli(capsys, "train", "--dataset", "pubmed", "--json")
    assert code == 3 and out == ""
    assert_one_clean_line(err)
    assert "PubMed" in err and "ind.pubmed.graph" in err


# ---------------------------------------------------------------- reproduce
def test_reproduce_skips_unloadable_datasets_and_marks_cells(capsys, offline, monkeypatch):
    # pretend the paper reported KarateClub numbers: one we cannot miss, one we cannot reach
    monkeypatch.setitem(cli.PAPER_LINK, "karate", {"gae": (0.0, 100.0)})
    code, out, err = run_cli(capsys, "reproduce", "--seeds", "2", "--epochs", "3",
                             "--datasets", "karate,citeseer", "--models", "gae,arga")
    assert code == 0
    assert "skipping citeseer" in err and "CiteSeer" in err
    _, yes, no = cli._symbols()
    gae_row = next(line for line in out.splitlines() if line.startswith("GAE ") and "paper 0.0" in line)
    assert gae_row.rstrip().endswith(no) and f"(paper 0.0) {yes}" in gae_row
    assert "ARGA" in out and "(paper -)" in out
    assert "KarateClub: clustering" in out
    assert "1 of 2 cells with a paper number meet it." in out


def test_reproduce_json_has_every_seed(capsys):
    code, out, _ = run_cli(capsys, "reproduce", "--seeds", "2", "--epochs", "2",
                           "--datasets", "karate", "--models", "vgae,argva", "--json",
                           "--encoder-lr", "0.01", "--reg-weight", "0.5")
    assert code == 0
    result = json.loads(out)
    assert result["seeds"] == [0, 1] and result["skipped"] == []
    assert result["settings"]["encoder_lr"] == 0.01
    for model in ("vgae", "argva"):
        runs = result["results"]["karate"][model]
        assert len(runs) == 2 and all(r["epochs_run"] == 2 for r in runs)
    # seeds differ, so their runs differ
    assert runs[0]["test_auc"] != runs[1]["test_auc"] or runs[0]["mmd"] != runs[1]["mmd"]


def test_reproduce_with_nothing_loadable_exits_3(capsys, offline):
    code, out, err = run_cli(capsys, "reproduce", "--seeds", "1", "--datasets", "citeseer,pubmed")
    assert code == 3 and out == ""
    assert "skipping citeseer" in err and "skipping pubmed" in err
    assert "no dataset could be loaded" in err


@pytest.mark.parametrize("argv, words", [
    (["--datasets", "cora,mnist"], "--datasets: unknown mnist"),
    (["--models", "gan"], "--models: unknown gan"),
    (["--seeds", "0"], "--seeds"),
    (["--latent-size", "0"], "--latent-size"),
    (["--threads", "0"], "--threads"),
])
def test_reproduce_bad_input_exits_2(capsys, argv, words):
    code, out, err = run_cli(capsys, "reproduce", *argv)
    assert code == 2 and out == ""
    assert_one_clean_line(err)
    assert words in err


def test_mean_std_ignores_diverged_runs():
    mean, std, n = cli.mean_std([0.5, None, 0.7, float("nan")])
    assert (round(mean, 6), round(std, 6), n) == (0.6, round(0.02 ** 0.5, 6), 2)
    assert cli.mean_std([None])[2] == 0


# ---------------------------------------------------------- the real module
def python_m(*argv) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_DIR)}
    return subprocess.run([sys.executable, "-m", "argae_core", *argv], capture_output=True,
                          text=True, env=env, cwd=REPO_DIR, timeout=300)


def test_python_m_argae_core_exits_with_mains_code_and_one_line():
    bad = python_m("train", "--dataset", "nowhere")
    assert bad.returncode == 2
    assert_one_clean_line(bad.stderr)


def test_the_metrics_table_says_when_clustering_was_capped():
    from argae_core.config import TrainConfig
    from argae_core.data import load_graph
    note = "Clustering scored with 100 clusters for 10,000 classes, one KMeans start, to bound its time."
    text = cli.metrics_table({"test_auc": 0.9, "acc": 0.1, "clustering_capped": note}, TrainConfig(),
                         load_graph(TrainConfig()))
    assert note in text
