"""Train: pick a graph and hyperparameters, train in the background, watch both players."""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import ClassVar

import streamlit as st

from pages import engine_loading_note, page_setup

page_setup()  # first: see pages/__init__.py
loading = engine_loading_note()

import pandas as pd  # noqa: E402

from argae_core import metrics, plots, runs, uploads  # noqa: E402
from argae_core.config import FIELDS, ConfigError, TrainConfig  # noqa: E402
from pages import common, steer  # noqa: E402

if loading is not None:
    loading.empty()

manager = common.job_manager()
owner = common.session_id()
REFRESH_SECONDS = 0.5
RUN_PARAM = "run"   # ?run=<id>: the link of a saved run shown read-only


# ------------------------------------------------------------------ a saved run
@dataclass(frozen=True)
class SavedRun:
    """A saved run, read-only, with the fields of a `Job` that this page draws."""
    run_id: str
    label: str
    config: TrainConfig
    rows: list[dict]
    state: str
    metrics: dict | None
    message: str | None
    steering: tuple = ()             # changes steered into it (steering.json), for markers and the banner
    active: ClassVar[bool] = False   # nothing of it can be paused or stopped from here

    @property
    def epochs_done(self) -> int:
        return len(self.rows)

    @property
    def live(self) -> bool:
        """Still being written by its training (another session's, or the command line's)."""
        return self.state == "running"

    @classmethod
    def load(cls, run_id: str) -> "SavedRun":
        """Raises runs.RunError when the run is missing or unreadable."""
        run = runs.load_run(run_id)
        records = run.records.astype(object).where(run.records.notna(), None)
        dataset = runs.dataset_label(run.config.dataset, run.graph.name)
        return cls(run.run_id, f"{run.config.model.upper()} on {dataset}", run.config,
                   records.to_dict("records"), run.status, run.metrics, run.info.get("message"), tuple(run.steering))


def viewed_run() -> SavedRun | None:
    """The saved run this page shows: named by the URL (a shared link) or sent by the Runs
    page (`view_run`). One that cannot be read is said so and dropped."""
    run_id = st.query_params.get(RUN_PARAM) or st.session_state.get("view_run")
    if not run_id:
        return None
    try:
        run = SavedRun.load(run_id)
    except runs.RunError as exc:
        st.session_state["url_problem"] = f"The saved run `{run_id}` cannot be shown: {exc}."
        leave_run()
        return None
    st.session_state["view_run"] = run.run_id
    return run


def leave_run() -> None:
    st.session_state.pop("view_run", None)
    if RUN_PARAM in st.query_params:
        del st.query_params[RUN_PARAM]


# ------------------------------------------------------------------ the config
def initial_config() -> TrainConfig:
    """The URL's settings when it has valid ones, else the defaults (with a message)."""
    query = {k: st.query_params[k] for k in st.query_params if k != RUN_PARAM}
    if not query:
        return TrainConfig()
    try:
        return TrainConfig.from_query(query)
    except ConfigError as exc:
        st.session_state["url_problem"] = (
            "The link's settings could not be used, so the defaults are shown: "
            + "; ".join(f"{k}: {v}" for k, v in exc.problems.items()))
        return TrainConfig()


viewing = viewed_run()
if "config" not in st.session_state:
    st.session_state["config"] = initial_config().to_dict()
saved = TrainConfig.from_dict(st.session_state["config"])


