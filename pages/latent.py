"""Latent space: where the node embeddings Z sit against samples of the N(0, I) prior, epoch
by epoch, for the session's training (live) or any saved run."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import streamlit as st

from pages import page_setup

page_setup()  # first: see pages/__init__.py

from argae_core import judge, metrics, plots, projection, runs  # noqa: E402
from argae_core.config import TrainConfig  # noqa: E402
from pages import common, follow  # noqa: E402

JOB = "__job__"                  # the source picker's value for the session's own training
LIVE_SECONDS = 1.0               # refresh while snapshots may still arrive or a frame is computed
PLAY_SECONDS = 0.8               # one epoch per tick while playing
CURVE_BUDGET_SECONDS = 1.0       # of prior-match curve computing per refresh (a Cora point: 0.3-1 s)
MAX_CAP = 50_000
DIMENSION_CHOICES = ("first", "furthest", "pick")
DIMENSION_LABELS = {"first": "First 8", "furthest": "Furthest 8", "pick": "Pick"}
METHOD_LABELS = {"umap": "UMAP", "pca": "PCA (instant)"}

manager = common.job_manager()
owner = common.session_id()


@dataclass
class Source:
    """What the page shows: a run on disk, perhaps still being written."""
    run_id: str | None           # None while the session's job has not started
    label: str
    config: TrainConfig
    epochs: list[int]            # snapshot epochs so far
    live: bool                   # more snapshots may arrive
    note: str | None = None      # why there is nothing to show yet


# ------------------------------------------------------------------ data, cached
def root() -> str:
    return str(runs.runs_dir())


@st.cache_data(show_spinner=False, max_entries=64)
def snapshot(runs_root: str, run_id: str, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(Z, D(z) or None) at a snapshot epoch: snapshot files never change once written."""
    return runs.load_run(run_id, runs_root).snapshot(epoch)


@st.cache_data(show_spinner=False, max_entries=16)
def graph_info(runs_root: str, run_id: str) -> runs.GraphInfo:
    return runs.load_run(run_id, runs_root).graph


@st.cache_resource(show_spinner=False, max_entries=32)
def prior_match_curve(runs_root: str, run_id: str, seed: int) -> projection.PriorMatchCurve:
    """The run's prior-match measures per snapshot, filled in as pages ask; shared by sessions."""
    return projection.PriorMatchCurve(lambda epoch: snapshot(runs_root, run_id, epoch)[0], seed)


@st.cache_data(show_spinner=False, max_entries=64)
def dimension_stats(runs_root: str, run_id: str, epoch: int) -> dict:
    return projection.dimension_stats(snapshot(runs_root, run_id, epoch)[0])


@st.cache_data(show_spinner=False, max_entries=64)
def dimension_figure(runs_root: str, run_id: str, epoch: int, dims: tuple[int, ...]):
    """The small multiples (cached: plotly's subplot grid is the slowest figure to build)."""
    return plots.dimension_figure(dimension_stats(runs_root, run_id, epoch), list(dims),
                                  revision=f"dims-{run_id}")


# ------------------------------------------------------------------ the source
def source_options() -> tuple[list[str], dict[str, str]]:
    """Picker values (JOB for the session's training, else run ids) and their labels."""
    job = manager.get(st.session_state.get("train_job"), owner)
    summaries, _ = runs.list_runs()
    options, labels = [], {}
    if job is not None:
        options.append(JOB)
        labels[JOB] = f"Your run: {job.label}"  # its state is in the line above the picture
    for s in summaries:
        if job is None or s.run_id != job.run_id:
            options.append(s.run_id)
            labels[s.run_id] = run_label(s)
    return options, labels


def run_label(s: runs.RunSummary) -> str:
    """Short enough for the sidebar (~28 characters show) and told apart from its neighbours:
    the start time and the run id's random tail differ between two runs of one comparison."""
    try:
        started = datetime.fromisoformat(s.started).strftime("%H:%M") + " · " if s.started else ""
    except ValueError:
        started = ""
    return f"{common.MODEL_LABELS.get(s.model, s.model)} on {s.dataset} · {started}{s.run_id.rsplit('-', 1)[-1]}"


