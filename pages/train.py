"""Train: pick a graph and hyperparameters, train in the background, watch both players."""
from __future__ import annotations

import time

from types import SimpleNamespace

import streamlit as st

from pages import engine_loading_note, page_setup

page_setup()  # first: see pages/__init__.py
loading = engine_loading_note()

from argae_core import metrics, plots, runs, uploads  # noqa: E402
from argae_core.config import ConfigError, TrainConfig  # noqa: E402
from pages import common  # noqa: E402

if loading is not None:
    loading.empty()

manager = common.job_manager()
owner = common.session_id()
REFRESH_SECONDS = 0.5


# ------------------------------------------------------------------ the config
def initial_config() -> TrainConfig:
    """The URL's settings when it has valid ones, else the defaults (with a message)."""
    query = {k: st.query_params[k] for k in st.query_params}
    if not query:
        return TrainConfig()
    try:
        return TrainConfig.from_query(query)
    except ConfigError as exc:
        st.session_state["url_problem"] = (
            "The link's settings could not be used, so the defaults are shown: "
            + "; ".join(f"{k}: {v}" for k, v in exc.problems.items()))
        return TrainConfig()


if "config" not in st.session_state:
    st.session_state["config"] = initial_config().to_dict()
saved = TrainConfig.from_dict(st.session_state["config"])


def sidebar(saved: TrainConfig) -> dict:
    """Draw the knobs; return the values they hold."""
    w = common.config_widget
    values: dict = {}
    with st.sidebar:
        st.header("Graph")
        choices = list(common.DATASET_LABELS) + ["upload"]
        current = "upload" if saved.dataset.startswith("upload:") else saved.dataset
        choice = st.selectbox(
            "Dataset", choices, format_func=lambda c: common.DATASET_LABELS.get(c, "Upload your own graph"),
            index=choices.index(current) if current in choices else 0,
            help=TrainConfig.__dataclass_fields__["dataset"].metadata["help"], key="w_dataset")
        values["dataset"] = upload_section(saved) if choice == "upload" else choice
        values["features"] = w("features", saved.features)
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


def upload_preview(report: dict) -> None:
    cards = [("Nodes", report["nodes"]), ("Edges", report["edges"]), ("Isolated", report["isolated_nodes"]),
             ("Components", report["components"]), ("Feature size", report["feature_size"]),
             ("Classes", report.get("classes") or 0)]
    for column, (label, value) in zip(st.columns(len(cards)), cards):
        column.metric(label, f"{value:,}")
    st.caption(report.get("feature_note") or f"Features: {report['feature_mode']}.")
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


config = to_config(sidebar(saved), saved)
st.session_state["config"] = config.to_dict()
if config.to_query() != {k: st.query_params[k] for k in st.query_params}:
    st.query_params.from_dict(config.to_query())  # the URL always holds the settings: shareable

# ------------------------------------------------------------------ the page
st.title("Train")
if "url_problem" in st.session_state:
    st.warning(st.session_state.pop("url_problem"))
if st.session_state.get("preset_note"):
    st.info(st.session_state["preset_note"], icon=":material/school:")
problems = config.problems()
if config.dataset == "upload:":
    problems.pop("dataset", None)
    st.info("Upload an edge list in the sidebar to train on your own graph.", icon=":material/upload_file:")
elif config.dataset.startswith("upload:") and st.session_state.get("upload_report"):
    upload_preview(st.session_state["upload_report"])
graph, graph_error = (common.graph_for(config) if "dataset" not in problems and config.dataset != "upload:"
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


job = manager.get(st.session_state.get("train_job"), owner)
# One snapshot for every button (the job changes under our feet, from the worker's events);
# the live fragment compares it with the job's state and redraws the buttons when it differs.
drawn_buttons = buttons_state(job)
active, paused, queued = drawn_buttons
buttons = st.container(horizontal=True)  # content-wide buttons: labels never truncate
if buttons.button("Start", type="primary", icon=":material/play_arrow:", width="content",
                  disabled=active or bool(problems) or graph is None or config.dataset == "upload:"):
    try:
        st.session_state["train_job"] = manager.submit(owner, config)
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
        st.caption(f"Each epoch: {steps} discriminator updates on prior samples vs Z, then one encoder "
                   f"update. Next: **{upcoming}**.")
        if st.button("One update", icon=":material/skip_next:", key="one_update",
                     help="Pause, then make exactly one update (discriminator or encoder)."):
            manager.control(job.job_id, owner, "update")
            time.sleep(0.4)  # the worker answers within a few ms on small graphs
            st.rerun()
        if job.phases:
            table = [{k: p.get(k) for k in ("epoch", "phase", "update", "d_real", "d_fake",
                                              "discriminator_loss", "encoder_loss")}
                     for p in reversed(job.phases[-12:])]
            st.dataframe(table, hide_index=True, width="stretch", column_config={
                "d_real": st.column_config.NumberColumn("D(prior)", format="%.3f"),
                "d_fake": st.column_config.NumberColumn("D(z)", format="%.3f"),
                "discriminator_loss": st.column_config.NumberColumn("D loss", format="%.3f"),
                "encoder_loss": st.column_config.NumberColumn("E loss", format="%.3f")})
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


if active and job.config.adversarial and job.state != "queued":
    with st.expander("Step mode: one update at a time", expanded=bool(job.phases)):
        step_mode(job)


def saved_run_view(run_id: str):
    """A saved run drawn like a job (read-only), or None with a message."""
    try:
        run = runs.load_run(run_id)
    except runs.RunError as exc:
        st.error(str(exc))
        return None
    records = run.records.astype(object).where(run.records.notna(), None)
    rows = records.to_dict("records")
    status = run.status
    return SimpleNamespace(label=f"{run.config.model.upper()} on {run.config.dataset}", config=run.config,
                           rows=rows, state=status, active=False, epochs_done=len(rows),
                           metrics=run.metrics, message=run.info.get("message"), run_id=run.run_id,
                           saved=True, live=status == "running")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def progress(job) -> None:
    total = job.config.epochs
    done = job.epochs_done
    if getattr(job, "saved", False):
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
    if job.state == "paused":
        text += " · paused"
    st.progress(min(done / total, 1.0), text=text)


def _loss(value) -> str:
    """A loss for a metric card: 3 decimals, or 3 significant digits when it has blown up
    (a runaway run's 36071.5 would be cut to '3607...' in a narrow card)."""
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.3g}"


