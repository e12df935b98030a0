"""The Latent page's data: what it shows (a run on disk, perhaps still being written), and
the cached reads and measures of its snapshots, shared by its pictures."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import streamlit as st

from argae_core import access, plots, projection, runs
from argae_core.config import TrainConfig
from pages import common, signin
from pages.knobs import MODEL_LABELS

JOB = "__job__"                  # the source picker's value for the session's own training


@dataclass
class Source:
    """What the page shows: a run on disk, perhaps still being written."""
    run_id: str | None           # None while the session's job has not started
    label: str
    config: TrainConfig
    epochs: list[int]            # snapshot epochs so far
    live: bool                   # more snapshots may arrive
    note: str | None = None      # why there is nothing to show yet
    dropped: dict = field(default_factory=dict)   # epoch -> marker of snapshots dropped for a disk budget


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
    job = common.job_manager().get(st.session_state.get("train_job"), common.session_id())
    summaries = access.visible(signin.viewer(), runs.list_runs()[0])   # sign-in: own and shared runs
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
    return f"{MODEL_LABELS.get(s.model, s.model)} on {s.dataset} · {started}{s.run_id.rsplit('-', 1)[-1]}"


def resolve(choice: str) -> Source | str:
    """The chosen source now (snapshots keep arriving while it trains), or a message."""
    if choice == JOB:
        job = common.job_manager().get(st.session_state.get("train_job"), common.session_id())
        if job is None:
            return "Your training is gone (the server restarted?). Pick a saved run."
        note = None if job.run_id else "Waiting for the training to start..."
        dropped = runs.dropped_snapshots(job.run_id) if job.run_id else {}
        return Source(job.run_id, job.label, job.config, [e for e in job.snapshot_epochs if e not in dropped],
                      job.active, note, dropped)
    try:
        run = runs.load_run(choice)
    except runs.RunError as exc:
        return str(exc)
    label = f"{MODEL_LABELS.get(run.config.model, run.config.model)} on {run.config.dataset}"
    return Source(run.run_id, label, run.config, run.snapshot_epochs, run.status == "running",
                  dropped=run.dropped_epochs)


def dropped_note(source: Source) -> str | None:
    """The slider's note on snapshots dropped to keep a disk budget (None: none dropped)."""
    if not source.dropped:
        return None
    epochs = sorted(source.dropped)
    shown = ", ".join(map(str, epochs[:8])) + (f" and {len(epochs) - 8} more" if len(epochs) > 8 else "")
    return (f"{len(epochs)} snapshot(s) of this run (epoch {shown}) were "
            f"{runs.budget.drop_note(source.dropped[epochs[-1]])}, the oldest first: the slider shows the "
            f"{len(source.epochs)} kept. Its final Z, metrics and config are kept (Runs page).")