def pick_source(options: list[str], labels: dict[str, str]) -> str:
    """The source selectbox; a run sent from the Runs page ("view_run") is preselected once."""
    sent = st.session_state.get("view_run")
    if sent in options and st.session_state.get("latent_view_run_seen") != sent:
        st.session_state["latent_source"] = sent
    st.session_state["latent_view_run_seen"] = sent
    if st.session_state.get("latent_source") not in options:
        st.session_state["latent_source"] = options[0]
    return st.selectbox("Source", options, format_func=labels.get, key="latent_source",
                        help="Your current training updates on its own. Saved runs read: model on graph · start "
                             "time (UTC) · the end of the run id (the Runs page lists them all).")


def resolve(choice: str) -> Source | str:
    """The chosen source now (snapshots keep arriving while it trains), or a message."""
    if choice == JOB:
        job = manager.get(st.session_state.get("train_job"), owner)
        if job is None:
            return "Your training is gone (the server restarted?). Pick a saved run."
        note = None if job.run_id else "Waiting for the training to start..."
        return Source(job.run_id, job.label, job.config, list(job.snapshot_epochs), job.active, note)
    try:
        run = runs.load_run(choice)
    except runs.RunError as exc:
        return str(exc)
    label = f"{common.MODEL_LABELS.get(run.config.model, run.config.model)} on {run.config.dataset}"
    return Source(run.run_id, label, run.config, run.snapshot_epochs, run.status == "running")


# ------------------------------------------------------------------ settings
def settings() -> dict:
    """The sidebar's view settings."""
    with st.sidebar:
        st.header("Picture")
        method = st.radio("Projection", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="latent_method",
                          help="UMAP keeps neighbourhoods; PCA is linear and instant. Both project Z and "
                               "the prior samples together, so distances compare.")
        colour = st.radio("Colour", list(plots.COLOUR_MODES), format_func=plots.COLOUR_MODES.get,
                          key="latent_colour")
        show_z = st.checkbox("Show Z (node embeddings)", value=True, key="latent_show_z")
        show_prior = st.checkbox("Show prior samples", value=True, key="latent_show_prior")
        with st.expander("Sampling"):
            cap = st.number_input("Points per cloud", min_value=100, max_value=MAX_CAP,
                                  value=projection.DEFAULT_CAP, step=500, key="latent_cap",
                                  help="Larger graphs are projected as a seeded subsample of this many nodes "
                                       "(and as many prior samples).")
            seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="latent_seed",
                                   help="Draws the prior samples and the subsample, and seeds UMAP.")
    return dict(method=method, colour=colour, show_z=show_z, show_prior=show_prior, cap=int(cap), seed=int(seed))


# ------------------------------------------------------------------ frames
def frame_for(source: Source, epoch: int, view: dict) -> tuple[projection.Projection | None, str | None]:
    """The frame to draw and a note: UMAP frames are computed in the background, and PCA
    (instant) stands in until the one asked for is ready."""
    projector, filler = common.latent_projector(root(), source.run_id, view["method"], view["seed"], view["cap"])
    if epoch in filler.errors:
        return None, filler.errors[epoch]
    if epoch in projector.frames:
        return projector.frames[epoch], None
    pca_projector, _ = common.latent_projector(root(), source.run_id, "pca", view["seed"], view["cap"])
    try:
        stand_in = pca_frame(pca_projector, epoch, source)
    except (ValueError, runs.RunError) as exc:  # a diverged Z, a deleted run
        return None, str(exc)
    if view["method"] == "pca":
        return stand_in, None
    filler.ask(epoch, source.epochs)
    if projection.is_warm():
        return stand_in, f"Computing the UMAP picture of epoch {epoch}; PCA is shown meanwhile."
    return stand_in, ("UMAP is getting ready on this server: its code compiles once per install (30-70 s "
                      "on the 2-core machine this was built on; `python -m argae_core warm` does it at "
                      "install time), then loads in seconds. PCA is shown meanwhile; the UMAP picture "
                      "replaces it on its own.")


def pca_frame(projector, epoch: int, source: Source) -> projection.Projection:
    if epoch in projector.frames:
        return projector.frames[epoch]
    z = snapshot(root(), source.run_id, epoch)[0]
    return projector.frame(epoch, z, common.nearest_frame(projector.frames, epoch))


def pending(source: Source, epoch: int, view: dict) -> bool:
    """Whether the UMAP frame on screen is still being computed."""
    if view["method"] != "umap":
        return False
    projector, filler = common.latent_projector(root(), source.run_id, "umap", view["seed"], view["cap"])
    return epoch not in projector.frames and epoch not in filler.errors


