"""What the Compare page's latent pictures are drawn from: each run's scored Z read from disk,
its UMAP picture (drawn ahead by the server's picture process, argae_core.pictures, or here in
3-D), the nodes a big graph's snapshots keep; no drawing here (pages/compare_latent.py)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from argae_core import ahead, pictures, projection, runs
from pages import internals

@st.cache_data(show_spinner=False, max_entries=32)
def final_embedding(run_id: str) -> tuple[int, object] | None:
    """(epoch, Z) the run's metrics score, read from disk; None if it saved none."""
    try:
        final = runs.load_run(run_id).final_embedding()
    except runs.RunError:
        return None
    return None if final is None else (final[0], final[1])


@st.cache_data(show_spinner="Drawing the UMAP picture...", max_entries=32)
def umap_picture(run_id: str, seed: int, components: int = 2) -> projection.Projection | None:
    """The UMAP frame of a finished run's scored Z, cached per number of dimensions (3-D: the
    picture process draws the 2-D ones ahead)."""
    final = final_embedding(run_id)
    if final is None:
        return None
    z = final[1]
    return projection.project(z, projection.prior_samples(len(z), z.shape[1], seed), "umap", seed=seed,
                              components=components)


@st.cache_data(show_spinner=False, max_entries=32)
def snapshot_nodes(run_id: str | None):
    """The nodes the run's snapshots keep (a big graph's seeded subsample; None: all)."""
    try:
        return runs.load_run(run_id).graph.snapshot_nodes if run_id else None
    except runs.RunError:
        return None


UMAP_NOTE = "about 3 s after the last run ends on this machine, the full layout about 15 s later"   # benchmarks/bench_projection.py (README, Measured)


def picture_key(job, epoch: int, seed: int) -> pictures.PictureKey:
    return pictures.PictureKey(job.run_id, pictures.FINAL, epoch, "umap", seed)


def cached_umap(job, epoch: int, seed: int) -> tuple[projection.Projection | None, bool]:
    """(the UMAP picture of the job's scored Z if the picture process has drawn it, whether
    it is the quick layout); else ask it to (first in its line: a page waits)."""
    key = picture_key(job, epoch, seed)
    entry = pictures.load_entry(key)
    if entry is None and internals.real_server():  # under AppTest no picture process runs
        ahead.request(key, priority=ahead.NOW)
    return (None, False) if entry is None else (entry[0], pictures.is_quick(key, entry[1]))


def pictures_missing(jobs: list, seed: int) -> bool:
    """Whether a finished run's UMAP picture is still being drawn, or refined from its quick
    layout (the page refreshes until it is there; not when drawing it failed, nor where no
    picture process runs)."""
    if not internals.real_server():
        return False
    for job in jobs:
        if job is None or job.active or not job.run_id or job.config.seed != seed:
            continue
        final = final_embedding(job.run_id)
        if final is not None and pictures.load(key := picture_key(job, final[0], seed), full=True) is None \
                and not (ahead.answer(key) or "").startswith("failed"):
            return True
    return False


def latent_of(job) -> tuple[int | None, object, bool]:
    """(epoch, Z, final?): the scored embedding once the run is over, else its newest snapshot."""
    if not job.active and job.run_id:
        final = final_embedding(job.run_id)
        if final is not None:
            return final[0], final[1], True
    epoch, z, _ = job.latest_snapshot()
    return epoch, z, False


def node_rows(frame, job) -> np.ndarray:
    """The graph's node of each point: a snapshot of a big graph keeps a subsample of nodes (the
    same for every model of one seed), the scored final Z keeps them all."""
    rows = frame.z_index if frame.z_index is not None else np.arange(len(frame.z_xy))
    kept = None if latent_of(job)[2] else snapshot_nodes(job.run_id)
    return rows if kept is None else kept[rows]
