"""Helpers shared by the pages: the session's identity, the server's job manager, the
dataset loader cache, live PCA pictures and the shared latent projectors (the knob widgets
are in pages/knobs.py).

Torch-free on import (a test checks it): Home and the Train page render and accept Start
without torch / PyG in the page process (their first import takes 5-25 s on a fresh server);
what needs a graph in this process imports the engine where it is used."""
from __future__ import annotations

import os
import threading

import streamlit as st

from argae_core.config import FIELDS, ConfigError, TrainConfig
from argae_core.graph_info import SummaryService, data_part
from argae_core.jobs import JobManager, ProcessExecutor, ThreadExecutor, default_slots
from pages import internals


# --------------------------------------------------------------- session & server
def session_id() -> str:
    return internals.session_id()


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """One per server: bounded workers shared by every session (ARGAE_MAX_JOBS). With
    ARGAE_RAY_ADDRESS set, the queue and trainings of a Ray cluster that every replica shares."""
    from pages import signin
    signin.adopt_disk_budgets()   # before any worker starts: they read the budgets from the environment
    address = os.environ.get("ARGAE_RAY_ADDRESS")
    if address:
        from argae_core.ray_jobs import cluster_job_manager   # only here: the plain app never imports ray
        return cluster_job_manager(address, liveness=internals.session_alive)
    slots = default_slots()
    executor = (ThreadExecutor(slots) if os.environ.get("ARGAE_EXECUTOR") == "thread"
                else ProcessExecutor(slots))
    manager = JobManager(executor, liveness=internals.session_alive)
    if internals.real_server():   # a run's UMAP pictures drawn as it ends (not under AppTest)
        from argae_core import ahead
        manager.add_done_hook(ahead.run_ended)
    return manager


@st.cache_resource(show_spinner=False)
def _projection_warm_up() -> threading.Thread:
    """Once per server: the picture process (argae_core.ahead), at a lower priority: it
    compiles umap into numba's disk cache (or loads it), then draws UMAP pictures ahead of need."""
    from argae_core import warm
    return warm.start_ahead()


@st.cache_resource(show_spinner=False)
def graph_summaries() -> SummaryService:
    """One per server: graph summaries from a helper process (the Train page's caption)."""
    service = SummaryService()
    service.start()
    return service


def start_background_services() -> None:
    graph_summaries()
    job_manager()
    _projection_warm_up()


def room_for_runs() -> int:
    """How many more runs this session may start (the job manager's per-user limit)."""
    manager = job_manager()
    return manager.max_jobs_per_owner - sum(j.active for j in manager.jobs_of(session_id()))


def heartbeat() -> None:
    """Tell the job manager this session is alive on every page (jobs of gone sessions stop)."""
    job_manager().touch(session_id())


# --------------------------------------------------------------------- data
@st.cache_resource(show_spinner="Loading the graph...", max_entries=16)
def _cached_graph(config_json: str):
    from argae_core.data import load_graph
    return load_graph(TrainConfig.from_json(config_json))


def _data_part(config: TrainConfig) -> str:
    """The settings a config's graph depends on, as JSON (the cache key of its graph)."""
    return data_part(config).to_json()


def graph_for(config: TrainConfig):
    """(graph, None) or (None, message) for the dataset part of a config (imports the engine)."""
    from argae_core.data import DatasetUnavailable
    try:
        return _cached_graph(_data_part(config)), None
    except (DatasetUnavailable, ConfigError, ValueError) as exc:
        return None, str(exc)


def graph_summary_for(config: TrainConfig) -> tuple[str, dict | str | None]:
    """("ready", summary) | ("error", message) | ("pending", None), without torch here.
    Under AppTest (no real server: nothing reruns the page when an answer comes) the graph
    is read in this process, at once."""
    if internals.real_server():
        return graph_summaries().get(config)
    graph, error = graph_for(config)
    if error:
        return "error", error
    return "ready", graph.summary()


