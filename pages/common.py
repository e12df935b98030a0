"""Helpers shared by the pages: the session's identity, the server's job manager, the
dataset loader cache, and the config widgets built from `TrainConfig.FIELDS`.

Torch-free on import (a test checks it): Home and the Train page render and accept Start
without torch / PyG in the page process (their first import takes 5-25 s on a fresh server);
what needs a graph in this process imports the engine where it is used."""
from __future__ import annotations

import os
import threading
from typing import Callable

import numpy as np
import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from argae_core.config import FIELDS, ConfigError, TrainConfig
from argae_core.graph_info import SummaryService, data_part
from argae_core.jobs import JobManager, ProcessExecutor, ThreadExecutor, default_slots


# Option labels stay short: a sidebar selectbox cuts anything past ~28 characters at every
# width; the detail goes in DATASET_HELP, shown by the widget's help icon.
DATASET_LABELS = {"karate": "KarateClub", "planted": "Planted partition", "cora": "Cora",
                  "citeseer": "CiteSeer", "pubmed": "PubMed"}
DATASET_HELP = ("KarateClub: 34 nodes, ships inside PyG (offline). Planted partition: generated from a "
                "seed (offline), with the knobs below. Cora, CiteSeer, PubMed: Planetoid citation graphs "
                "(raw files in the data folder, or a download on a networked machine).")
MODEL_LABELS = {"gae": "GAE", "vgae": "VGAE", "arga": "ARGA", "argva": "ARGVA"}
FEATURE_LABELS = {"raw": "raw", "row_normalized": "row-normalised", "identity": "identity (no features)",
                  "degree": "degree"}
FINISHED_MESSAGES = {"finished": "Training finished.", "stopped": "Stopped early.",
                     "diverged": "Training diverged.", "failed": "Training failed."}


# --------------------------------------------------------------- session & server
def session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else "no-session"


def _session_alive(owner: str) -> bool | None:
    """Whether a browser session is still connected; None when not under a real server."""
    try:
        runtime = Runtime.instance()
    except RuntimeError:  # no server (tests, bare mode)
        return None
    verdict = runtime.is_active_session(owner)
    return verdict if isinstance(verdict, bool) else None


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """One per server: bounded workers shared by every session (ARGAE_MAX_JOBS). With
    ARGAE_RAY_ADDRESS set, the queue and trainings of a Ray cluster that every replica shares."""
    address = os.environ.get("ARGAE_RAY_ADDRESS")
    if address:
        from argae_core.ray_jobs import cluster_job_manager   # only here: the plain app never imports ray
        return cluster_job_manager(address, liveness=_session_alive)
    slots = default_slots()
    executor = (ThreadExecutor(slots) if os.environ.get("ARGAE_EXECUTOR") == "thread"
                else ProcessExecutor(slots))
    return JobManager(executor, liveness=_session_alive)


@st.cache_resource(show_spinner=False)
def _projection_warm_up() -> threading.Thread:
    """Once per server: umap compiled into numba's disk cache in a lower-priority process
    (argae_core.warm), so the first UMAP picture loads it in seconds rather than compile."""
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
    if Runtime.exists() and type(Runtime.instance()) is Runtime:
        return graph_summaries().get(config)
    graph, error = graph_for(config)
    if error:
        return "error", error
    from argae_core.data import summary
    return "ready", summary(graph)


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
    """One line about a graph, from the graph or its summary (`data.summary`)."""
    if isinstance(graph, dict):
        s = graph
    else:
        from argae_core.data import summary
        s = summary(graph)
    classes = f", {s['classes']} classes" if s["classes"] else ", no labels"
    return f"**{s['name']}**: {s['nodes']:,} nodes, {s['edges']:,} edges, {s['features']:,} features{classes}."


# ------------------------------------------------------------------ widgets
def use_config(config: TrainConfig) -> None:
    """Make `config` the Train page's editable settings (a preset, a saved run's settings)."""
    st.session_state["config"] = config.to_dict()
    for key in [k for k in st.session_state if str(k).startswith("w_")]:
        del st.session_state[key]  # widgets keep their own state; drop it so they show `config`
    st.session_state.pop("preset_note", None)


def _label(name: str) -> str:
    return name.replace("_", " ").replace("lr", "learning rate").capitalize()


