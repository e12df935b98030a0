"""Compare: train several models on the same graph, edge split, seed and knobs, in the
background, then see them side by side: latent pictures, overlaid curves, one table of test
metrics with the best per column, and a reading of that table in plain words."""
from __future__ import annotations

import streamlit as st

from pages import page_setup

page_setup()  # first: see pages/__init__.py

from argae_core import compare  # noqa: E402
from argae_core.config import ConfigError, TrainConfig  # noqa: E402
from pages import common, compare_data, compare_latent, compare_results, compare_sweep, knobs, signin  # noqa: E402
from pages.knobs import LOGGING, PLANTED, Section  # noqa: E402

manager = common.job_manager()
owner = common.session_id()
REFRESH_SECONDS = 1.0     # up to 4 pictures and 4 charts per refresh: once a second is steady enough
STATE = "compare"         # the comparison: {"group", "jobs": [job ids], "models", "seeds"}
SETTINGS = "compare_settings"   # the widgets' values, kept while the user visits other pages
UPLOAD_LABEL = "Your uploaded graph (from the Train page)"
SHARED = ("epochs", "latent_size", "encoder_hidden", "encoder_lr", "discriminator_hidden", "discriminator_lr",
          "discriminator_steps", "reg_weight", "kl_weight")
LABELS = {"reg_weight": "Regulariser weight (ARGA, ARGVA)", "kl_weight": "KL weight (VGAE, ARGVA)"}


# ------------------------------------------------------------------ the settings
def settings() -> dict:
    return st.session_state.setdefault(SETTINGS, {
        "config": TrainConfig().to_dict(), "models": ["gae", "argva"], "repeats": 1, "method": "pca"})


def dataset_choices(saved: str) -> list[str]:
    """The Train page's built-in graphs, plus the graph this session uploaded there, if any."""
    choices = list(knobs.DATASET_LABELS)
    uploaded = st.session_state.get("config", {}).get("dataset", "")
    for candidate in (uploaded, saved):
        if candidate.startswith("upload:") and len(candidate) > 7 and candidate not in choices:
            choices.append(candidate)
    return choices


def sidebar(saved: TrainConfig, kept: dict, sweeping: bool) -> tuple[dict, list[str], int, tuple | None]:
    """Draw the knobs; return (config values, models, number of seeds, the sweep's grid or None)."""
    with st.sidebar:
        st.header("Graph")
        choices = dataset_choices(saved.dataset)
        dataset = st.selectbox(
            "Dataset", choices, index=choices.index(saved.dataset) if saved.dataset in choices else 0,
            format_func=lambda c: knobs.DATASET_LABELS.get(c, UPLOAD_LABEL), key="cmp_dataset",
            help="Every model trains on this graph, with the same edge split.")
        values = {"dataset": dataset, **knobs.draw(saved, (Section(None, ("features",)), Section(
            "Planted partition", PLANTED, fold="open")), dataset=dataset, prefix="cmp")}
        models, grid = compare_sweep.grid_knobs(kept) if sweeping else (models_knob(kept), None)
        values |= knobs.draw(saved, (Section("Shared knobs", SHARED), Section("Seeds", ("seed",))), models=models,
                             prefix="cmp", labels=LABELS, skip=("latent_size", "reg_weight") if sweeping else ())
        repeats = st.number_input(
            "Repeat over seeds", min_value=1, max_value=compare.MAX_SEEDS, value=kept["repeats"], step=1,
            key="cmp_repeats", help="Train every model with this many consecutive seeds (new edge split, "
            "new weights each) and show mean ± std: differences larger than the spread are real.")
        values |= knobs.draw(saved, (Section("Logging and device", LOGGING, fold="closed"),), prefix="cmp")
    return values, models, int(repeats), grid


def models_knob(kept: dict) -> list[str]:
    st.header("Models")
    models = st.multiselect(
        "Models to compare", list(knobs.MODEL_LABELS), default=kept["models"],
        format_func=knobs.MODEL_LABELS.get, key="cmp_models",
        help="GAE / VGAE: plain graph autoencoders. ARGA / ARGVA add a discriminator that pulls Z "
             "toward N(0, I). Compare one with the other to see what the regulariser changes.")
    return sorted(models, key=list(knobs.MODEL_LABELS).index)  # GAE, VGAE, ARGA, ARGVA


def base_config(values: dict, saved: TrainConfig) -> TrainConfig:
    """The shared knobs as one config. Its model is ARGVA, which has every term, so every
    knob is checked; `compare.comparison_configs` clears what each model does not use."""
    return TrainConfig(**{**saved.to_dict(), **values, "model": "argva"})


# ------------------------------------------------------------------ starting and stopping
def jobs_of_comparison() -> list:
    state = st.session_state.get(STATE)
    return [manager.get(job_id, owner) for job_id in state["jobs"]] if state else []


