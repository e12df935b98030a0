"""The app and its pages under Streamlit's AppTest (no browser): render, train, stop, refuse."""
from __future__ import annotations

import pytest

from apptest_helpers import APP, AppTest, button, open_page, run_until, save_run

from argae_core.config import TrainConfig

PAGES = ["pages/home.py", "pages/train.py"]


def epochs_shown(at: AppTest) -> int:
    cards = {m.label: m.value for m in at.metric}
    return int(cards.get("Epoch", 0))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_defaults(page):
    at = open_page(page)
    assert not at.error, [e.value for e in at.error]


def test_start_on_karate_argva_draws_points_and_final_table():
    at = open_page("pages/train.py", {"epochs": "40"})
    assert at.selectbox(key="w_dataset").value == "karate"
    assert at.selectbox(key="w_model").value == "argva"
    button(at, "Start").click()
    run_until(at, lambda a: any(s.value == "Test metrics" for s in a.subheader))
    assert epochs_shown(at) == 40
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # D loss, D verdict, encoder loss, validation
    table = at.dataframe[0].value
    assert set(["AUC", "AP", "ACC", "NMI", "ARI", "MMD to prior"]) <= set(table.columns)
    assert 0.0 <= float(table["AUC"].iloc[0]) <= 1.0


def test_stop_ends_a_run_early():
    at = open_page("pages/train.py", {"epochs": "5000"})
    button(at, "Start").click()
    run_until(at, lambda a: epochs_shown(a) >= 3)
    button(at, "Stop").click()
    run_until(at, lambda a: not button(a, "Start").disabled)
    assert 3 <= epochs_shown(at) < 5000
    assert any("Stopped" in w.value for w in at.warning) or at.dataframe  # stopped runs still evaluate


def test_gae_says_there_is_no_discriminator():
    at = open_page("pages/train.py", {"model": "gae", "epochs": "10"})
    button(at, "Start").click()
    run_until(at, lambda a: any(s.value == "Test metrics" for s in a.subheader))
    assert any("no discriminator" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 2


def test_invalid_input_shows_an_error_and_starts_nothing():
    at = open_page("pages/train.py", {"dataset": "planted"})
    at.number_input(key="w_planted_p_in").set_value(0.0)
    at.number_input(key="w_planted_p_out").set_value(0.0)
    at.run()
    assert any("no edges" in e.value for e in at.error)
    assert button(at, "Start").disabled
    assert "train_job" not in at.session_state


def test_bad_url_parameters_open_defaults_with_a_message():
    at = open_page("pages/train.py", {"latent_size": "0", "model": "argva"})
    assert any("could not be used" in w.value for w in at.warning)
    assert at.number_input(key="w_latent_size").value == TrainConfig().latent_size


def test_offline_dataset_shows_the_engine_message(monkeypatch, tmp_path):
    monkeypatch.setenv("ARGAE_DATA_DIR", str(tmp_path))
    from argae_core import data

    def offline(*args, **kwargs):
        raise OSError("network unreachable")
    monkeypatch.setattr("torch_geometric.datasets.Planetoid.__init__", offline)
    at = open_page("pages/train.py", {"dataset": "pubmed"})
    assert any("PubMed could not be loaded" in e.value for e in at.error)
    assert button(at, "Start").disabled
    assert data.data_dir() == tmp_path


def test_a_saved_run_opens_in_the_train_page():
    run_id = save_run(TrainConfig(epochs=12, eval_interval=3))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    at.session_state["view_run"] = run_id
    at.run()
    assert not at.exception
    assert any(run_id in i.value for i in at.info)
    assert epochs_shown(at) == 12
    assert len(at.get("plotly_chart")) == 4
    assert at.dataframe  # its final metrics
    button(at, "Back to live").click()
    at.run()
    assert "view_run" not in at.session_state


def test_step_mode_makes_one_update_at_a_time():
    at = open_page("pages/train.py", {"epochs": "5000", "discriminator_steps": "3"})
    button(at, "Start").click()
    run_until(at, lambda a: epochs_shown(a) >= 1)
    for _ in range(2):
        next(b for b in at.button if b.label == "One update").click()
        at.run()
    run_until(at, lambda a: any("Next: **discriminator update 3 of 3**" in c.value for c in a.caption)
              or any("Next: **encoder update**" in c.value for c in a.caption))
    table = next(d.value for d in at.dataframe)
    assert list(table["phase"])[:2] == ["discriminator", "discriminator"]
    assert [int(u) for u in table["update"][:2]] in ([2, 1], [3, 2])
    assert any(c for c in at.get("plotly_chart"))  # the latent picture after the update
    button(at, "Stop").click()
    run_until(at, lambda a: not button(a, "Start").disabled)
