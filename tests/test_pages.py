"""The app and its pages under Streamlit's AppTest (no browser): render, train, stop, refuse."""
from __future__ import annotations

import json

import pytest

from apptest_helpers import APP, AppTest, button, open_page, run_until, save_run

from argae_core import runs
from argae_core.config import TrainConfig
from pages.common import plural

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
    run_until(at, lambda a: any(h.value == "Test metrics" for h in a.header))
    assert epochs_shown(at) == 40
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # D loss, D verdict, encoder loss, validation
    table = at.dataframe[0].value
    assert set(["AUC", "AP", "ACC", "NMI", "ARI", "MMD to prior"]) <= set(table.columns)
    assert 0.0 <= float(table["AUC"].iloc[0]) <= 1.0
    # its headers are short (all ten columns fit the main column at 1024 px); a long name
    # lives on as the header's tooltip
    shown = json.loads(at.dataframe[0].proto.columns)
    headers = {column: shown.get(column, {}).get("label", column) for column in table.columns}
    assert max(map(len, headers.values())) <= 6, headers
    assert all(shown[column].get("help") for column, header in headers.items() if header != column)


def test_stop_ends_a_run_early():
    at = open_page("pages/train.py", {"epochs": "5000"})
    button(at, "Start").click()
    run_until(at, lambda a: epochs_shown(a) >= 3)
    button(at, "Stop").click()
    run_until(at, lambda a: not button(a, "Start").disabled)
    stopped_at = epochs_shown(at)
    assert 3 <= stopped_at < 5000
    run_until(at, lambda a: a.dataframe)  # a stopped run is still evaluated...
    warnings = [w.value for w in at.warning]
    # ...and says so, with where it stopped and what the test metrics are of
    assert f"Stopped at epoch {stopped_at} of 5000; the test metrics below are of the best validation " \
           "epoch before the stop." in warnings, warnings
    assert "· stopped" in at.get("progress")[0].proto.text


def test_gae_says_there_is_no_discriminator():
    at = open_page("pages/train.py", {"model": "gae", "epochs": "10"})
    button(at, "Start").click()
    run_until(at, lambda a: any(h.value == "Test metrics" for h in a.header))
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


PLANTED_GAE = TrainConfig(dataset="planted", model="gae", seed=3, epochs=12, eval_interval=3)


@pytest.fixture(scope="module")
def planted_gae_run() -> str:
    """A saved run whose settings all differ from the Train page's defaults."""
    return save_run(PLANTED_GAE)


def sidebar_values(at: AppTest, prefix: str) -> dict:
    return {w.key[len(prefix) + 1:]: (w.value, w.disabled) for w in [*at.selectbox, *at.number_input]
            if w.key and w.key.startswith(prefix + "_")}


def shows_saved_run(at: AppTest, run_id: str) -> None:
    """The run's own settings, read-only, in the sidebar and the caption; its link; no Start."""
    assert any(run_id in i.value and "read-only" in i.value for i in at.info), [i.value for i in at.info]
    shown = sidebar_values(at, f"view_{run_id}")
    assert shown["dataset"] == ("planted", True) and shown["model"] == ("gae", True), shown
    assert shown["seed"] == (3, True) and shown["epochs"] == (12, True), shown
    assert all(disabled for _, disabled in shown.values()), shown
    assert not sidebar_values(at, "w"), "the session's own knobs are drawn too"
    assert any(m.value.startswith("**Planted partition**") and "seed 3" in m.value for m in at.markdown)
    assert dict(at.query_params) == {"run": run_id}
    assert button(at, "Start").disabled
    assert epochs_shown(at) == 12
    assert len(at.get("plotly_chart")) == 2  # GAE: encoder loss and validation
    assert at.dataframe  # its final metrics


def test_a_saved_run_opens_in_the_train_page_with_its_own_settings(planted_gae_run):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    at.session_state["view_run"] = planted_gae_run  # as the Runs page sends it
    at.run()
    assert not at.exception
    shows_saved_run(at, planted_gae_run)
    button(at, "Back to live").click()
    at.run()
    assert "view_run" not in at.session_state
    assert dict(at.query_params) == {}  # the session's own (default) settings again
    assert sidebar_values(at, "w")["dataset"] == ("karate", False)
    assert not button(at, "Start").disabled


def test_a_link_to_a_saved_run_reopens_it(planted_gae_run):
    shows_saved_run(open_page("pages/train.py", {"run": planted_gae_run}), planted_gae_run)


def test_a_link_to_a_missing_run_says_so_and_opens_the_defaults():
    at = open_page("pages/train.py", {"run": "no-such-run"})
    assert any("no-such-run" in w.value and "cannot be shown" in w.value for w in at.warning)
    assert "run" not in at.query_params
    assert sidebar_values(at, "w")["dataset"] == ("karate", False)


def test_a_saved_runs_settings_start_a_new_run_of_the_same_config(planted_gae_run):
    at = open_page("pages/train.py", {"run": planted_gae_run})
    button(at, "Train a new run from these settings").click()
    at.run()
    assert any(planted_gae_run in i.value and "press **Start**" in i.value for i in at.info)
    shown = sidebar_values(at, "w")
    assert shown["dataset"] == ("planted", False) and shown["seed"] == (3, False), shown
    assert dict(at.query_params) == PLANTED_GAE.to_query()  # the link now holds these settings
    button(at, "Start").click()
    run_until(at, lambda a: any(h.value == "Test metrics" for h in a.header))
    new_id = next(c.value for c in at.caption if "Run saved as" in c.value).split("`")[1]
    assert new_id != planted_gae_run
    assert runs.load_run(new_id).config == PLANTED_GAE