# ------------------------------------------------------------------ epoch & play
def epoch_picker(source: Source, view: dict) -> int:
    """Slider over the snapshot epochs (follows the newest while it trains) and Play."""
    epochs = source.epochs
    key = "latent_epoch"
    current = st.session_state.get(key)
    newest_before = st.session_state.get("latent_newest")
    if current not in epochs or current == newest_before:
        st.session_state[key] = epochs[-1]  # a new source, or following the newest snapshot
    if st.session_state.get("latent_playing"):
        advance(source, view)
    st.session_state["latent_newest"] = epochs[-1]
    if len(epochs) == 1:
        st.caption(f"One snapshot so far: epoch {epochs[0]}.")
        return epochs[0]
    row = st.container(horizontal=True, vertical_alignment="bottom")  # the button keeps its label's width
    epoch = row.select_slider("Epoch", epochs, key=key,
                              help=f"Z is saved every {source.config.snapshot_interval} epochs.")
    playing = st.session_state.get("latent_playing", False)
    row.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
               width="content", key="latent_play", on_click=toggle_play, args=(epochs,))
    return epoch


def toggle_play(epochs: list[int]) -> None:
    """Play from where the slider stands (from the start when it stands at the end), or pause."""
    playing = not st.session_state.get("latent_playing", False)
    if playing and st.session_state.get("latent_epoch") == epochs[-1]:
        st.session_state["latent_epoch"] = epochs[0]
    st.session_state["latent_playing"] = playing
    st.session_state["latent_play_hold"] = playing


def advance(source: Source, view: dict) -> None:
    """While playing: one step per timer tick to the next snapshot once its frame is ready;
    stop at the end. The runs that start the timer (the click, then the rerun that sets the
    fragment's rate) show the starting epoch."""
    if st.session_state.get("latent_poll") != PLAY_SECONDS or st.session_state.pop("latent_play_hold", False):
        return
    current = st.session_state["latent_epoch"]
    later = [e for e in source.epochs if e > current]
    if not later:
        st.session_state["latent_playing"] = False
        return
    if pending(source, later[0], view):
        _, filler = common.latent_projector(root(), source.run_id, "umap", view["seed"], view["cap"])
        filler.ask(later[0], source.epochs)  # the frame ahead, even if the one on screen was ready
    else:
        st.session_state["latent_epoch"] = later[0]


# ------------------------------------------------------------------ drawing
def scatter(source: Source, epoch: int, view: dict, graph: runs.GraphInfo) -> None:
    """The joint picture; notes go below it, so the chart does not jump when one comes or
    goes (the UMAP note does, once its frame is ready)."""
    frame, note = frame_for(source, epoch, view)
    if frame is None:
        st.error(f"No picture at epoch {epoch}: {note}", icon=":material/error:")
        return
    notes = [note] if note else []
    z, d_score = snapshot(root(), source.run_id, epoch)
    rows = frame.z_index if frame.z_index is not None else np.arange(len(z))
    scores = d_score[rows] if d_score is not None else None
    labels = graph.labels[rows] if graph.labels is not None else None
    colour = view["colour"]
    if colour == "score" and scores is None:
        notes.append(f"{source.config.model.upper()} has no discriminator, so there is no D(z) to colour by: "
                     "Z is drawn as the fake cloud. Pick an ARGA or ARGVA run to see D's verdict.")
        colour = "cloud"
    if colour == "label" and labels is None:
        notes.append("This graph has no class labels: Z is drawn as the fake cloud.")
        colour = "cloud"
    hover = plots.node_hover([graph.node_label(int(i)) for i in rows],
                             [graph.label_name(int(i)) for i in rows] if labels is not None else None,
                             graph.degrees[rows], scores)
    follow.take_selection(source.run_id, st.session_state.get("latent_scatter"))  # the last click / lasso
    chosen = follow.followed(source.run_id)
    shown = METHOD_LABELS[frame.method].split(" ")[0]
    fig = plots.latent_figure(
        frame.z_xy, frame.prior_xy, d_score=scores, colour=colour, labels=labels,
        class_names=graph.class_names, degrees=graph.degrees[rows], z_hover=hover,
        show_z=view["show_z"], show_prior=view["show_prior"], height=560, node_rows=rows, highlight=chosen,
        title=f"Epoch {epoch}: Z and as many N(0, I) samples ({shown})",
        revision=f"latent-{source.run_id}-{frame.method}-{view['cap']}-{view['seed']}")
    st.plotly_chart(fig, key="latent_scatter", config={"displaylogo": False}, on_select="rerun",
                    selection_mode=("points", "box", "lasso"))
    if notes:
        st.info("  \n".join(notes), icon=":material/hourglass_top:" if note else ":material/info:")
    caption = (f"{len(frame.z_xy):,} of {len(z):,} nodes and as many prior samples, a seeded subsample "
               f"(cap {view['cap']:,} per cloud, set in the sidebar)." if frame.subsampled
               else f"All {len(z):,} nodes and {len(frame.prior_xy):,} prior samples.")
    st.caption(caption + " Hover a point for its node id, label, degree and D(z); click a legend entry to hide it."
               + (" " + plots.UMAP_HIDES_SCALE if frame.method == "umap" else ""))
    chosen = follow.picker(source.run_id, graph)
    scale_views(source, epoch, view, z, chosen)
    if source.config.adversarial:
        discriminator_view(source, epoch, view, z)
    follow.panel(source, z, graph, chosen)