def sidebar(saved: TrainConfig, run_id: str | None = None) -> dict:
    """Draw the knobs; return the values they hold. With `run_id`: that saved run's settings,
    read-only, under keys of their own (so the session's own knobs come back unchanged)."""
    read_only = run_id is not None
    prefix = f"view_{run_id}" if read_only else "w"
    w = functools.partial(common.config_widget, key_prefix=prefix, disabled=read_only)
    values: dict = {}
    with st.sidebar:
        st.header("Graph")
        choices = list(common.DATASET_LABELS) + ["upload"]
        current = "upload" if saved.dataset.startswith("upload:") else saved.dataset
        choice = st.selectbox(
            "Dataset", choices, format_func=lambda c: common.DATASET_LABELS.get(c, "Upload your own graph"),
            index=choices.index(current) if current in choices else 0, disabled=read_only,
            help=TrainConfig.__dataclass_fields__["dataset"].metadata["help"] + " " + common.DATASET_HELP,
            key=f"{prefix}_dataset")
        if read_only:
            values["dataset"] = saved.dataset
        else:
            values["dataset"] = upload_section(saved) if choice == "upload" else choice
        values["features"] = w("features", saved.features, option_labels=upload_feature_labels(values["dataset"]))
        if values["dataset"] == "planted":
            with st.expander("Planted partition", expanded=True):
                for name in ("planted_nodes", "planted_communities", "planted_p_in", "planted_p_out",
                             "planted_feature_dim", "planted_signal"):
                    values[name] = w(name, getattr(saved, name), label=_planted_label(name))
        st.header("Model")
        values["model"] = w("model", saved.model)
        adversarial = values["model"] in ("arga", "argva")
        variational = values["model"] in ("vgae", "argva")
        values["latent_size"] = w("latent_size", saved.latent_size)
        values["encoder_hidden"] = w("encoder_hidden", saved.encoder_hidden)
        if adversarial:
            values["discriminator_hidden"] = w("discriminator_hidden", saved.discriminator_hidden)
        st.header("Training")
        values["epochs"] = w("epochs", saved.epochs)
        values["seed"] = w("seed", saved.seed)
        values["encoder_lr"] = w("encoder_lr", saved.encoder_lr)
        if adversarial:
            values["discriminator_lr"] = w("discriminator_lr", saved.discriminator_lr)
            values["discriminator_steps"] = w("discriminator_steps", saved.discriminator_steps)
            values["reg_weight"] = w("reg_weight", saved.reg_weight, label="Regulariser weight")
        if variational:
            values["kl_weight"] = w("kl_weight", saved.kl_weight, label="KL weight")
        with st.expander("Logging and device"):
            for name in ("eval_interval", "snapshot_interval", "device"):
                values[name] = w(name, getattr(saved, name))
    return values


@st.cache_data(show_spinner="Reading your files...", max_entries=8)
def parse_and_store(edges: bytes, features: bytes | None, labels: bytes | None, name: str):
    """(upload id, report) or (None, message); cached on the bytes so reruns do not re-parse."""
    try:
        parsed = uploads.parse_upload(edges, features, labels, name=name)
        return uploads.save_upload(parsed), parsed.report
    except uploads.UploadError as exc:
        return None, str(exc)


def upload_section(saved: TrainConfig) -> str:
    """File uploaders and a preview; returns 'upload:<id>' or 'upload:' until a graph is valid."""
    st.caption("Plain text only: an edge list (CSV, TSV or whitespace; two columns of node ids, "
               "optional header), optional features (node id, values...) and labels (node id, label).")
    edges = st.file_uploader("Edge list", key="up_edges")
    features = st.file_uploader("Node features (optional)", key="up_features")
    labels = st.file_uploader("Node labels (optional)", key="up_labels")
    if edges is None:
        return saved.dataset if saved.dataset.startswith("upload:") else "upload:"
    try:
        upload_id, report = parse_and_store(edges.getvalue(), features and features.getvalue(),
                                            labels and labels.getvalue(), edges.name)
    except (OSError, MemoryError) as exc:  # not the file's fault, so not cached: the next try may work
        st.error(f"The server could not store this upload ({getattr(exc, 'strerror', None) or type(exc).__name__}); "
                 "the file itself may be fine. Try again, or ask whoever runs the server to check its disk "
                 "space (uploads go under ARGAE_CACHE_DIR).", icon=":material/error:")
        return "upload:"
    if upload_id is None:
        st.error(report, icon=":material/error:")
        return "upload:"
    st.session_state["upload_report"] = report
    return f"upload:{upload_id}"