def test_step_mode_makes_one_update_at_a_time():
    at = open_page("pages/train.py", {"epochs": "5000", "discriminator_steps": "3"})
    button(at, "Start").click()
    run_until(at, lambda a: epochs_shown(a) >= 1)
    for _ in range(2):
        next(b for b in at.button if b.label == "One update").click()
        at.run()
    run_until(at, lambda a: any("Next: **discriminator update 3 of 3**" in c.value for c in a.caption)
              or any("Next: **encoder update**" in c.value for c in a.caption))
    assert any(c.value.startswith("Each epoch: 3 discriminator updates on") for c in at.caption)
    table = next(d.value for d in at.dataframe)
    assert list(table.columns) == ["epoch", "phase", "update", "D(prior)", "D(z)", "D loss", "E loss"]
    assert list(table["E loss"][:2]) == ["–", "–"]  # a discriminator update has no encoder loss
    assert "None" not in table.to_string()
    assert list(table["phase"])[:2] == ["discriminator", "discriminator"]
    assert [int(u) for u in table["update"][:2]] in ([2, 1], [3, 2])
    assert any(c for c in at.get("plotly_chart"))  # the latent picture after the update
    button(at, "Stop").click()
    run_until(at, lambda a: not button(a, "Start").disabled)


def test_step_mode_counts_the_steered_discriminator_steps():
    """1 step per epoch, steered to 3 while paused after D's update: the encoder update ends
    the epoch, then step mode counts "of 3" (the steered number, not the configured 1)."""
    at = open_page("pages/train.py", {"epochs": "5000", "discriminator_steps": "1"})
    button(at, "Start").click()
    run_until(at, lambda a: epochs_shown(a) >= 1)
    next(b for b in at.button if b.label == "One update").click()
    at.run()
    run_until(at, lambda a: any("Next: **encoder update**" in c.value for c in a.caption))
    job_id = at.session_state["train_job"]
    at.number_input(key=f"steer_{job_id}_discriminator_steps").set_value(3)
    button(at, "Apply from the next epoch").click()
    at.run()
    for expected in ("discriminator update 1 of 3", "discriminator update 2 of 3"):
        next(b for b in at.button if b.label == "One update").click()
        at.run()
        run_until(at, lambda a: any(f"Next: **{expected}**" in c.value for c in a.caption))
    assert any(c.value.startswith("Each epoch: 3 discriminator updates on") for c in at.caption)
    button(at, "Stop").click()
    run_until(at, lambda a: not button(a, "Start").disabled)


def test_plural_counts_one_and_many():
    assert plural(1, "discriminator update") == "1 discriminator update"
    assert [plural(n, "update") for n in (0, 2, 5)] == ["0 updates", "2 updates", "5 updates"]


# ------------------------------------------------------------ issue 18: big graphs
SMALL_SAMPLED = {"dataset": "planted", "planted_nodes": "1500", "planted_communities": "5", "planted_p_in": "0.02",
                 "planted_p_out": "0.001", "planted_feature_dim": "16", "sampling": "sampled", "batch_nodes": "256",
                 "epochs": "3", "latent_size": "16", "encoder_hidden": "32"}
MILLION = {"planted_nodes": "1000000", "planted_communities": "10", "planted_p_in": "8e-05",
           "planted_p_out": "2.2222e-06", "planted_feature_dim": "128"}


def test_a_sampled_run_is_said_with_its_estimate_before_start_and_trains():
    at = open_page("pages/train.py", SMALL_SAMPLED)
    captions = " ".join(c.value for c in at.caption)
    assert "Training sampled: 256-node subgraphs" in captions and " per epoch" in captions, captions
    from argae_core import estimate
    from argae_core.config import sampler_label
    assert f"per epoch. Sampler: {sampler_label('auto', estimate.installed_backend())}." in captions, captions
    assert "peak memory about" in captions and "available" in captions
    assert at.selectbox(key="w_sampling").value == "sampled"
    button(at, "Start").click()
    run_until(at, lambda a: any(h.value == "Test metrics" for h in a.header), timeout=240)
    assert epochs_shown(at) == 3 and not at.error
    assert "Trained sampled, by " in " ".join(c.value for c in at.caption)  # the sampler that ran


def test_full_batch_beyond_memory_is_refused_with_numbers(monkeypatch):
    from argae_core import estimate
    monkeypatch.setattr(estimate, "available_memory", lambda: 8e9)
    at = open_page("pages/train.py", {"dataset": "planted"})
    # a URL with a config that cannot run opens the defaults: set the knobs as a user does, at once
    # (so the million-node graph is never drawn: refused before, by its edge limit)
    at.selectbox(key="w_sampling").set_value("full")
    for name in ("planted_nodes", "planted_communities", "planted_feature_dim"):
        at.number_input(key=f"w_{name}").set_value(int(MILLION[name]))
    for name in ("planted_p_in", "planted_p_out"):
        at.number_input(key=f"w_{name}").set_value(float(MILLION[name]))
    at.run()
    errors = " ".join(e.value for e in at.error)
    assert "Full-batch training of 1,000,000 nodes" in errors and "of memory; this machine has 8.0 GB available" in errors
    assert "Sampled training needs about" in errors  # and what would fit instead
    assert "for full-batch training" in errors  # the planted graph's edge limit says it too
    assert button(at, "Start").disabled
    # the same graph sampled: no refusal, an estimate (the graph itself is read by the helper)
    monkeypatch.setattr(estimate, "available_memory", lambda: 2e9)
    at = open_page("pages/train.py", {**SMALL_SAMPLED, "batch_nodes": "1000000", "planted_nodes": "1500"})
    assert not at.error  # a small graph sampled in one batch fits