@st.cache_data(show_spinner=False, max_entries=64)
def discriminator_map(runs_root: str, run_id: str, epoch: int, seed: int, cap: int):
    """D's verdict over the plane of this snapshot (judge.discriminator_map), or None when
    the snapshot kept no D (a run saved before snapshots did)."""
    run = runs.load_run(run_id, runs_root)
    weights = run.discriminator_weights(epoch)
    if weights is None:
        return None
    z = snapshot(runs_root, run_id, epoch)[0]
    rows = projection.subsample(len(z), cap, seed)
    z = z if rows is None else z[rows]
    prior = projection.prior_samples(len(z), z.shape[1], seed)
    return judge.discriminator_map(weights, run.config.latent_size, run.config.discriminator_hidden, z, prior)


def discriminator_view(source: Source, epoch: int, view: dict, z: np.ndarray) -> None:
    """GAN Lab's picture: where D says "real", with Z and the prior samples on top."""
    if not np.isfinite(z).all():
        return
    try:
        dmap = discriminator_map(root(), source.run_id, epoch, view["seed"], view["cap"])
    except (runs.RunError, RuntimeError, ValueError) as exc:  # a damaged file, weights of another shape
        st.caption(f"No picture of the discriminator's view at epoch {epoch}: {exc}")
        return
    if dmap is None:
        st.caption("This run's snapshots did not keep the discriminator, so its view cannot be drawn.")
        return
    title = f"Epoch {epoch}: the discriminator's view" + ("" if dmap.exact else " (a slice)")
    st.plotly_chart(plots.discriminator_map_figure(dmap, title=title, revision=f"dmap-{source.run_id}",
                                                   show_z=view["show_z"], show_prior=view["show_prior"]),
                    key="latent_dmap", config={"displaylogo": False})
    st.caption("Colour: D's probability that a point is a prior sample (\"real\"); dashed: where it is 0.5. "
               + ("With 2 latent dimensions this plane is the latent space itself: the map is D's exact verdict."
                  if dmap.exact else
                  f"A slice: D evaluated on the PCA plane of this epoch's Z and prior samples, mapped back into the "
                  f"{source.config.latent_size}-dimensional latent space; off the plane D may say otherwise."))


def scale_views(source: Source, epoch: int, view: dict, z: np.ndarray, chosen: list[int]) -> None:
    """Pictures that keep distances and scale, under the neighbourhood picture: the joint PCA
    plane (when UMAP is on screen) and the norms of z against the prior's."""
    umap_shown = view["method"] == "umap"
    columns = st.columns(2) if umap_shown else [st.container()]
    if umap_shown:
        pca_projector, _ = common.latent_projector(root(), source.run_id, "pca", view["seed"], view["cap"])
        try:
            frame = pca_frame(pca_projector, epoch, source)
        except (ValueError, runs.RunError):
            frame = None  # the main picture already says why
        if frame is not None:
            columns[0].plotly_chart(
                plots.latent_figure(frame.z_xy, frame.prior_xy, title="PCA plane: keeps scale", height=320,
                                    node_rows=frame.z_index if frame.z_index is not None else np.arange(len(z)),
                                    highlight=chosen,
                                    revision=f"latent-pca-{source.run_id}-{view['cap']}-{view['seed']}"),
                key="latent_pca_scale", config={"displaylogo": False})
    if np.isfinite(z).all():
        prior = projection.prior_samples(len(z), z.shape[1], view["seed"])
        columns[-1].plotly_chart(plots.norm_figure({"Z: fake": z}, prior, revision=f"norms-{source.run_id}"),
                                 key="latent_norms", config={"displaylogo": False})