def start(base: TrainConfig, models: list[str], repeats: int) -> None:
    """One job per (seed, model) under one group id, all or nothing (compare.start_comparison)."""
    try:
        started = compare.start_comparison(manager, owner, base, models, repeats,
                                           label=lambda c: f"{knobs.MODEL_LABELS[c.model]} · seed {c.seed}",
                                           user=signin.viewer().email)
    except (RuntimeError, ConfigError) as exc:
        st.session_state["compare_error"] = f"The comparison was not started: {exc}"
        return
    st.session_state[STATE] = {"group": started.group, "jobs": started.jobs, "models": started.models,
                               "seeds": started.seeds}
    st.session_state.pop("compare_frames", None)


def stop(jobs: list) -> None:
    for job in jobs:
        if job is not None and job.active:
            manager.control(job.job_id, owner, "stop")


# ------------------------------------------------------------------ the page
MODES = {"models": "Models side by side", "sweep": "Sweep the regulariser"}
kept = settings()
saved = TrainConfig.from_dict(kept["config"])
st.title("Compare")
mode = st.segmented_control("What to compare", list(MODES), format_func=MODES.get, default="models",
                            key="cmp_mode", label_visibility="collapsed") or "models"
values, models, repeats, grid = sidebar(saved, kept, sweeping=mode == "sweep")
base = base_config(values, saved)
problems = base.problems()
jobs = jobs_of_comparison()
lost = any(j is None for j in jobs)
active = not lost and any(j.active for j in jobs)
if mode == "models":
    problems.update(compare.start_problems(base, models, repeats, None if active else common.room_for_runs()))
    kept.update(models=models)
kept.update(config=base.to_dict(), repeats=repeats)

st.caption("Train several models on the same graph, edge split and seed with the same knobs, then see "
           "them side by side: does the adversarial regulariser pull Z toward N(0, I), and what does it "
           "cost or buy in link prediction and clustering?" if mode == "models" else
           "Train one adversarial model over regulariser weights and latent sizes, on one edge split per seed, "
           "and see what the regulariser buys (a Z closer to N(0, I)) against what it costs (test scores).")
if st.session_state.get("compare_note"):
    st.info(st.session_state["compare_note"], icon=":material/school:")
graph_state, graph = common.graph_summary_for(base) if "dataset" not in problems else ("none", None)  # no torch
graph_error = graph if graph_state == "error" else None
if graph_error:
    st.error(graph_error, icon=":material/error:")
elif graph_state == "pending":
    st.caption("Reading the graph (on a server's first visit the engine loads first: a few seconds)...")
elif graph_state == "ready":
    st.markdown(common.graph_caption(graph) + (" On the planted partition each seed also draws a new graph."
                                                if base.dataset == "planted" and repeats > 1 else ""))
for name, message in problems.items():
    st.error(f"**{name.replace('_', ' ')}**: {message}", icon=":material/block:")
if "compare_error" in st.session_state:
    st.error(st.session_state.pop("compare_error"), icon=":material/error:")
if mode == "sweep":
    compare_sweep.render(compare.comparison_configs(base, models, [base.seed])[0], grid, repeats,
                         bool(problems) or graph_error is not None, manager, owner)
    st.stop()

buttons = st.container(horizontal=True, vertical_alignment="center")  # labels never cut
if buttons.button("Compare", type="primary", icon=":material/compare:", width="content",
                  disabled=active or bool(problems) or graph_error is not None):
    start(base, models, repeats)
    st.rerun()
if buttons.button("Stop", icon=":material/stop:", width="content", disabled=not active,
                  help="Stop every run of this comparison."):
    stop(jobs)
    st.rerun()
kept["method"], kept["dims"] = compare_latent.controls(buttons, kept)


def needs_refresh(jobs: list) -> bool:
    """Runs are training, or a finished run's UMAP picture is being drawn."""
    state = st.session_state.get(STATE) or {"seeds": [0]}
    return bool(jobs) and (any(j is not None and j.active for j in jobs) or (
        kept["method"] == "umap" and compare_data.pictures_missing(jobs, state["seeds"][0])))


refresh = needs_refresh(jobs)


@st.fragment(run_every=REFRESH_SECONDS if refresh else None)
def results() -> None:
    state = st.session_state.get(STATE)
    if state is None:
        st.info("Pick the models and shared knobs in the sidebar, then press **Compare**.",
                icon=":material/arrow_back:")
        return
    jobs = jobs_of_comparison()
    if any(j is None for j in jobs):
        st.warning(f"This comparison's runs are no longer held by the server (was it restarted?). Their "
                   f"saved files are in the Runs page, group `{state['group']}`.", icon=":material/report:")
        return
    compare_results.progress_section(jobs, state["models"], state["group"])
    if not any(j.active for j in jobs):
        compare_results.table_section(jobs, state["seeds"])
    else:
        st.info("The table of test metrics and its reading appear when every run has finished.",
                icon=":material/hourglass_top:")
    compare_latent.latent_section(jobs, state["models"], state["seeds"][0], kept["method"], kept["dims"])
    compare_results.curves_section(jobs, state["models"])
    if refresh and not needs_refresh(jobs):
        st.rerun()  # the runs ended (or their UMAP pictures came) since the page was drawn: redraw it all


results()