@st.cache_resource(show_spinner="Reading the run's edge split...", max_entries=8)
def _cached_edges(data_json: str, seed: int):
    from argae_core.data import split_edges
    split = split_edges(_cached_graph(data_json), seed)
    return split.train_edge_index.numpy(), split.test_pos.numpy()


def edges_for(config: TrainConfig):
    """((training edges, held-out test edges) as [2, E] arrays, None) of a run's split, the one
    its Trainer drew, or (None, message)."""
    from argae_core.data import DatasetUnavailable
    try:
        return _cached_edges(_data_part(config), config.seed), None
    except (DatasetUnavailable, ConfigError, ValueError) as exc:
        return None, str(exc)


def graph_caption(graph) -> str:
    """One line about a graph, from the graph or its summary (`Graph.summary`)."""
    s = graph if isinstance(graph, dict) else graph.summary()
    classes = f", {s['classes']} classes" if s["classes"] else ", no labels"
    return f"**{s['name']}**: {s['nodes']:,} nodes, {s['edges']:,} edges, {s['features']:,} features{classes}."


# ------------------------------------------------------------------ words
def plural(count: int, noun: str) -> str:
    """'1 discriminator update', '5 discriminator updates'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def time_left(seconds: float | None) -> str:
    """' · about 40 s left' (' · about 3 min left'), or nothing when the pace is not known."""
    if seconds is None:
        return ""
    return f" · about {seconds:.0f} s left" if seconds < 90 else f" · about {seconds / 60:.0f} min left"


# The metrics table's long column names, shown short with the rest as the header's tooltip, so
# that all ten columns fit the main column at 1024 px (the prior-match ones were cut off)
METRIC_HEADERS = {"test edges": ("edges", "held-out test edges (as many non-edges) the AUC / AP are on"),
                  "spread (prior: 1)": ("spread", "per-dimension std of Z, averaged; the prior's is 1"),
                  "C2ST (0.5: like prior)": ("C2ST", "held-out accuracy of a classifier telling Z from "
                                                     "prior samples; 0.5: it cannot"),
                  "MMD to prior": ("MMD", "kernel two-sample distance of Z to N(0, I); 0: indistinguishable")}


def metrics_table(metrics: dict[str, dict], key: str) -> None:
    """The final test metrics of runs (label -> metrics), one row each."""
    from argae_core import plots
    config = {c: st.column_config.NumberColumn(format="%.3f") for c in plots.METRICS_TABLE_SCORES}
    for column, (label, tip) in METRIC_HEADERS.items():
        digits = {"test edges": None, "MMD to prior": "%.4f"}.get(column, "%.3f")
        config[column] = st.column_config.NumberColumn(label, help=tip, format=digits)
    st.dataframe(plots.metrics_table_rows(metrics), hide_index=True, width="stretch", key=key, column_config=config)


# ------------------------------------------------------------------ pictures
def pca_picture(z, seed: int, previous=None, components: int = 2):
    """Z and as many prior samples in one PCA projection (instant, for live pictures) in 2-D
    or 3-D, aligned onto `previous` when given so that successive pictures do not flip."""
    from argae_core import projection
    prior = projection.prior_samples(len(z), z.shape[1], seed)
    same_points = (previous is not None and previous.components == components
                   and len(previous.z_xy) == min(len(z), projection.DEFAULT_CAP))
    return projection.project(z, prior, method="pca", seed=seed, init=previous if same_points else None,
                              components=components)


# ------------------------------------------------------------ latent frames
@st.cache_resource(show_spinner=False, max_entries=16)
def latent_projector(runs_root: str, run_id: str, method: str, seed: int, cap: int, components: int = 2):
    """(Projector, FrameFiller) of one run, method, seed, cap and number of dimensions (2-D
    and 3-D pictures are cached apart), shared by every session: its frames are the cache
    that makes scrubbing back instant."""
    from argae_core import projection, runs
    from argae_core.frames import FrameFiller
    projector = projection.Projector(method, seed, cap, components)
    return projector, FrameFiller(projector, lambda epoch: runs.load_run(run_id, runs_root).snapshot(epoch)[0])