def upload_feature_labels(dataset: str) -> dict[str, str] | None:
    """For an upload, "raw" named by what it trains on (a features file, or one-hot ids)."""
    report = st.session_state.get("upload_report")
    return {"raw": uploads.raw_feature_label(report)} if dataset.startswith("upload:") and report else None


def upload_preview(report: dict, features: str) -> None:
    cards = [("Nodes", report["nodes"]), ("Edges", report["edges"]), ("Isolated", report["isolated_nodes"]),
             ("Components", report["components"]), ("Feature size", report["feature_size"]),
             ("Classes", report.get("classes") or 0)]
    for column, (label, value) in zip(st.columns(len(cards)), cards):
        column.metric(label, f"{value:,}")
    st.caption(uploads.feature_sentence(report, features))
    for warning in report.get("warnings", []):
        st.warning(warning, icon=":material/info:")


def _planted_label(name: str) -> str:
    return {"planted_nodes": "Nodes", "planted_communities": "Communities", "planted_p_in": "p_in",
            "planted_p_out": "p_out", "planted_feature_dim": "Feature dimension",
            "planted_signal": "Feature signal"}[name]


def to_config(values: dict, saved: TrainConfig) -> TrainConfig:
    """Widget values over the saved config; settings the model does not use are cleared."""
    merged = {**saved.to_dict(), **values}
    if merged["model"] not in ("arga", "argva"):
        merged["reg_weight"] = None
    if merged["model"] not in ("vgae", "argva"):
        merged["kl_weight"] = None
    return TrainConfig(**merged)


if viewing:
    sidebar(viewing.config, viewing.run_id)
    config = viewing.config
    url = {RUN_PARAM: viewing.run_id}
else:
    config = to_config(sidebar(saved), saved)
    st.session_state["config"] = config.to_dict()
    url = config.to_query()
if url != {k: st.query_params[k] for k in st.query_params}:
    st.query_params.from_dict(url)  # the URL always holds the settings or the run: shareable

# ------------------------------------------------------------------ the page
def run_banner(run: SavedRun) -> None:
    """Say that the page shows a saved run, read-only, and offer the two ways on."""
    st.info(f"Showing the saved run `{run.run_id}`, **read-only**: the sidebar and the line below show "
            "its own settings, and this page's link reopens it. Your own training, if any, goes on in "
            "the background.", icon=":material/folder_open:")
    steer.steered_note(list(run.steering))
    row = st.container(horizontal=True)
    if row.button("Train a new run from these settings", icon=":material/restart_alt:", width="content",
                  help="Copy this run's settings into the sidebar, editable; nothing starts until you press Start."):
        common.use_config(run.config)
        st.session_state["config_note"] = (f"The sidebar holds the settings of run `{run.run_id}`: change any, "
                                           "then press **Start** to train a new run.")
        leave_run()
        st.rerun()
    if row.button("Back to live", icon=":material/arrow_back:", width="content",
                  help="Back to your own settings and training."):
        leave_run()
        st.rerun()


st.title("Train")
if "url_problem" in st.session_state:
    st.warning(st.session_state.pop("url_problem"))
if viewing:
    run_banner(viewing)
elif "config_note" in st.session_state:
    st.info(st.session_state.pop("config_note"), icon=":material/folder_open:")
elif st.session_state.get("preset_note"):
    st.info(st.session_state["preset_note"], icon=":material/school:")
problems = config.problems()
if config.dataset == "upload:":
    problems.pop("dataset", None)
    st.info("Upload an edge list in the sidebar to train on your own graph.", icon=":material/upload_file:")
elif config.dataset.startswith("upload:") and not viewing and st.session_state.get("upload_report"):
    upload_preview(st.session_state["upload_report"], config.features)
# A refused data setting (a planted graph too big to draw) is said once, below, and not loaded.
data_problems = {name for name in problems if FIELDS[name].metadata["group"] in ("data", "planted")}
graph, graph_error = (common.graph_for(config) if not data_problems and config.dataset != "upload:"
                      else (None, None))
