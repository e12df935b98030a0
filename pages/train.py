"""Train: pick a graph and hyperparameters, train in the background, watch both players."""
from __future__ import annotations

import time

import streamlit as st

from pages import engine_loading_note, page_setup

page_setup()  # first: see pages/__init__.py
loading = engine_loading_note()

from argae_core import runs  # noqa: E402
from argae_core.config import FIELDS, ConfigError, TrainConfig  # noqa: E402
from pages import common, knobs, signin, steer, train_estimate, train_link, train_live, train_upload  # noqa: E402
from pages.knobs import BIG, LOGGING, PLANTED, Section  # noqa: E402

if loading is not None:
    loading.empty()

manager = common.job_manager()
owner = common.session_id()
REFRESH_SECONDS = 0.5
SECTIONS = (Section(None, ("features",)), Section("Planted partition", PLANTED, fold="open"),
            Section("Model", ("model", "latent_size", "encoder_hidden", "discriminator_hidden")),
            Section("Training", ("epochs", "seed", "encoder_lr", "discriminator_lr", "discriminator_steps",
                                 "reg_weight", "kl_weight")),
            Section("Logging and device", LOGGING, fold="closed"), Section("Big graphs", BIG, fold="closed"))


viewing = train_link.viewed_run()
if "config" not in st.session_state:
    st.session_state["config"] = train_link.initial_config().to_dict()
saved = TrainConfig.from_dict(st.session_state["config"])


def sidebar(saved: TrainConfig, run_id: str | None = None) -> dict:
    """Draw the knobs; return the values they hold. With `run_id`: that saved run's settings,
    read-only, under keys of their own (so the session's own knobs come back unchanged)."""
    read_only = run_id is not None
    prefix = f"view_{run_id}" if read_only else "w"
    with st.sidebar:
        st.header("Graph")
        choices = list(knobs.DATASET_LABELS) + ["upload"]
        current = "upload" if saved.dataset.startswith("upload:") else saved.dataset
        choice = st.selectbox(
            "Dataset", choices, format_func=lambda c: knobs.DATASET_LABELS.get(c, "Upload your own graph"),
            index=choices.index(current) if current in choices else 0, disabled=read_only,
            help=FIELDS["dataset"].metadata["help"] + " " + knobs.DATASET_HELP, key=f"{prefix}_dataset")
        dataset = saved.dataset if read_only else (train_upload.upload_section(saved) if choice == "upload"
                                                   else choice)
        return {"dataset": dataset, **knobs.draw(
            saved, SECTIONS, dataset=dataset, prefix=prefix, disabled=read_only,
            labels={**knobs.WEIGHT_LABELS, **knobs.PLANTED_LABELS},
            option_labels={"features": train_upload.feature_labels(dataset)})}


if viewing:
    sidebar(viewing.config, viewing.run_id)
    config = viewing.config
    url = {train_link.RUN_PARAM: viewing.run_id}
else:
    config = TrainConfig(**{**saved.to_dict(), **sidebar(saved)}).without_unused()
    st.session_state["config"] = config.to_dict()
    url = config.to_query()
if url != {k: st.query_params[k] for k in st.query_params}:
    st.query_params.from_dict(url)  # the URL always holds the settings or the run: shareable

# ------------------------------------------------------------------ the page
st.title("Train")
if "url_problem" in st.session_state:
    st.warning(st.session_state.pop("url_problem"))
if viewing:
    train_link.run_banner(viewing)
elif "config_note" in st.session_state:
    st.info(st.session_state.pop("config_note"), icon=":material/folder_open:")
elif st.session_state.get("preset_note"):
    st.info(st.session_state["preset_note"], icon=":material/school:")
problems = config.problems()
if config.dataset == "upload:":
    problems.pop("dataset", None)
    st.info("Upload an edge list in the sidebar to train on your own graph.", icon=":material/upload_file:")
elif config.dataset.startswith("upload:") and not viewing and st.session_state.get("upload_report"):
    train_upload.preview(st.session_state["upload_report"], config.features)
# A refused data setting (a planted graph too big to draw) is said once, below, and not loaded.
data_problems = {name for name in problems if FIELDS[name].metadata["group"] in ("data", "planted")}
# The graph's summary comes from a helper process (no torch in this one): Start does not wait.
graph_state, graph = (common.graph_summary_for(config) if not data_problems and config.dataset != "upload:"
                      else ("none", None))
graph_error = graph if graph_state == "error" else None


@st.fragment(run_every=0.5)
def caption_when_read(config: TrainConfig) -> None:
    if common.graph_summary_for(config)[0] == "pending":
        st.caption("Reading the graph (on a server's first visit the engine loads first: a few "
                   "seconds; Start does not wait for it)...")
    else:
        st.rerun()


if graph_error:
    st.error(graph_error, icon=":material/error:")
elif graph_state == "ready":
    notes = "" if config.dataset.startswith("upload:") else " " + " ".join(graph["notes"])  # preview says it
    st.markdown(common.graph_caption(graph) + notes)
elif graph_state == "pending":
    caption_when_read(config)
# A planted graph too big is said once, with the memory it would need (by the estimate).
sized = not viewing and set(problems) <= {"planted_nodes"}
for field_name, message in ({} if sized else problems).items():
    st.error(f"**{field_name.replace('_', ' ')}**: {message}", icon=":material/block:")
too_big = sized and train_estimate.show(config, graph if graph_state == "ready" else None,
                                        problem=problems.get("planted_nodes"))


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
                  disabled=bool(viewing) or active or bool(problems) or graph_error is not None or too_big
                  or config.dataset == "upload:"):
    try:
        st.session_state["train_job"] = manager.submit(
            owner, config, label=f"{config.model.upper()} on "
                  f"{runs.dataset_label(config.dataset, graph['name'] if graph_state == 'ready' else None)}",
            user=signin.viewer().email)
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


if active and job.config.adversarial and job.state != "queued":
    with st.expander("Step mode: one update at a time", expanded=bool(job.phases)):
        train_live.step_mode(job)


def shown_job():
    """What the live part draws: the saved run on view (read again while it is being written),
    else the session's own training."""
    if viewing is None:
        return manager.get(st.session_state.get("train_job"), owner)
    return viewing.reread()  # again while it is being written; kept if deleted meanwhile


refresh = viewing.live if viewing else active


@st.fragment(run_every=REFRESH_SECONDS if refresh else None)
def live() -> None:
    job = shown_job()
    if job is None:
        st.info("Pick a graph and a model in the sidebar, then press **Start**.", icon=":material/arrow_back:")
        train_live.charts(config, {})
        return
    train_live.progress(job)
    steer.pending_note(job)
    rows = list(job.rows)
    if rows:
        train_live.metric_cards(rows, job.config.adversarial)
        train_live.charts(job.config, {job.label: rows}, steer.markers(job))
    if not job.active:
        train_live.outcome(job)
    if not viewing and buttons_state(job) != drawn_buttons:
        # The job moved on since the buttons were drawn (it ended, left the queue, or the
        # worker acknowledged a pause later than the click's rerun): only a full run redraws them.
        st.rerun()


live()
