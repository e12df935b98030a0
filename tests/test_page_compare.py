"""The Compare page under AppTest: two KarateClub models give a two-row table and a reading;
two seeds give mean ± std; no model selected shows an error and starts nothing; stop."""
from __future__ import annotations

import base64
import json
import os

import numpy as np

os.environ.setdefault("ARGAE_EXECUTOR", "thread")  # as in test_pages: no worker processes

from apptest_helpers import AppTest, button, open_page, run_until  # noqa: E402



def has_table(at: AppTest) -> bool:
    return any(s.value == "Test metrics" for s in at.header)


def reading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**What the tables say**"))


def set_knobs(at: AppTest, epochs: int, repeats: int = 1) -> None:
    assert at.selectbox(key="cmp_dataset").value == "karate"
    assert at.multiselect(key="cmp_models").value == ["gae", "argva"]
    at.number_input(key="cmp_epochs").set_value(epochs)
    at.number_input(key="cmp_eval_interval").set_value(2)
    at.number_input(key="cmp_repeats").set_value(repeats)
    at.run()


def test_two_karate_models_give_a_two_row_table_and_a_reading():
    at = open_page("pages/compare.py")
    set_knobs(at, epochs=12)
    button(at, "Compare").click()
    at.run()
    state = at.session_state["compare"]
    assert len(state["jobs"]) == 2 and state["group"].startswith("cmp-")
    # the table is drawn by the run that sees the jobs end; the buttons by the one after
    run_until(at, lambda a: has_table(a) and not button(a, "Compare").disabled)
    table, prior_table = at.dataframe[0].value, at.dataframe[1].value
    assert list(table["model"]) == ["GAE", "ARGVA"] == list(prior_table["model"])
    assert {"AUC", "AP", "ACC", "NMI", "ARI"} <= set(table.columns)
    assert {"spread (prior: 1)", "C2ST (0.5: like prior)", "MMD to prior", "C2ST at unit spread"} <= set(
        prior_table.columns)
    assert all("±" not in str(v) for v in table["AUC"])
    for column, frame in (("AUC", table), ("MMD to prior", prior_table)):  # one best per column unless tied
        assert sum(str(v).endswith("★") for v in frame[column]) >= 1
    said = reading(at)
    assert "Spread of Z in units of the prior's" in said and "held-out accuracy" in said
    assert "held-out edges" in said and "One seed only" in said
    # a latent picture per model, the norms; validation, reconstruction, D loss, D verdict, encoder loss parts
    assert len(at.get("plotly_chart")) == 2 + 1 + 5
    assert button(at, "Stop").disabled

    # Leaving the page and coming back keeps the comparison.
    at.switch_page("pages/home.py")
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    assert has_table(at) and at.session_state["compare"]["jobs"] == state["jobs"]


def test_two_seeds_give_mean_and_std():
    at = open_page("pages/compare.py")
    set_knobs(at, epochs=6, repeats=2)
    button(at, "Compare").click()
    at.run()
    assert at.session_state["compare"]["seeds"] == [0, 1]
    assert len(at.session_state["compare"]["jobs"]) == 4
    run_until(at, has_table)
    table = at.dataframe[0].value
    assert len(table) == 2 and len(at.dataframe[1].value) == 2
    assert all("±" in str(v) for v in table["AUC"])
    assert "seed-to-seed std" in reading(at) and "One seed only" not in reading(at)


def latent_chart(at: AppTest, key: str) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key)).proto.spec)


def node_ids(trace: dict) -> list[int]:
    """customdata: a list, or numpy's base64 typed-array form in plotly's JSON."""
    data = trace["customdata"]
    if isinstance(data, dict):
        data = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
    return sorted(int(v) for v in data)


def test_the_3d_option_turns_every_model_s_picture_with_the_followed_nodes_ringed():
    at = open_page("pages/compare.py")
    set_knobs(at, epochs=6)
    button(at, "Compare").click()
    at.run()
    run_until(at, lambda a: has_table(a) and not button(a, "Compare").disabled)
    at.session_state["compare_follow"] = [0, 33]   # as a click in a 2-D picture leaves it
    at.radio(key="cmp_dims").set_value(3).run()
    names = [t["name"] for t in latent_chart(at, "cmp_latent3d_gae")["data"]]
    for model in ("gae", "argva"):
        deep = latent_chart(at, f"cmp_latent3d_{model}")
        assert {t["type"] for t in deep["data"]} == {"scatter3d"}
        ring = next(t for t in deep["data"] if t["name"] == "followed nodes")
        assert node_ids(ring) == [0, 33] and ring["marker"]["symbol"] == "circle-open"
    assert any("In 3-D, switch to 2-D to pick nodes" in c.value for c in at.caption)
    at.radio(key="cmp_projection").set_value("umap").run()    # a 3-D UMAP of each scored Z, on demand
    run_until(at, lambda a: sum("· UMAP" in c.value for c in a.caption) == 2, timeout=300)
    assert {t["type"] for t in latent_chart(at, "cmp_latent3d_argva")["data"]} == {"scatter3d"}
    assert {t["type"] for t in latent_chart(at, "cmp_pca_argva")["data"]} == {"scatter"}  # the plane stays flat
    at.radio(key="cmp_dims").set_value(2).run()
    flat = latent_chart(at, "cmp_latent_gae")
    assert {t["type"] for t in flat["data"]} == {"scatter"}  # Compare draws SVG (WebGL contexts run out)
    assert [t["name"] for t in flat["data"]] == names and node_ids(flat["data"][-1]) == [0, 33]
    assert not any("In 3-D" in c.value for c in at.caption)