if graph_error:
    st.error(graph_error, icon=":material/error:")
elif graph is not None:
    notes = "" if config.dataset.startswith("upload:") else " " + " ".join(graph.notes)  # preview says it
    st.markdown(common.graph_caption(graph) + notes)
for field_name, message in problems.items():
    st.error(f"**{field_name.replace('_', ' ')}**: {message}", icon=":material/block:")


def buttons_state(job) -> tuple[bool, bool, bool]:
    """What the Start / Pause-Resume / Step / Stop buttons depend on: active, paused, queued."""
    return (False, False, False) if job is None else (job.active, job.state == "paused", job.state == "queued")


# While a saved run is shown, the buttons are off: they would act on a training not on screen.
job = None if viewing else manager.get(st.session_state.get("train_job"), owner)
# One snapshot for every button (the job changes under our feet, from the worker's events);
# the live fragment compares it with the job's state and redraws the buttons when it differs.
drawn_buttons = buttons_state(job)
active, paused, queued = drawn_buttons
buttons = st.container(horizontal=True)  # content-wide buttons: labels never truncate
if buttons.button("Start", type="primary", icon=":material/play_arrow:", width="content",
                  help="This page shows a saved run: press **Train a new run from these settings** above "
                       "to start from them." if viewing else None,
                  disabled=bool(viewing) or active or bool(problems) or graph is None
                  or config.dataset == "upload:"):
    try:
        st.session_state["train_job"] = manager.submit(
            owner, config, label=f"{config.model.upper()} on {runs.dataset_label(config.dataset, graph.name)}")
    except (RuntimeError, ConfigError) as exc:
        st.error(str(exc))
    st.rerun()
if buttons.button("Resume" if paused else "Pause", icon=":material/pause:" if not paused else ":material/play_arrow:",
                  width="content", disabled=not active or queued):
    manager.control(job.job_id, owner, "resume" if paused else "pause")
    time.sleep(0.3)  # let the worker acknowledge, so the button label is right on rerun
    st.rerun()
if buttons.button("Step", icon=":material/skip_next:", width="content",
                  help="Pause and train exactly one more epoch.",
                  disabled=not active or queued):
    manager.control(job.job_id, owner, "step")
if buttons.button("Stop", icon=":material/stop:", width="content", disabled=not active):
    manager.control(job.job_id, owner, "stop")
steer.panel(manager, job, owner)


def step_mode(job) -> None:
    """GAN Lab style: one discriminator or encoder update at a time, and what it moved."""
    steps = job.config.discriminator_steps
    last = job.phases[-1] if job.phases else None
    if last is None or last["phase"] == "encoder":
        upcoming = "discriminator update 1 of {}".format(steps)
    else:
        upcoming = (f"discriminator update {last['update'] + 1} of {steps}" if last["update"] < steps
                    else "encoder update")
    left, right = st.columns([1, 2])
    with left:
        st.caption(f"Each epoch: {common.plural(steps, 'discriminator update')} on prior samples vs Z, then "
                   f"one encoder update. Next: **{upcoming}**.")
        if st.button("One update", icon=":material/skip_next:", key="one_update",
                     help="Pause, then make exactly one update (discriminator or encoder)."):
            manager.control(job.job_id, owner, "update")
            time.sleep(0.4)  # the worker answers within a few ms on small graphs
            st.rerun()
    with right:
        if last is not None and last.get("z") is not None:
            frame = common.pca_picture(last["z"], job.config.seed, st.session_state.get("step_frame"))
            st.session_state["step_frame"] = frame
            d_score = last.get("d_score")
            if d_score is not None and frame.z_index is not None:
                d_score = d_score[frame.z_index]
            st.plotly_chart(plots.latent_figure(
                frame.z_xy, frame.prior_xy, d_score=d_score, revision="step",
                title=f"After epoch {last['epoch']}'s {last['phase']} update (PCA; colour: D(z))"),
                key="step_latent")
        else:
            st.info("Press **One update**: the picture shows Z against prior samples after each update, "
                    "coloured by the discriminator's verdict D(z).", icon=":material/school:")
    if job.phases:  # the whole width: its seven columns do not fit beside the picture
        st.dataframe(step_table(job.phases), hide_index=True, width="stretch", key="step_table",
                     column_config={name: st.column_config.TextColumn(alignment="right")
                                    for name in ("update", *STEP_NUMBERS.values())})


