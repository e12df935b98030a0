"""The Latent space page under AppTest: no runs, a saved run's two clouds, colour modes,
hiding a cloud, the epoch slider and Play, GAE without D(z), a diverged snapshot, UMAP
replacing the PCA stand-in, and the session's live training."""
from __future__ import annotations

import base64
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("ARGAE_EXECUTOR", "thread")  # as in test_pages: no worker processes

from apptest_helpers import AppTest, button, run_until, save_run  # noqa: E402

from argae_core import plots, projection, runs  # noqa: E402
from argae_core.config import TrainConfig  # noqa: E402

APP = str(Path(__file__).resolve().parent.parent / "app.py")
ARGVA = TrainConfig(dataset="karate", model="argva", epochs=12, eval_interval=3, snapshot_interval=3)
GAE = TrainConfig(dataset="karate", model="gae", epochs=6, seed=1, eval_interval=3, snapshot_interval=3)
PLANTED = TrainConfig(dataset="planted", model="gae", epochs=3, eval_interval=3, snapshot_interval=3)  # 300 nodes
KARATE_NODES, KARATE_CLASSES = 34, 4
SNAPSHOTS = [1, 3, 6, 9, 12]  # the first epoch, then every snapshot_interval


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, str, str, str]:
    """A folder with finished KarateClub ARGVA and GAE runs and a planted-partition GAE run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared; KarateClub does not need two threads
    root = tmp_path_factory.mktemp("latent-runs")
    ids = []
    for config in (ARGVA, GAE, PLANTED):
        ids.append(save_run(config, root))
    torch.set_num_threads(threads)
    return root, *ids


@pytest.fixture
def runs_dir(saved, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    shutil.copytree(saved[0], root)
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(root))
    return root


def open_latent(run_id: str | None = None, method: str = "pca", **state) -> AppTest:
    """The Latent page showing `run_id` (as the Runs page sends it) with the projection `method`."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if run_id:
        at.session_state["view_run"] = run_id
    at.session_state["latent_method"] = method
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page("pages/latent.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figure(at: AppTest, key: str = "latent_scatter") -> dict:
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id]
    assert charts, f"no chart {key}"
    return json.loads(charts[0].proto.spec)


