"""The Latent page's pictures: the joint picture of Z and prior samples (UMAP computed in the
background, PCA standing in), the planes that keep scale, and the discriminator's view."""
from __future__ import annotations

import numpy as np
import streamlit as st

from argae_core import judge, plots, projection, runs
from pages import follow
from pages.latent_data import Source, root, snapshot
from pages.latent_frames import LIVE_NOTE, METHOD_LABELS, QUICK, frame_for, newest_drawn, pca_frame, projector_of

PICK_IN_3D = "In 3-D, pick nodes in the Follow nodes box below or in the 2-D view; followed nodes stay ringed."


# ------------------------------------------------------------------ drawing
def scatter(source: Source, epoch: int, view: dict, graph: runs.GraphInfo) -> tuple[np.ndarray, list[int], bool] | None:
    """The joint picture; notes go below it, so the chart does not jump when one comes or
    goes (the UMAP note does, once its frame is ready). Returns this epoch's Z, the followed
    nodes (for follow.panel, drawn across the page's width) and whether the picture drawn is the
    one asked for (not PCA standing in, nor a quick layout); None where there is no picture."""
    frame, note = frame_for(source, epoch, view)
    newest = bool(source.epochs) and epoch == source.epochs[-1]
    drawn = newest_drawn(source, epoch, view) if note and newest and view["method"] == "umap" else None
    if drawn is not None:   # the newest snapshot's picture is on its way (also just after the run's end)
        note = (f"UMAP of epoch {drawn[0]}, the newest drawn: epoch {epoch}'s follows in seconds"
                + (f" ({LIVE_NOTE})." if source.live else "."))
        epoch, frame = drawn
    if frame is None:
        st.error(f"No picture at epoch {epoch}: {note}", icon=":material/error:")
        return None
    notes = [note] if note else []
    z, d_score = snapshot(root(), source.run_id, epoch)
    rows = frame.z_index if frame.z_index is not None else np.arange(len(z))
    scores = d_score[rows] if d_score is not None else None
    shown_nodes = graph.snapshot_node(rows)   # a snapshot row's node (big graphs keep a subsample)
    labels = graph.labels[shown_nodes] if graph.labels is not None else None
    colour = view["colour"]
    if colour == "score" and scores is None:
        notes.append(f"{source.config.model.upper()} has no discriminator, so there is no D(z) to colour by: "
                     "Z is drawn as the fake cloud. Pick an ARGA or ARGVA run to see D's verdict.")
        colour = "cloud"
    if colour == "label" and labels is None:
        notes.append("This graph has no class labels: Z is drawn as the fake cloud.")
        colour = "cloud"
    hover = plots.node_hover([graph.node_label(int(i)) for i in shown_nodes],
                             [graph.label_name(int(i)) for i in shown_nodes] if labels is not None else None,
                             graph.degrees[shown_nodes], scores)
    follow.take_selection(source.run_id, st.session_state.get("latent_scatter"))  # the last 2-D click / lasso
    chosen = follow.followed(source.run_id)
    three_d = frame.components == 3
    shown = METHOD_LABELS[frame.method].split(" ")[0]
    fig = plots.latent_figure(
        frame.z_xy, frame.prior_xy, d_score=scores, colour=colour, labels=labels,
        class_names=graph.class_names, degrees=graph.degrees[shown_nodes], z_hover=hover,
        show_z=view["show_z"], show_prior=view["show_prior"], height=560, node_rows=shown_nodes, highlight=chosen,
        # "in 3-D" in place of "as many": the longer title ran past a 1024 px window's column
        title=f"Epoch {epoch}: Z and {'N(0, I) samples in 3-D' if three_d else 'as many N(0, I) samples'} ({shown})",
        revision=f"latent-{source.run_id}-{frame.method}-{frame.components}-{view['cap']}-{view['seed']}-{QUICK in (note or '')}")
    if three_d:  # plotly reports no click or lasso in a 3-D scene (Streamlit passes on 2-D selections only)
        st.plotly_chart(fig, key="latent_scatter_3d", config={"displaylogo": False})
        st.caption(PICK_IN_3D)
    else:
        st.plotly_chart(fig, key="latent_scatter", config={"displaylogo": False}, on_select="rerun",
                        selection_mode=("points", "box", "lasso"))
    if notes:
        st.info("  \n".join(notes), icon=":material/hourglass_top:" if note else ":material/info:")
    caption = (f"{len(frame.z_xy):,} of {len(z):,} nodes and as many prior samples, a seeded subsample "
               f"(cap {view['cap']:,} per cloud, set in the sidebar)." if frame.subsampled
               else f"All {len(z):,} nodes and {len(frame.prior_xy):,} prior samples.")
    if graph.snapshot_nodes is not None:
        caption += (f" This run's snapshots keep the same seeded {len(z):,} of its {graph.nodes:,} nodes at every "
                    "epoch (setting `snapshot nodes`); its final Z, in the downloads, has them all.")
    st.caption(caption + " Hover a point for its node id, label, degree and D(z); click a legend entry to hide it."
               + (" Drag to turn the picture, scroll to zoom." if three_d else "")
               + (" " + plots.UMAP_HIDES_SCALE if frame.method == "umap" else "")
               + (f" Computed by {frame.backend}." if frame.backend not in projection.CPU_BACKENDS else ""))
    chosen = follow.picker(source.run_id, graph)
    scale_views(source, epoch, view, z, chosen, graph)
    if source.config.adversarial:
        discriminator_view(source, epoch, view, z)
    return z, chosen, note is None   # frame_for notes every stand-in


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


def scale_views(source: Source, epoch: int, view: dict, z: np.ndarray, chosen: list[int],
                graph: runs.GraphInfo) -> None:
    """Pictures that keep distances and scale, under the neighbourhood picture: the joint PCA
    plane (when UMAP is on screen) and the norms of z against the prior's."""
    umap_shown = view["method"] == "umap"
    columns = st.columns(2) if umap_shown else [st.container()]
    if umap_shown:
        pca_projector, _ = projector_of(source, {**view, "dims": 2}, "pca")  # a plane, in either view
        try:
            frame = pca_frame(pca_projector, epoch, source)
        except (ValueError, runs.RunError):
            frame = None  # the main picture already says why
        if frame is not None:
            columns[0].plotly_chart(
                plots.latent_figure(frame.z_xy, frame.prior_xy, title="PCA plane: keeps scale", height=320,
                                    node_rows=graph.snapshot_node(
                                        frame.z_index if frame.z_index is not None else np.arange(len(z))),
                                    highlight=chosen,
                                    revision=f"latent-pca-{source.run_id}-{view['cap']}-{view['seed']}"),
                key="latent_pca_scale", config={"displaylogo": False})
    if np.isfinite(z).all():
        prior = projection.prior_samples(len(z), z.shape[1], view["seed"])
        columns[-1].plotly_chart(plots.norm_figure({"Z: fake": z}, prior, revision=f"norms-{source.run_id}"),
                                 key="latent_norms", config={"displaylogo": False})