def config_widget(name: str, value, *, container=st, label: str | None = None, key_prefix: str = "w",
                  option_labels: dict[str, str] | None = None, disabled: bool = False):
    """A widget for one TrainConfig field, with its bounds and help from FIELDS;
    `option_labels` renames choices where their usual names would mislead."""
    meta = FIELDS[name].metadata
    key = f"{key_prefix}_{name}"
    label = label or _label(name)
    if meta["choices"]:
        names = {**DATASET_LABELS, **MODEL_LABELS, **FEATURE_LABELS, **(option_labels or {})}
        options = list(meta["choices"])
        return container.selectbox(label, options, index=options.index(value) if value in options else 0,
                                   format_func=lambda v: names.get(v, v), help=meta["help"], key=key,
                                   disabled=disabled)
    is_int = FIELDS[name].type.startswith("int")
    lo, hi = meta["min"], meta["max"]
    if is_int:
        return container.number_input(label, min_value=lo, max_value=hi, value=value, step=1,
                                      help=meta["help"], key=key, disabled=disabled)
    return container.number_input(label, min_value=float(lo), max_value=float(hi), value=value,
                                   format="%.6g", help=meta["help"], key=key,
                                   placeholder="default", step=None if value is None else _step(value),
                                   disabled=disabled)


def plural(count: int, noun: str) -> str:
    """'1 discriminator update', '5 discriminator updates'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _step(value: float) -> float:
    return float(f"{max(abs(value), 1e-6) / 10:.0e}")


# ------------------------------------------------------------------ pictures
def pca_picture(z, seed: int, previous=None):
    """Z and as many prior samples in one PCA projection (instant, for live pictures),
    aligned onto `previous` when given so that successive pictures do not flip."""
    from argae_core import projection
    prior = projection.prior_samples(len(z), z.shape[1], seed)
    same_points = previous is not None and len(previous.z_xy) == min(len(z), projection.DEFAULT_CAP)
    return projection.project(z, prior, method="pca", seed=seed, init=previous if same_points else None)


# ------------------------------------------------------------ latent frames
_ONE_UMAP_AT_A_TIME = threading.Lock()  # the machine's cores are shared with the trainings


def nearest_frame(frames: dict, epoch: int):
    """The computed frame whose epoch is nearest `epoch` (the earlier one on a tie), or None:
    the start a new frame warm-starts from and is aligned onto, in either direction, so
    jumping to the newest epoch first and scrubbing back still gives a steady picture."""
    done = [e for e in list(frames) if e != epoch]
    return frames[min(done, key=lambda e: (abs(e - epoch), e))] if done else None


class FrameFiller:
    """Computes a projector's missing frames in one background thread: the epoch a page
    asks for first, then the `reach` snapshots nearest to it, outward, each warm-started
    from its nearest computed neighbour, so scrubbing and playing find them ready and in
    line. (Bounded: a long run with a snapshot every epoch would keep a core busy for long.)

    `load_z(epoch)` returns that snapshot's Z. An epoch that cannot be projected (a
    diverged Z, a missing file) is kept in `errors` with its message and not retried."""

    def __init__(self, projector, load_z: Callable[[int], np.ndarray], reach: int = 12):
        self.projector, self.load_z, self.reach = projector, load_z, reach
        self.errors: dict[int, str] = {}
        self._wanted: int | None = None
        self._epochs: list[int] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ask(self, epoch: int, epochs: list[int]) -> None:
        """Compute `epoch` next, then the rest of `epochs` (the run's snapshots so far)."""
        with self._lock:
            self._wanted, self._epochs = epoch, list(epochs)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._fill, daemon=True, name="latent-frames")
                self._thread.start()

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def _next(self) -> int | None:
        with self._lock:
            nearest = sorted(self._epochs, key=lambda e: (abs(e - self._wanted), e))[:self.reach]
            missing = [e for e in nearest if e not in self.projector.frames and e not in self.errors]
            if not missing:
                self._thread = None
                return None
            return missing[0]

    def _fill(self) -> None:
        from argae_core import projection, runs
        from argae_core.jobs import WORKER_NICENESS
        from argae_core.threads import lower_priority
        lower_priority(WORKER_NICENESS + 2, this_thread=True)  # live pictures yield to the training
        if self.projector.method == "umap":
            warming = projection.warm_up(background=True)
            if warming is not None:
                warming.join()  # one compilation, not two racing ones
        while (epoch := self._next()) is not None:
            try:
                z = self.load_z(epoch)
                with _ONE_UMAP_AT_A_TIME:
                    self.projector.frame(epoch, z, nearest_frame(self.projector.frames, epoch))
            except (ValueError, runs.RunError, OSError) as exc:  # a diverged Z, a missing file
                self.errors[epoch] = str(exc)
            except Exception as exc:  # anything else from umap: say so rather than wait forever
                self.errors[epoch] = f"the projection failed ({type(exc).__name__}: {exc})"


@st.cache_resource(show_spinner=False, max_entries=16)
def latent_projector(runs_root: str, run_id: str, method: str, seed: int, cap: int):
    """(Projector, FrameFiller) of one run, method, seed and cap, shared by every session:
    its frames are the cache that makes scrubbing back instant."""
    from argae_core import projection, runs
    projector = projection.Projector(method, seed, cap)
    return projector, FrameFiller(projector, lambda epoch: runs.load_run(run_id, runs_root).snapshot(epoch)[0])