def metric_cards(rows: list[dict], adversarial: bool) -> None:
    last = rows[-1]
    val = next((r for r in reversed(rows) if r.get("val_auc") is not None), {})
    cards = [("Epoch", f"{last['epoch']}"), ("Encoder loss", _loss(last["encoder_loss"]))]
    if adversarial:
        cards += [("Discriminator loss", _loss(last["discriminator_loss"])),
                  ("D(prior sample)", f"{last['d_real']:.2f}"), ("D(z)", f"{last['d_fake']:.2f}")]
    cards.append(("Validation AUC", f"{val['val_auc']:.3f}" if val else "-"))
    row = st.container(horizontal=True, gap="medium")  # wraps on a narrow screen instead of cutting
    for label, value in cards:
        row.metric(label, value, width="content")


def charts(config: TrainConfig, curves: dict[str, list[dict]]) -> None:
    """The live charts of one run. Before a run (`curves` empty) the same charts stand empty,
    under the same keys: the reader sees what will be drawn, the page does not jump when
    training starts, and the browser has loaded its plotting code by then (measured: the
    first points show about a second sooner after Start)."""
    def draw(column, figure, key):
        if not curves:
            figure.add_annotation(text="drawn live once you press Start", showarrow=False, xref="paper",
                                  yref="paper", x=0.5, y=0.85, font=dict(color="#888", size=13))
            figure.update_xaxes(range=[0, config.epochs])
        column.plotly_chart(figure, key=key)
    left, right = st.columns(2)
    if config.adversarial:
        draw(left, plots.discriminator_loss_figure(curves), "chart_d_loss")
        draw(right, plots.discriminator_verdict_figure(curves), "chart_d_verdict")
    elif curves:
        st.info(f"{config.model.upper()} has no discriminator: it trains on reconstruction"
                f"{' and KL' if config.variational else ''} only, so there is no adversarial game "
                "to draw. Pick ARGA or ARGVA to see both players.", icon=":material/info:")
    left, right = st.columns(2)
    draw(left, plots.encoder_loss_figure(curves), "chart_e_loss")
    validation = plots.validation_figure(curves)
    draw(right, validation if curves else validation.update_yaxes(range=[0, 1]), "chart_val")


def outcome(job) -> None:
    if job.state == "failed":
        st.error(job.message or "Training failed.", icon=":material/error:")
    elif job.state == "diverged":
        st.error(f"Training diverged at epoch {job.epochs_done}: a loss became NaN or infinite. "
                 "Lower the encoder learning rate (or the regulariser / KL weights) and start again. "
                 "The curves up to that epoch are kept below and the run is saved.",
                 icon=":material/warning:")
    elif job.state == "stopped" and job.message:
        st.warning(job.message)
    note = metrics.DEGENERATE_NOTES.get((job.metrics or {}).get("degenerate"))
    if note:
        st.warning(f"{note} {metrics.DEGENERATE_HINT}", icon=":material/compress:")
    if job.metrics and "test_auc" in job.metrics:
        st.subheader("Test metrics")
        st.caption(f"At epoch {job.metrics.get('best_epoch')}, the epoch with the best validation AUC. "
                   f"Run saved as `{job.run_id}`.")
        st.dataframe(plots.metrics_table_rows({job.label: job.metrics}), hide_index=True,
                     width="stretch", key="final_metrics",
                     column_config={c: st.column_config.NumberColumn(format="%.3f")
                                    for c in ("AUC", "AP", "ACC", "NMI", "ARI", "MMD to prior")})


viewing = st.session_state.get("view_run")
if viewing:
    banner, back = st.columns([5, 1])
    banner.info(f"Showing the saved run `{viewing}`. Your own training, if any, goes on in the background.",
                icon=":material/folder_open:")
    if back.button("Back to live", width="stretch"):
        del st.session_state["view_run"]
        st.rerun()


saved_view = saved_run_view(viewing) if viewing else None
refresh = bool(saved_view and saved_view.live) if viewing else active


@st.fragment(run_every=REFRESH_SECONDS if refresh else None)
def live() -> None:
    job = (saved_run_view(viewing) if viewing
           else manager.get(st.session_state.get("train_job"), owner))
    if job is None:
        st.info("Pick a graph and a model in the sidebar, then press **Start**.", icon=":material/arrow_back:")
        charts(config, {})
        return
    progress(job)
    rows = list(job.rows)
    if rows:
        metric_cards(rows, job.config.adversarial)
        charts(job.config, {job.label: rows})
    if not job.active:
        outcome(job)
    if not viewing and buttons_state(job) != drawn_buttons:
        # The job moved on since the buttons were drawn (it ended, left the queue, or the
        # worker acknowledged a pause later than the click's rerun): only a full run redraws them.
        st.rerun()


live()