def values(array) -> np.ndarray:
    """A plotly JSON array: a list, or numpy's base64 typed-array form."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array)


def traces(at: AppTest) -> dict[str, dict]:
    return {t["name"]: t for t in figure(at)["data"]}


def messages(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.info, *at.error, *at.warning])


# ------------------------------------------------------------------ tests
def test_without_runs_the_page_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(tmp_path / "empty"))
    at = open_latent()
    assert "No runs yet" in messages(at)
    assert not at.get("plotly_chart")


def test_two_runs_of_one_model_and_graph_have_different_short_labels(runs_dir, saved):
    twin = "20261201-000000-karate-argva-s0-beef"  # a second ARGVA on karate, as a comparison makes
    shutil.copytree(runs_dir / saved[1], runs_dir / twin)
    picker = open_latent(saved[1]).selectbox(key="latent_source")
    shown = {o for o in picker.options if o.startswith("ARGVA on karate")}
    assert len(shown) == 2, picker.options
    assert any(o.endswith(" · beef") for o in shown) and any(o.endswith(saved[1][-4:]) for o in shown), shown
    assert all(len(o) <= 32 for o in picker.options), picker.options  # a sidebar selectbox shows ~28


def test_a_saved_run_shows_both_clouds_with_hover(runs_dir, saved):
    at = open_latent(saved[1])
    assert at.selectbox(key="latent_source").value == saved[1]
    shown = traces(at)
    prior, z = shown["prior N(0, I): real"], shown["Z: fake"]
    assert len(values(prior["x"])) == KARATE_NODES and len(values(z["x"])) == KARATE_NODES
    assert "Epoch 12" in figure(at)["layout"]["title"]["text"]  # the newest snapshot first
    assert all("node <b>" in h and "degree" in h and "D(z)" in h for h in z["hovertext"])
    assert not at.error
    # beside it: the prior-match curves over the snapshots (filled a second's work per refresh)
    # and per-dimension histograms
    run_until(at, lambda a: list(values(figure(a, "latent_mmd")["data"][0]["x"])) == SNAPSHOTS)
    spread = figure(at, "latent_prior_match")["data"]
    assert [t["name"] for t in spread if t.get("showlegend") is not False] == [
        "spread of Z (prior: 1)", "classifier accuracy (prior: 0.5)"]
    bars = [t for t in figure(at, "latent_dims_figure")["data"] if t["type"] == "bar"]
    assert len(bars) == 8


def test_a_picture_computed_off_the_cpu_path_says_by_what(runs_dir, saved, monkeypatch):
    """On a GPU (here: torch's code on the CPU device, ARGAE_PROJECTION_DEVICE) the caption names
    what computed the picture; the CPU path's pictures say nothing more than before."""
    def captions(at: AppTest) -> str:
        return " ".join(c.value for c in at.caption)
    assert "Computed by" not in captions(open_latent(saved[1]))
    monkeypatch.setenv("ARGAE_PROJECTION_DEVICE", "torch-cpu")
    assert "Computed by torch PCA on cpu." in captions(open_latent(saved[1], latent_seed=3))


@pytest.mark.parametrize("choice, shown", [("first", 8), ("furthest", 8), ("pick", 3)])
def test_the_dimension_histograms_show_the_dimensions_chosen(runs_dir, saved, choice, shown):
    at = open_latent(saved[1])
    at.segmented_control(key="latent_dims_choice").set_value(choice).run()
    if choice == "pick":   # once its key was the 2-D / 3-D radio's, and the page failed
        at.multiselect(key="latent_dims_pick").set_value([0, 5, 9]).run()
    assert not at.exception, [e.value for e in at.exception]
    bars = [t for t in figure(at, "latent_dims_figure")["data"] if t["type"] == "bar"]
    assert len(bars) == shown


@pytest.mark.parametrize("colour", list(plots.COLOUR_MODES))
def test_each_colour_mode_colours_z_by_what_it_says(runs_dir, saved, colour):
    at = open_latent(saved[1], latent_colour=colour)
    shown = traces(at)
    run = runs.load_run(saved[1])
    _, d_score = run.snapshot(12)
    prior = shown.pop("prior N(0, I): real")
    if colour == "cloud":
        assert shown["Z: fake"]["marker"]["color"] == plots.FAKE_COLOUR
        assert prior["marker"]["color"] == plots.REAL_COLOUR
    elif colour == "label":
        assert prior["marker"]["color"] == plots.PRIOR_GREY
        assert len(shown) == KARATE_CLASSES  # one trace per class
        sizes = sorted(len(values(t["x"])) for t in shown.values())
        assert sizes == sorted(np.bincount(run.graph.labels).tolist())
    elif colour == "score":
        colours = values(shown["Z: fake"]["marker"]["color"])
        assert np.allclose(colours, d_score, atol=1e-6)
    else:
        assert prior["marker"]["color"] == plots.PRIOR_GREY
        colours = values(shown["Z: fake"]["marker"]["color"])
        assert np.allclose(colours, np.log10(run.graph.degrees + 1.0), atol=1e-6)


def test_a_graph_larger_than_the_cap_is_drawn_as_a_seeded_subsample(runs_dir, saved):
    at = open_latent(saved[3], latent_cap=100)
    z, prior = traces(at)["Z: fake"], traces(at)["prior N(0, I): real"]
    assert len(values(z["x"])) == 100 and len(values(prior["x"])) == 100
    rows = projection.subsample(300, 100, seed=0)
    assert [h.split("<b>")[1].split("</b>")[0] for h in z["hovertext"]] == [str(r) for r in rows]
    assert any("100 of 300 nodes" in c.value and "subsample" in c.value for c in at.caption)


def test_either_cloud_can_be_hidden(runs_dir, saved):
    at = open_latent(saved[1])
    at.checkbox(key="latent_show_prior").uncheck().run()
    assert list(traces(at)) == ["Z: fake"]
    at.checkbox(key="latent_show_prior").check()
    at.checkbox(key="latent_show_z").uncheck().run()
    assert list(traces(at)) == ["prior N(0, I): real"]


def test_the_epoch_slider_changes_the_frame(runs_dir, saved):
    at = open_latent(saved[1])
    newest = values(traces(at)["Z: fake"]["x"])
    revision = figure(at)["layout"]["uirevision"]
    at.select_slider(key="latent_epoch").set_value(3).run()
    assert "Epoch 3" in figure(at)["layout"]["title"]["text"]
    assert figure(at)["layout"]["uirevision"] == revision  # a zoom survives scrubbing
    assert not np.allclose(values(traces(at)["Z: fake"]["x"]), newest)
    mmd = figure(at, "latent_mmd")["data"]
    assert list(values(mmd[1]["x"])) == [3]  # the curve marks the epoch on screen


def test_play_steps_through_the_snapshots_and_stops_at_the_end(runs_dir, saved):
    at = open_latent(saved[1])
    next(b for b in at.button if b.key == "latent_play").click().run()
    assert at.session_state["latent_playing"]
    seen = [at.select_slider(key="latent_epoch").value]
    for _ in range(len(SNAPSHOTS)):
        at.run()  # what the fragment's timer does while playing
        seen.append(at.select_slider(key="latent_epoch").value)
    assert seen == SNAPSHOTS + [12]  # from the start, since it stood at the end
    assert not at.session_state["latent_playing"]


def test_gae_explains_that_there_is_no_d_of_z(runs_dir, saved):
    at = open_latent(saved[2], latent_colour="score")
    assert "has no discriminator" in messages(at)
    assert traces(at)["Z: fake"]["marker"]["color"] == plots.FAKE_COLOUR
    assert all("D(z)" not in h for h in traces(at)["Z: fake"]["hovertext"])


def test_a_diverged_snapshot_gives_a_message_not_a_traceback(runs_dir, saved):
    path = runs_dir / saved[1] / "snapshots" / "epoch_00009.npz"
    with np.load(path) as npz:
        z = npz["z"].copy()
    z[5] = np.nan
    np.savez(path, z=z)
    at = open_latent(saved[1])
    at.select_slider(key="latent_epoch").set_value(9).run()
    assert not at.exception
    assert "No picture at epoch 9" in messages(at) and "NaN" in messages(at)
    run_until(at, lambda a: list(values(figure(a, "latent_mmd")["data"][0]["x"])) == [1, 3, 6, 12])


def run_latent_until(at: AppTest, done, timeout: float) -> AppTest:
    return run_until(at, done, timeout, pause=0.5, describe=messages)


@pytest.mark.filterwarnings("ignore:precomputed_knn")  # we pass our own neighbour graph
def test_umap_replaces_the_pca_stand_in_on_its_own(runs_dir, saved):
    """Slow on a machine's first run: umap compiles (its numba cache fills for next time)."""
    at = open_latent(saved[1], method="umap")
    title = figure(at)["layout"]["title"]["text"]
    if "(PCA)" in title:
        assert "UMAP" in messages(at)  # says why PCA is shown
    run_latent_until(at, lambda a: "(UMAP)" in figure(a)["layout"]["title"]["text"], timeout=300)
    assert len(values(traces(at)["Z: fake"]["x"])) == KARATE_NODES
    assert not at.info


def test_a_stand_in_on_screen_keeps_the_page_polling_though_the_frame_is_done(runs_dir, saved, monkeypatch):
    """A warm process computes a small UMAP frame in well under a second: it once finished
    between drawing the PCA stand-in and the page asking whether it was still pending, the
    page stopped polling, and PCA stayed on screen for good."""
    from pages import latent_frames, latent_views
    real = latent_frames.frame_for
    monkeypatch.setattr(latent_views, "frame_for",   # a stand-in, as drawn just before its frame is done
                        lambda source, epoch, view: (real(source, epoch, dict(view, method="pca"))[0], "Computing"))
    monkeypatch.setattr(latent_frames, "pending", lambda *a: False)   # ... and done by now
    at = open_latent(saved[1], method="umap")
    assert "(PCA)" in figure(at)["layout"]["title"]["text"]
    assert at.session_state["latent_poll"] is not None


def start_session_run(tmp_path, monkeypatch, epochs: int, snapshot_interval: int) -> AppTest:
    """The app with this session's run started on the Train page (runs under tmp_path)."""
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["epochs"], at.query_params["snapshot_interval"] = str(epochs), str(snapshot_interval)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    next(b for b in at.button if b.label == "Start").click().run()
    return at


def test_the_sessions_training_appears_while_it_runs(tmp_path, monkeypatch):
    at = start_session_run(tmp_path, monkeypatch, epochs=30, snapshot_interval=5)
    at.session_state["latent_method"] = "pca"
    at.switch_page("pages/latent.py")
    run_latent_until(at, lambda a: a.get("plotly_chart"), timeout=90)
    assert at.selectbox(key="latent_source").value == "__job__"
    # following the newest snapshot until the run ends
    run_latent_until(at, lambda a: "Epoch 30" in figure(a)["layout"]["title"]["text"], timeout=120)


def test_on_a_real_server_a_live_runs_newest_snapshot_is_asked_of_the_live_picture_process(tmp_path, monkeypatch):
    """Not computed in the page process (it held the interpreter lock inside umap, or took a
    quarter of a core from the training): asked of the idle-class live picture process."""
    from argae_core import ahead
    from pages import internals
    asked = []
    monkeypatch.setattr(ahead, "request_live", lambda key, *a: asked.append(key) or True)
    monkeypatch.setattr(ahead, "live_ready", lambda: True)
    at = start_session_run(tmp_path, monkeypatch, epochs=400, snapshot_interval=5)
    monkeypatch.setattr(internals, "real_server", lambda: True)   # the Latent page as a server runs it
    at.session_state["latent_method"] = "umap"
    at.switch_page("pages/latent.py")
    run_latent_until(at, lambda a: asked and "Drawing the UMAP picture" in messages(a), timeout=120)
    assert asked[-1].kind == "snapshot" and asked[-1].method == "umap"
    from argae_core import projection
    _, filler = __import__("pages.common", fromlist=["x"]).latent_projector(
        str(tmp_path / "runs"), asked[-1].run_id, "umap", 0, projection.DEFAULT_CAP, 2)
    assert not filler.busy   # nothing computed in the page process
    monkeypatch.setattr(internals, "real_server", lambda: False)
    at.session_state["latent_method"] = "pca"
    run_latent_until(at, lambda a: "Epoch 400" in figure(a)["layout"]["title"]["text"], timeout=120)  # run ended


def test_while_training_the_newest_drawn_umap_stands_in_for_a_newer_snapshot_not_pca(tmp_path, monkeypatch):
    """Snapshots come faster than their pictures: the page shows the newest one drawn, says
    which epoch it is, and does not fall back to PCA at every snapshot."""
    import re
    from pages import latent_frames, latent_views
    real = latent_frames.frame_for

    def newest_not_drawn_yet(source, epoch, view):   # it asks the filler, and says the newest is not ready
        frame, note = real(source, epoch, view)
        if source.live and note is None and view["method"] == "umap":
            return real(source, epoch, dict(view, method="pca"))[0], "Computing"
        return frame, note
    monkeypatch.setattr(latent_views, "frame_for", newest_not_drawn_yet)
    at = start_session_run(tmp_path, monkeypatch, epochs=3000, snapshot_interval=20)
    at.session_state["latent_method"] = "umap"
    at.switch_page("pages/latent.py")
    run_latent_until(at, lambda a: "the newest drawn" in messages(a), timeout=180)
    shown = int(re.search(r"UMAP of epoch (\d+), the newest drawn: epoch (\d+)", messages(at)).group(1))
    newer = int(re.search(r"the newest drawn: epoch (\d+)", messages(at)).group(1))
    assert shown < newer
    assert figure(at)["layout"]["title"]["text"].startswith(f"<b>Epoch {shown}:") or f"Epoch {shown}:" in \
        figure(at)["layout"]["title"]["text"]
    assert "(UMAP)" in figure(at)["layout"]["title"]["text"]
    # stopped from the Train page, as a user would (waiting for its 3000 epochs took over 300 s
    # on a loaded machine)
    at.switch_page("pages/train.py")
    at.run()
    button(at, "Stop").click()
    run_until(at, lambda a: not button(a, "Start").disabled, timeout=120)


def test_the_frame_filler_computes_the_asked_epoch_and_its_neighbours_in_line():
    from argae_core.frames import FrameFiller
    rng = np.random.default_rng(0)
    base = rng.standard_normal((40, 6)).astype(np.float32)
    snapshots = {e: base + 0.01 * e for e in range(1, 11)}

    def load_z(epoch):
        if epoch == 4:
            raise ValueError("Z has NaN values at epoch 4")
        return snapshots[epoch]
    projector = projection.Projector("pca", seed=0, cap=100)
    filler = FrameFiller(projector, load_z, reach=4)
    filler.ask(5, list(snapshots))
    deadline = time.monotonic() + 30
    while filler.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(projector.frames) == [3, 5, 6]  # the 4 nearest to 5 are 5, 4, 6, 3; 4 failed
    assert "NaN" in filler.errors[4]
    # each frame was aligned onto a neighbour: a small change of Z is a small move on screen
    moved = np.abs(projector.frames[6].z_xy - projector.frames[5].z_xy).max()
    assert moved < 0.1 * np.ptp(projector.frames[5].z_xy)


def test_following_nodes_rings_them_and_shows_their_neighbourhood_and_predicted_links(runs_dir, saved):
    at = open_latent(saved[1])
    picker = next(m for m in at.multiselect if m.key and m.key.endswith("_picker"))
    picker.set_value([0, 33]).run()
    assert not at.exception, [e.value for e in at.exception]
    ringed = [t for t in figure(at)["data"] if t.get("name") == "followed nodes"]
    assert len(ringed) == 1 and sorted(values(ringed[0]["customdata"])) == [0, 33]
    hood = figure(at, "latent_neighbourhood")["data"]
    assert len(values(hood[1]["x"])) > 2               # the two nodes and their neighbours
    said = " ".join(m.value for m in at.markdown)
    assert "Nearest in Z" in said and "Top predicted links" in said
    at.select_slider(key="latent_epoch").set_value(3).run()   # the selection survives the slider
    ringed = [t for t in figure(at)["data"] if t.get("name") == "followed nodes"]
    assert sorted(values(ringed[0]["customdata"])) == [0, 33]


# ------------------------------------------------------------------ 3-D
def test_the_3d_option_draws_the_same_picture_with_a_third_axis(runs_dir, saved):
    """3-D: the 2-D picture's traces, colours and hover with a third axis, a line on how to
    pick nodes there, the discriminator's plane as it was; 2-D and 3-D frames cached apart."""
    from pages import common
    from pages.latent_data import root
    at = open_latent(saved[1], latent_dims=3, latent_colour="label")
    deep = figure(at, "latent_scatter_3d")
    assert {t["type"] for t in deep["data"]} == {"scatter3d"} and "3-D" in deep["layout"]["title"]["text"]
    assert all(len(values(t["z"])) == len(values(t["x"])) for t in deep["data"])
    assert any(c.value.startswith("In 3-D, pick nodes") for c in at.caption)
    assert {t["type"] for t in figure(at, "latent_dmap")["data"]} >= {"heatmap", "contour"}  # still the plane
    at.radio(key="latent_dims").set_value(2).run()
    flat = figure(at, "latent_scatter")
    assert {t["type"] for t in flat["data"]} == {"scattergl"}
    assert [t["name"] for t in flat["data"]] == [t["name"] for t in deep["data"]]
    for a, b in zip(flat["data"], deep["data"]):
        assert a["marker"]["color"] == b["marker"]["color"] and a.get("hovertext") == b.get("hovertext")
    assert not any(c.value.startswith("In 3-D") for c in at.caption)
    frames = {d: common.latent_projector(root(), saved[1], "pca", 0, projection.DEFAULT_CAP, d)[0].frames
              for d in (2, 3)}
    assert frames[2][12].components == 2 and frames[3][12].components == 3


def test_in_3d_the_slider_play_and_followed_nodes_work(runs_dir, saved):
    at = open_latent(saved[1], latent_dims=3)
    picker = next(m for m in at.multiselect if m.key and m.key.endswith("_picker"))
    picker.set_value([0, 33]).run()
    ring = next(t for t in figure(at, "latent_scatter_3d")["data"] if t["name"] == "followed nodes")
    assert sorted(values(ring["customdata"])) == [0, 33] and ring["marker"]["symbol"] == "circle-open"
    at.select_slider(key="latent_epoch").set_value(3).run()
    deep = figure(at, "latent_scatter_3d")
    assert "Epoch 3" in deep["layout"]["title"]["text"]
    assert sorted(values(next(t for t in deep["data"] if t["name"] == "followed nodes")["customdata"])) == [0, 33]
    next(b for b in at.button if b.key == "latent_play").click().run()
    seen = [at.select_slider(key="latent_epoch").value]
    for _ in range(len(SNAPSHOTS)):
        at.run()
        seen.append(at.select_slider(key="latent_epoch").value)
    assert seen[:len(SNAPSHOTS) - 1] == SNAPSHOTS[1:] and seen[-1] == 12 and not at.session_state["latent_playing"]


@pytest.mark.filterwarnings("ignore:precomputed_knn")
def test_a_3d_umap_is_computed_on_demand_and_plays(runs_dir, saved, monkeypatch):
    """As on a real server whose picture process is ready: that process draws 2-D pictures
    only, so a 3-D UMAP is not asked of it (once it was, and the page waited on PCA for good)."""
    from argae_core import ahead
    from pages import internals
    asked = []
    monkeypatch.setattr(internals, "real_server", lambda: True)
    monkeypatch.setattr(ahead, "is_ready", lambda: True)
    monkeypatch.setattr(ahead, "request", lambda key, *a, **k: asked.append(key) or True)
    at = open_latent(saved[1], method="umap", latent_dims=3)
    run_latent_until(at, lambda a: "in 3-D (UMAP)" in figure(a, "latent_scatter_3d")["layout"]["title"]["text"],
                     timeout=300)
    assert not asked
    assert len(values(traces(at)["Z: fake"]["z"])) == KARATE_NODES
    at.select_slider(key="latent_epoch").set_value(1).run()
    next(b for b in at.button if b.key == "latent_play").click().run()
    run_latent_until(at, lambda a: not a.session_state["latent_playing"], timeout=300)
    assert at.select_slider(key="latent_epoch").value == 12
    assert "in 3-D (UMAP)" in figure(at, "latent_scatter_3d")["layout"]["title"]["text"]


# ------------------------------------------------------------------ big graphs: kept nodes, dropped snapshots
SUBSAMPLED = PLANTED.replace(epochs=6, snapshot_nodes=100)   # snapshots keep 100 of the 300 nodes


@pytest.fixture
def subsampled_run(tmp_path, monkeypatch) -> str:
    """A planted run whose snapshots keep 100 nodes, its first snapshot dropped for a budget."""
    root = tmp_path / "runs"
    monkeypatch.setenv("ARGAE_RUNS_DIR", str(root))
    run_id = save_run(SUBSAMPLED, root)
    path = root / run_id / "snapshots" / "epoch_00001.npz"
    runs.budget.drop_snapshot(path, 1, "the run within its 5 MB (ARGAE_RUN_DISK_MB)")
    return run_id


def test_a_subsampled_run_draws_its_kept_nodes_by_their_ids_and_says_what_was_dropped(subsampled_run):
    run = runs.load_run(subsampled_run)
    kept = run.graph.snapshot_nodes
    assert len(kept) == 100
    at = open_latent(subsampled_run)
    z = traces(at)["Z: fake"]
    assert sorted(values(z["customdata"]).tolist()) == kept.tolist()   # points carry the graph's node index
    assert sorted(int(h.split("<b>")[1].split("</b>")[0]) for h in z["hovertext"]) == kept.tolist()
    captions = " ".join(c.value for c in at.caption)
    assert "snapshots keep the same seeded 100 of its 300 nodes" in captions
    assert "1 snapshot(s) of this run (epoch 1) were dropped to keep the run within its 5 MB" in captions
    assert at.select_slider(key="latent_epoch").options == ["3", "6"]
    # follow a kept node and one that is not kept: the second is named, the first ringed
    outside = next(n for n in range(300) if n not in set(kept.tolist()))
    picker = next(m for m in at.multiselect if m.key and m.key.endswith("_picker"))
    picker.set_value([int(kept[0]), outside]).run()
    assert not at.exception, [e.value for e in at.exception]
    ringed = [t for t in figure(at)["data"] if t.get("name") == "followed nodes"]
    assert values(ringed[0]["customdata"]).tolist() == [int(kept[0])]
    assert f"({outside}) are not among the 100 of 300 nodes" in messages(at)
    said = " ".join(m.value for m in at.markdown)
    assert "Nearest in Z** among the 100 kept nodes" in said
    nearest = next(d.value for d in at.dataframe if "distance" in d.value.columns)
    assert set(nearest["node"].astype(int)) <= set(kept.tolist()) and len(nearest) == 10
