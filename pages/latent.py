"""Latent space: where the node embeddings Z sit against samples of the N(0, I) prior, epoch
by epoch, for the session's training (live) or any saved run."""
from __future__ import annotations

import streamlit as st

from pages import page_setup

page_setup()  # first: see pages/__init__.py

from argae_core import plots, projection  # noqa: E402
from pages import follow, latent_side, latent_views  # noqa: E402
from pages.latent_data import Source, dropped_note, graph_info, resolve, root, source_options  # noqa: E402
from pages.latent_frames import DIMENSION_LABELS, METHOD_LABELS, pending, projector_of  # noqa: E402

LIVE_SECONDS = 1.0               # refresh while snapshots may still arrive or a frame is computed
PLAY_SECONDS = 0.8               # one epoch per tick while playing
MAX_CAP = 50_000


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


# ------------------------------------------------------------------ settings
def settings() -> dict:
    """The sidebar's view settings."""
    with st.sidebar:
        st.header("Picture")
        method = st.radio("Projection", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="latent_method",
                          help="UMAP keeps neighbourhoods; PCA is linear and instant. Both project Z and "
                               "the prior samples together, so distances compare.")
        dims = st.radio("2-D or 3-D", list(DIMENSION_LABELS), format_func=DIMENSION_LABELS.get, horizontal=True,
                        key="latent_dims", help="3-D: the same picture with a third axis, to turn by dragging "
                                                "(a 3-D UMAP is computed once per epoch, then kept).")
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
    return dict(method=method, dims=int(dims), colour=colour, show_z=show_z, show_prior=show_prior, cap=int(cap),
                seed=int(seed))


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
        _, filler = projector_of(source, view, "umap")
        filler.ask(later[0], source.epochs)  # the frame ahead, even if the one on screen was ready
    else:
        st.session_state["latent_epoch"] = later[0]


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
        st.info(source.note or dropped_note(source) or f"No snapshot of Z yet: one is saved every "
                f"{source.config.snapshot_interval} epochs.", icon=":material/hourglass_top:")
    else:
        st.caption(f"**{source.label}**, run {source.run_id}, latent size {source.config.latent_size}"
                   + (" · training: the newest snapshot appears on its own." if source.live else "."))
        epoch = epoch_picker(source, view)
        if dropped_note(source):
            st.caption(f":material/delete_sweep: {dropped_note(source)}")
        graph = graph_info(root(), source.run_id)
        left, right = st.columns([3, 2])
        with left:
            shown = latent_views.scatter(source, epoch, view, graph)
        with right:
            curve_unfinished = latent_side.side_panel(source, epoch, view)
        if shown is not None:   # across the page's width: four-column tables ran past a 1024 px column
            follow.panel(source, shown[0], graph, shown[1])
        if st.session_state.get("latent_playing"):
            poll = PLAY_SECONDS
        # a stand-in drawn: poll, though its frame may be done already (a quick one finished between
        # frame_for and pending(), and the page waited on PCA for good)
        elif (shown is not None and not shown[2]) or pending(source, epoch, view) or curve_unfinished:
            poll = LIVE_SECONDS / 2
    if source.live and poll is None:
        poll = LIVE_SECONDS
    if poll != st.session_state.get("latent_poll"):
        st.session_state["latent_poll"] = poll  # the refresh rate is set when the fragment is defined
        st.rerun()


latent_view()
