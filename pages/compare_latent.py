"""The Compare page's latent pictures: every model's Z against the same prior samples, side by
side (PCA while training, UMAP of the scored Z once over), nodes picked in one ringed in all.
The UMAP pictures are drawn by the server's picture process as each run ends and read from
beside the run (argae_core.pictures); PCA stands in until they are there."""
from __future__ import annotations

import streamlit as st

from argae_core import ahead, plots, projection
from pages import common
from pages.compare_data import UMAP_NOTE, cached_umap, latent_of, node_rows, picture_key, umap_picture
from pages.knobs import MODEL_LABELS

PROJECTIONS = {"pca": "PCA (instant)", "umap": "UMAP (neighbourhoods; drawn as each run ends)"}
DIMENSIONS = {2: "2-D", 3: "3-D"}
PICK_IN_3D = "In 3-D, switch to 2-D to pick nodes; the followed ones stay ringed in every picture."


def controls(row, kept: dict) -> tuple[str, int]:
    """The latent pictures' projection and dimensions, in the row of the page's buttons."""
    method = row.radio("Latent pictures", list(PROJECTIONS), index=list(PROJECTIONS).index(kept["method"]),
                       format_func=PROJECTIONS.get, horizontal=True, key="cmp_projection", label_visibility="collapsed")
    dims = row.radio("Latent picture dimensions", list(DIMENSIONS), index=list(DIMENSIONS).index(kept.get("dims", 2)),
                     format_func=DIMENSIONS.get, horizontal=True, key="cmp_dims", label_visibility="collapsed",
                     help="3-D: the same pictures with a third axis, to turn by dragging.")
    return method, int(dims)


def by_model(jobs: list, models: list[str]) -> dict[str, list]:
    return {m: [j for j in jobs if j.config.model == m] for m in models}


def picture(job, method: str, seed: int, components: int = 2):
    """(projection, note): PCA aligned onto this job's previous frame, or UMAP of the final Z."""
    epoch, z, final = latent_of(job)
    if z is None:
        return None, None
    note = f"epoch {epoch}" + (" (best validation: the Z the table scores)" if final else " (training)")
    if method == "umap":
        if final and components == 3:   # 3-D: drawn here, on demand, once umap has compiled
            if projection.is_warm():
                frame = umap_picture(job.run_id, seed, components)
                if frame is not None:
                    return frame, note + " · UMAP"
            projection.warm_up()
            note += " · PCA until UMAP has compiled"
        elif final:
            frame, quick = cached_umap(job, epoch, seed)
            if frame is not None:
                return frame, note + (" · UMAP, a quick layout: the full one follows" if quick else " · UMAP")
            failed = ahead.answer(picture_key(job, epoch, seed)) or ""
            note += (f" · PCA: the UMAP picture {failed}" if failed.startswith("failed")
                     else f" · PCA until its UMAP picture is drawn ({UMAP_NOTE})")
        else:
            note += " · PCA until the run ends, then UMAP"
    return pca_of(job, seed, components), note + ("" if method == "umap" else " · PCA")


def latent_section(jobs: list, models: list[str], seed: int, method: str, components: int = 2) -> None:
    st.header("Latent clouds" + (f" (seed {seed})" if len({j.config.seed for j in jobs}) > 1 else ""))
    shown = {m: next((j for j in group if j.config.seed == seed), group[0]) for m, group in by_model(jobs, models).items()}
    followed = followed_nodes(models)
    clouds = {}
    for column, (model, job) in zip(st.columns(len(models)), shown.items()):
        label = MODEL_LABELS[model]
        with column:
            try:
                frame, note = picture(job, method, seed, components)
            except ValueError as exc:  # e.g. a Z with NaN rows
                st.warning(f"{label}: no picture ({exc}).")
                continue
            if frame is None:
                st.info(f"{label}: no picture yet" + (" (it ended before its first snapshot)."
                                                       if not job.active else "."), icon=":material/hourglass_top:")
                continue
            figure = plots.latent_figure(frame.z_xy, frame.prior_xy, title=label, height=360,
                                         revision=f"cmp-latent-{model}-{components}-{frame.method}-{'quick' in note}", node_rows=node_rows(frame, job),
                                         highlight=followed, webgl=False)
            if components == 3:  # plotly reports no selection in a 3-D scene
                st.plotly_chart(figure, key=f"cmp_latent3d_{model}")
            else:
                st.plotly_chart(figure, key=f"cmp_latent_{model}", on_select="rerun",
                                selection_mode=("points", "box", "lasso"))
            st.caption(note)
            clouds[label] = latent_of(job)[1]
            if frame.method == "umap":  # the scale UMAP discards, in the plane that keeps it
                pca = pca_of(job, seed)  # the plane, in either view
                st.plotly_chart(plots.latent_figure(pca.z_xy, pca.prior_xy, title=f"{label}: PCA plane (keeps scale)",
                                                    height=300, revision=f"cmp-pca-{model}", node_rows=node_rows(pca, job),
                                                    highlight=followed, webgl=False), key=f"cmp_pca_{model}")
    st.caption("Each model's Z (fake) with as many N(0, I) samples (real, the same draw for every model), "
               "projected together. Click or lasso nodes in one picture: they are ringed in every picture, so you "
               f"see where each model puts the same nodes{f' ({len(followed)} followed)' if followed else ''}."
               + (" " + PICK_IN_3D if components == 3 else "")
               + (" " + plots.UMAP_HIDES_SCALE if method == "umap" else ""))
    if clouds:
        z = next(iter(clouds.values()))
        prior = projection.prior_samples(len(z), z.shape[1], seed)
        st.plotly_chart(plots.norm_figure(clouds, prior, revision="cmp-norms"), key="cmp_norms")
        st.caption("The norm ||z|| of every node's vector against the prior's (which sits near the square root of "
                   "the latent size): a narrow cloud sits left of the prior, whatever a projection shows.")


def followed_nodes(models: list[str]) -> list[int]:
    """The nodes picked (click, lasso) in any model's picture; a new selection replaces them."""
    for model in models:
        state = st.session_state.get(f"cmp_latent_{model}")
        points = state["selection"]["points"] if state else []
        picked = sorted({int(p["customdata"]) for p in points if p.get("customdata") is not None})
        if picked and picked != st.session_state.get(f"compare_seen_{model}"):
            st.session_state["compare_follow"] = picked
        st.session_state[f"compare_seen_{model}"] = picked
    return st.session_state.get("compare_follow", [])


def pca_of(job, seed: int, components: int = 2):
    """The job's PCA frame, aligned onto its previous one (kept per job and number of
    dimensions in the session: a 2-D and a 3-D frame never replace each other)."""
    frames = st.session_state.setdefault("compare_frames", {})
    z, key = latent_of(job)[1], (job.job_id, components)
    frames[key] = common.pca_picture(z, seed, frames.get(key), components)
    return frames[key]