def side_panel(source: Source, epoch: int, view: dict) -> bool:
    """The prior-match curves over the snapshots so far, and Z's dimensions against N(0, 1).
    Returns whether the curves are still being computed."""
    curve = prior_match_curve(root(), source.run_id, view["seed"])
    left = curve.fill(source.epochs, first=epoch, budget_seconds=CURVE_BUDGET_SECONDS)
    points = curve.points(source.epochs)
    span = (source.epochs[0], source.config.epochs)
    st.plotly_chart(plots.prior_match_figure(points, current=epoch, epochs=span, revision=f"pm-{source.run_id}"),
                    key="latent_prior_match", config={"displaylogo": False})
    st.plotly_chart(plots.mmd_figure([(e, m["mmd"]) for e, m in points], current=epoch,
                                     revision=f"mmd-{source.run_id}", epochs=source.config.epochs),
                    key="latent_mmd", config={"displaylogo": False})
    st.caption(f"Computing the curves: {left} of {len(source.epochs)} epochs to go." if left else
               "Spread: per-dimension std of Z, averaged (the prior's is 1). Classifier: held-out accuracy of a "
               "fresh small network telling Z from prior samples (0.5: it cannot). MMD²: kernel two-sample "
               f"distance, RBF bandwidths 0.5, 1 and 2 x {metrics.mmd_bandwidth(source.config.latent_size):.1f} "
               "(0: indistinguishable).")
    try:
        stats = dimension_stats(root(), source.run_id, epoch)
    except ValueError as exc:
        st.error(str(exc))
        return bool(left)
    size = len(stats["ks"])
    choice = st.segmented_control("Dimensions", DIMENSION_CHOICES, format_func=DIMENSION_LABELS.get,
                                  default="first", key="latent_dims_choice",
                                  help="First 8: dimensions 0-7. Furthest 8: the 8 dimensions whose values are "
                                       "furthest from N(0, 1) by the Kolmogorov-Smirnov distance. Pick: choose.")
    if choice == "pick":
        dims = st.multiselect("Dimensions to show", list(range(size)), default=list(range(min(8, size))),
                              max_selections=16, key="latent_dims")
    elif choice == "furthest":
        dims = sorted(np.argsort(-stats["ks"])[:8].tolist())
    else:
        dims = list(range(min(8, size)))
    if dims:
        st.plotly_chart(dimension_figure(root(), source.run_id, epoch, tuple(int(d) for d in dims)),
                        key="latent_dims_figure", config={"displaylogo": False})
    st.caption("Bars: Z's values in one dimension; line: what N(0, 1) predicts for as many values. "
               "KS: Kolmogorov-Smirnov distance to N(0, 1) (0 is a perfect match).")
    return bool(left)


# ------------------------------------------------------------------ the page
st.title("Latent space")
options, labels = source_options()
if not options:
    st.info("No runs yet. Train one on the **Train** page (KarateClub takes seconds); its latent space "
            "appears here while it trains.", icon=":material/scatter_plot:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()
with st.sidebar:
    choice = pick_source(options, labels)
view = settings()


@st.fragment(run_every=st.session_state.get("latent_poll"))
def latent_view() -> None:
    source = resolve(choice)
    if isinstance(source, str):
        st.error(source, icon=":material/error:")
        return
    poll = None
    if source.note or not source.epochs:
        st.info(source.note or f"No snapshot of Z yet: one is saved every {source.config.snapshot_interval} "
                "epochs.", icon=":material/hourglass_top:")
    else:
        st.caption(f"**{source.label}**, run {source.run_id}, latent size {source.config.latent_size}"
                   + (" · training: the newest snapshot appears on its own." if source.live else "."))
        epoch = epoch_picker(source, view)
        left, right = st.columns([3, 2])
        with left:
            scatter(source, epoch, view, graph_info(root(), source.run_id))
        with right:
            curve_unfinished = side_panel(source, epoch, view)
        if st.session_state.get("latent_playing"):
            poll = PLAY_SECONDS
        elif pending(source, epoch, view) or curve_unfinished:
            poll = LIVE_SECONDS / 2
    if source.live and poll is None:
        poll = LIVE_SECONDS
    if poll != st.session_state.get("latent_poll"):
        st.session_state["latent_poll"] = poll  # the refresh rate is set when the fragment is defined
        st.rerun()


latent_view()