STEP_NUMBERS = {"d_real": "D(prior)", "d_fake": "D(z)", "discriminator_loss": "D loss", "encoder_loss": "E loss"}


def step_table(phases: list[dict]) -> pd.DataFrame:
    """The latest single updates, newest first, as text: a value an update does not have (an
    encoder update's D numbers, a discriminator update's encoder loss) is a dash; a table
    cell without a value would read 'None'."""
    def cell(value, form: str) -> str:
        return "–" if value is None else format(value, form)
    return pd.DataFrame([{"epoch": p["epoch"], "phase": p["phase"], "update": cell(p.get("update"), ".0f"),
                          **{label: cell(p.get(key), ".3f") for key, label in STEP_NUMBERS.items()}}
                         for p in reversed(phases[-12:])])


if active and job.config.adversarial and job.state != "queued":
    with st.expander("Step mode: one update at a time", expanded=bool(job.phases)):
        step_mode(job)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def progress(job) -> None:
    total = job.config.epochs
    done = job.epochs_done
    if isinstance(job, SavedRun):
        st.progress(min(done / total, 1.0), text=f"saved run · {job.state} · epoch {done} / {total}")
        return
    if job.state == "queued":
        q = manager.queue_status(job.job_id)
        st.info(f"Waiting in the queue: position {q['position']} of {q['waiting']}. "
                f"{q['running']} of {q['slots']} training slots are busy.", icon=":material/hourglass_top:")
        return
    if job.state == "starting":
        st.info("Loading the graph and building the model...", icon=":material/hourglass_top:")
    left = job.seconds_left()
    text = f"epoch {done} / {total}" + (f" · about {_duration(left)} left" if left is not None else "")
    if job.state in ("paused", "stopped"):
        text += f" · {job.state}"
    st.progress(min(done / total, 1.0), text=text)


def _loss(value) -> str:
    """A loss for a metric card: 3 decimals, or 3 significant digits when it has blown up
    (a runaway run's 36071.5 would be cut to '3607...' in a narrow card)."""
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.3g}"


def _probability(value) -> str:
    return "-" if value is None else f"{value:.2f}"   # None: the adversary was steered off


def metric_cards(rows: list[dict], adversarial: bool) -> None:
    last = rows[-1]
    val = next((r for r in reversed(rows) if r.get("val_auc") is not None), {})
    cards = [("Epoch", f"{last['epoch']}"), ("Encoder loss", _loss(last["encoder_loss"]))]
    if adversarial:
        cards += [("Discriminator loss", _loss(last["discriminator_loss"])),
                  ("D(prior sample)", _probability(last["d_real"])), ("D(z)", _probability(last["d_fake"]))]
    cards.append(("Validation AUC", f"{val['val_auc']:.3f}" if val else "-"))
    row = st.container(horizontal=True, gap="medium")  # wraps on a narrow screen instead of cutting
    for label, value in cards:
        row.metric(label, value, width="content")