def test_no_model_selected_shows_an_error_and_starts_nothing():
    at = open_page("pages/compare.py")
    at.multiselect(key="cmp_models").set_value([])
    at.run()
    assert any("pick at least one model" in e.value for e in at.error)
    assert button(at, "Compare").disabled
    assert "compare" not in at.session_state


def test_stop_ends_every_run_of_the_comparison():
    at = open_page("pages/compare.py")
    set_knobs(at, epochs=5000)
    button(at, "Compare").click()
    run_until(at, lambda a: not button(a, "Stop").disabled)
    button(at, "Stop").click()
    run_until(at, has_table)
    table = at.dataframe[0].value
    assert all("stopped" in note for note in table["runs"])
    assert "stopped early" in reading(at)


def test_a_sweep_trains_the_grid_and_draws_score_against_prior_match():
    at = open_page("pages/compare.py")
    at.segmented_control(key="cmp_mode").set_value("sweep")
    at.run()
    at.multiselect(key="sweep_weights").set_value([0.0, 4.0])
    at.multiselect(key="sweep_latents").set_value([2, 8])
    at.number_input(key="cmp_epochs").set_value(6)
    at.number_input(key="cmp_eval_interval").set_value(2)
    at.run()
    assert not any(e for e in at.error)
    button(at, "Sweep (4 runs)").click()
    at.run()
    plan = at.session_state["compare_sweep"]["plan"]
    assert len(plan.configs) == 4 and {(c.latent_size, c.reg_weight) for c in plan.configs} == {
        (2, 0.0), (2, 4.0), (8, 0.0), (8, 4.0)}
    run_until(at, lambda a: len(a.dataframe) == 1 and not button(a, "Sweep (4 runs)").disabled)
    table = at.dataframe[0].value  # the sweep's table is the page's only one
    assert list(table["latent size"]) == [2, 2, 8, 8] and list(table["regulariser weight"]) == ["0", "4", "0", "4"]
    assert all(v == "1 of 1 finished" for v in table["runs"])
    said = next(m.value for m in at.markdown if m.value.startswith("**What the sweep says**"))
    assert "Latent 2: from weight 0 to 4" in said and "Latent 8: from weight 0 to 4" in said
    assert button(at, "Cancel").disabled


def test_a_sweep_of_a_plain_model_or_an_empty_grid_is_refused():
    at = open_page("pages/compare.py")
    at.segmented_control(key="cmp_mode").set_value("sweep")
    at.run()
    at.multiselect(key="sweep_latents").set_value([])
    at.run()
    assert any("pick at least one latent size" in e.value for e in at.error)
    assert button(at, "Sweep (0 runs)").disabled


def test_umap_pictures_drawn_ahead_replace_pca_once_on_disk():
    """The page draws no UMAP itself: it shows PCA until the picture process has written a
    run's picture beside it (argae_core.pictures), then reads that."""
    from argae_core import pictures, projection, runs
    at = open_page("pages/compare.py")
    set_knobs(at, epochs=12)
    at.radio(key="cmp_projection").set_value("umap")
    at.run()
    button(at, "Compare").click()
    at.run()
    run_until(at, lambda a: has_table(a) and not button(a, "Compare").disabled)
    notes = [c.value for c in at.caption if c.value.startswith("epoch ")]
    assert len(notes) == 2 and all("PCA until its UMAP picture is drawn" in n for n in notes), notes
    charts = len(at.get("plotly_chart"))
    projection.warm_up(background=False)
    keys = [pictures.PictureKey(run.run_id, pictures.FINAL, run.final_embedding()[0], "umap", 0)
            for run in map(runs.load_run, sorted(p.name for p in runs.runs_dir().iterdir()))
            if run.info.get("group") == at.session_state["compare"]["group"]]
    assert len(keys) == 2
    for key in keys:   # the picture process's quick layout first
        pictures.draw(key, layout_epochs=pictures.QUICK_LAYOUT_EPOCHS)
    at.run()
    notes = [c.value for c in at.caption if c.value.startswith("epoch ")]
    assert len(notes) == 2 and all(n.endswith("· UMAP, a quick layout: the full one follows") for n in notes), notes
    for key in keys:
        pictures.draw(key)
    at.run()
    notes = [c.value for c in at.caption if c.value.startswith("epoch ")]
    assert len(notes) == 2 and all(n.endswith("· UMAP") for n in notes), notes
    assert len(at.get("plotly_chart")) == charts + 2   # under each UMAP picture, the PCA plane that keeps scale