def charts(config: TrainConfig, curves: dict[str, list[dict]], markers=()) -> None:
    """The live charts of one run. Before a run (`curves` empty) the same charts stand empty,
    under the same keys: the reader sees what will be drawn, the page does not jump when
    training starts, and the browser has loaded its plotting code by then (measured: the
    first points show about a second sooner after Start)."""
    def draw(column, figure, key):
        if not curves:
            figure.add_annotation(text="drawn live once you press Start", showarrow=False, xref="paper",
                                  yref="paper", x=0.5, y=0.85, font=dict(color="#666", size=13))
            figure.update_xaxes(range=[0, config.epochs])
        column.plotly_chart(figure, key=key)
    left, right = st.columns(2)
    if config.adversarial:
        draw(left, plots.discriminator_loss_figure(curves, markers=markers), "chart_d_loss")
        draw(right, plots.discriminator_verdict_figure(curves, markers=markers), "chart_d_verdict")
    elif curves:
        st.info(f"{config.model.upper()} has no discriminator: it trains on reconstruction"
                f"{' and KL' if config.variational else ''} only, so there is no adversarial game "
                "to draw. Pick ARGA or ARGVA to see both players.", icon=":material/info:")
    left, right = st.columns(2)
    draw(left, plots.encoder_loss_figure(curves, markers=markers), "chart_e_loss")
    validation = plots.validation_figure(curves, markers=markers)
    draw(right, validation if curves else validation.update_yaxes(range=[0, 1]), "chart_val")


def stopped_text(job) -> str:
    """Where a stopped run stopped, what its test metrics are of, and why, when known."""
    text = f"Stopped at epoch {job.epochs_done} of {job.config.epochs}"
    text += ("; the test metrics below are of the best validation epoch before the stop."
             if "test_auc" in (job.metrics or {}) else ".")
    return f"{text} {job.message}" if job.message else text


def outcome(job) -> None:
    if job.state == "failed":
        st.error(job.message or "Training failed.", icon=":material/error:")
    elif job.state == "diverged":
        st.error(f"Training diverged at epoch {job.epochs_done}: a loss became NaN or infinite. "
                 "Lower the encoder learning rate (or the regulariser / KL weights) and start again. "
                 "The curves up to that epoch are kept below and the run is saved.",
                 icon=":material/warning:")
    elif job.state == "stopped":
        st.warning(stopped_text(job), icon=":material/stop_circle:")
    note = metrics.DEGENERATE_NOTES.get((job.metrics or {}).get("degenerate"))
    if note:
        st.warning(f"{note} {metrics.DEGENERATE_HINT}", icon=":material/compress:")
    if job.metrics and "test_auc" in job.metrics:
        st.header("Test metrics")  # h2: the page's title is its h1 (screen readers go by levels)
        st.caption(f"At epoch {job.metrics.get('best_epoch')}, the epoch with the best validation AUC. "
                   f"Run saved as `{job.run_id}`. {job.metrics.get('clustering_capped') or ''}")
        st.dataframe(plots.metrics_table_rows({job.label: job.metrics}), hide_index=True,
                     width="stretch", key="final_metrics",
                     column_config={c: st.column_config.NumberColumn(format="%.3f")
                                    for c in ("AUC", "AP", "ACC", "NMI", "ARI", "MMD to prior")})


def shown_job():
    """What the live part draws: the saved run on view (read again while it is being written),
    else the session's own training."""
    if viewing is None:
        return manager.get(st.session_state.get("train_job"), owner)
    if not viewing.live:
        return viewing
    try:
        return SavedRun.load(viewing.run_id)
    except runs.RunError:  # deleted meanwhile: keep what was read
        return viewing


refresh = viewing.live if viewing else active


@st.fragment(run_every=REFRESH_SECONDS if refresh else None)
def live() -> None:
    job = shown_job()
    if job is None:
        st.info("Pick a graph and a model in the sidebar, then press **Start**.", icon=":material/arrow_back:")
        charts(config, {})
        return
    progress(job)
    steer.pending_note(job)
    rows = list(job.rows)
    if rows:
        metric_cards(rows, job.config.adversarial)
        charts(job.config, {job.label: rows}, steer.markers(job))
    if not job.active:
        outcome(job)
    if not viewing and buttons_state(job) != drawn_buttons:
        # The job moved on since the buttons were drawn (it ended, left the queue, or the
        # worker acknowledged a pause later than the click's rerun): only a full run redraws them.
        st.rerun()


live()
