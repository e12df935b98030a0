"""Compare: train several models on the same graph, edge split, seed and knobs, in the
background, then see them side by side: latent pictures, overlaid curves, one table of test
metrics with the best per column, and a reading of that table in plain words."""
from __future__ import annotations

import functools
import time

import streamlit as st

from pages import page_setup

page_setup()  # first: see pages/__init__.py

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from argae_core import compare, paper, plots, projection, runs  # noqa: E402
from argae_core.config import ADVERSARIAL, VARIATIONAL, ConfigError, TrainConfig  # noqa: E402
from pages import common, compare_sweep  # noqa: E402

manager = common.job_manager()
owner = common.session_id()
REFRESH_SECONDS = 1.0     # up to 4 pictures and 4 charts per refresh: once a second is steady enough
STATE = "compare"         # the comparison: {"group", "jobs": [job ids], "models", "seeds"}
SETTINGS = "compare_settings"   # the widgets' values, kept while the user visits other pages
UPLOAD_LABEL = "Your uploaded graph (from the Train page)"
PROJECTIONS = {"pca": "PCA (instant)", "umap": "UMAP (neighbourhoods; compiles once per install, 30-70 s)"}
PLANTED_KNOBS = ("planted_nodes", "planted_communities", "planted_p_in", "planted_p_out",
                 "planted_feature_dim", "planted_signal")
knob = functools.partial(common.config_widget, key_prefix="cmp")


# ------------------------------------------------------------------ the settings
def settings() -> dict:
    return st.session_state.setdefault(SETTINGS, {
        "config": TrainConfig().to_dict(), "models": ["gae", "argva"], "repeats": 1, "method": "pca"})


def dataset_choices(saved: str) -> list[str]:
    """The Train page's built-in graphs, plus the graph this session uploaded there, if any."""
    choices = list(common.DATASET_LABELS)
    uploaded = st.session_state.get("config", {}).get("dataset", "")
    for candidate in (uploaded, saved):
        if candidate.startswith("upload:") and len(candidate) > 7 and candidate not in choices:
            choices.append(candidate)
    return choices


def sidebar(saved: TrainConfig, kept: dict, sweeping: bool) -> tuple[dict, list[str], int, tuple | None]:
    """Draw the knobs; return (config values, models, number of seeds, the sweep's grid or None)."""
    values: dict = {}
    with st.sidebar:
        st.header("Graph")
        choices = dataset_choices(saved.dataset)
        values["dataset"] = st.selectbox(
            "Dataset", choices, index=choices.index(saved.dataset) if saved.dataset in choices else 0,
            format_func=lambda c: common.DATASET_LABELS.get(c, UPLOAD_LABEL), key="cmp_dataset",
            help="Every model trains on this graph, with the same edge split.")
        values["features"] = knob("features", saved.features)
        if values["dataset"] == "planted":
            with st.expander("Planted partition", expanded=True):
                for name in PLANTED_KNOBS:
                    values[name] = knob(name, getattr(saved, name))
        models, grid = compare_sweep.grid_knobs(kept) if sweeping else (models_knob(kept), None)
        adversarial = any(m in ADVERSARIAL for m in models)
        variational = any(m in VARIATIONAL for m in models)
        st.header("Shared knobs")
        for name in ("epochs", "latent_size", "encoder_hidden", "encoder_lr"):
            if not (sweeping and name == "latent_size"):
                values[name] = knob(name, getattr(saved, name))
        if adversarial:
            values["discriminator_hidden"] = knob("discriminator_hidden", saved.discriminator_hidden)
            values["discriminator_lr"] = knob("discriminator_lr", saved.discriminator_lr)
            values["discriminator_steps"] = knob("discriminator_steps", saved.discriminator_steps)
            if not sweeping:
                values["reg_weight"] = knob("reg_weight", saved.reg_weight, label="Regulariser weight (ARGA, ARGVA)")
        if variational:
            values["kl_weight"] = knob("kl_weight", saved.kl_weight, label="KL weight (VGAE, ARGVA)")
        st.header("Seeds")
        values["seed"] = knob("seed", saved.seed)
        repeats = st.number_input(
            "Repeat over seeds", min_value=1, max_value=compare.MAX_SEEDS, value=kept["repeats"], step=1,
            key="cmp_repeats", help="Train every model with this many consecutive seeds (new edge split, "
            "new weights each) and show mean ± std: differences larger than the spread are real.")
        with st.expander("Logging and device"):
            for name in ("eval_interval", "snapshot_interval", "device"):
                values[name] = knob(name, getattr(saved, name))
    return values, models, int(repeats), grid


def models_knob(kept: dict) -> list[str]:
    st.header("Models")
    models = st.multiselect(
        "Models to compare", list(common.MODEL_LABELS), default=kept["models"],
        format_func=common.MODEL_LABELS.get, key="cmp_models",
        help="GAE / VGAE: plain graph autoencoders. ARGA / ARGVA add a discriminator that pulls Z "
             "toward N(0, I). Compare one with the other to see what the regulariser changes.")
    return sorted(models, key=list(common.MODEL_LABELS).index)  # GAE, VGAE, ARGA, ARGVA


def base_config(values: dict, saved: TrainConfig) -> TrainConfig:
    """The shared knobs as one config. Its model is ARGVA, which has every term, so every
    knob is checked; `compare.comparison_configs` clears what each model does not use."""
    return TrainConfig(**{**saved.to_dict(), **values, "model": "argva"})


# ------------------------------------------------------------------ starting and stopping
def jobs_of_comparison() -> list:
    state = st.session_state.get(STATE)
    return [manager.get(job_id, owner) for job_id in state["jobs"]] if state else []


def room_for_runs() -> int:
    """How many more runs this user may start (the job manager's per-user limit)."""
    return manager.max_jobs_per_owner - sum(j.active for j in manager.jobs_of(owner))


def start(base: TrainConfig, models: list[str], repeats: int) -> None:
    """Submit one job per (seed, model) under one group id; on refusal, stop what started."""
    seeds = compare.seeds_for(base.seed, repeats)
    group = compare.new_group_id()
    submitted = []
    try:
        for config in compare.comparison_configs(base, models, seeds):
            label = f"{common.MODEL_LABELS[config.model]} · seed {config.seed}"
            submitted.append(manager.submit(owner, config, label=label, group=group))
    except (RuntimeError, ConfigError) as exc:
        for job_id in submitted:
            manager.control(job_id, owner, "stop")
        st.session_state["compare_error"] = f"The comparison was not started: {exc}"
        return
    st.session_state[STATE] = {"group": group, "jobs": submitted, "models": list(models), "seeds": seeds}
    st.session_state.pop("compare_frames", None)


def stop(jobs: list) -> None:
    for job in jobs:
        if job is not None and job.active:
            manager.control(job.job_id, owner, "stop")


# ------------------------------------------------------------------ progress
def by_model(jobs: list, models: list[str]) -> dict[str, list]:
    return {m: [j for j in jobs if j.config.model == m] for m in models}


def progress_line(job) -> None:
    total, done = job.config.epochs, job.epochs_done
    if job.state == "queued":
        q = manager.queue_status(job.job_id)
        st.progress(0.0, text=f"{job.label} · queued, {q['position']} of {q['waiting']} in line")
        return
    text = f"{job.label} · epoch {done} / {total}"
    if job.state == "starting":
        text += " · loading the graph"
    elif job.active and done:
        left = ((job.ended or time.time()) - (job.started or time.time())) / done * (total - done)
        text += f" · about {left:.0f} s left"
    elif not job.active:
        text += f" · {job.state}"
    st.progress(min(done / total, 1.0), text=text)
    if job.state == "failed":
        st.error(f"{job.label}: {job.message or 'training failed.'}", icon=":material/error:")


def progress_section(jobs: list, models: list[str], group: str) -> None:
    """A column per model, a progress bar per seed; folded away once every run is over."""
    active = any(j.active for j in jobs)
    title = f"Runs of this comparison ({sum(not j.active for j in jobs)} of {len(jobs)} done)"
    with st.expander(title, expanded=active, icon=":material/hourglass_top:" if active else ":material/check:"):
        for column, group_jobs in zip(st.columns(len(models)), by_model(jobs, models).values()):
            with column:
                for job in group_jobs:
                    progress_line(job)
        q = manager.queue_status()
        busy = (f"{q['running']} of {q['slots']} training slots on this server busy, {q['waiting']} runs "
                "waiting. " if active else "")
        st.caption(f"{busy}Saved as group `{group}`: find the runs in the Runs page.")


# ------------------------------------------------------------------ results
def outcomes(jobs: list) -> list[compare.Outcome]:
    return [compare.Outcome(j.config.model, j.config.seed, j.state, j.metrics) for j in jobs]


def best_cell(value) -> str:
    return "background-color: #e6f4ea; font-weight: 600" if str(value).endswith(compare.BEST_MARK) else ""


def table_section(jobs: list, seeds: list[int]) -> None:
    summaries = compare.summarize(outcomes(jobs))
    spread = f" Mean ± sample std over seeds {seeds[0]}-{seeds[-1]}." if len(seeds) > 1 else ""
    st.subheader("Test metrics")
    st.dataframe(pd.DataFrame(compare.table_rows(summaries, ("link", "clustering"))).style.map(best_cell),
                 hide_index=True, width="stretch", key="cmp_table")
    st.caption(f"★ best in its column (higher is better). Scores at each run's best-validation epoch.{spread}")
    reference = paper_note(jobs, seeds)
    if reference:
        st.caption(reference)
    st.subheader("How close Z is to N(0, I)")
    st.dataframe(pd.DataFrame(compare.table_rows(summaries, ("prior",))).style.map(best_cell),
                 hide_index=True, width="stretch", key="cmp_prior_table")
    st.caption("★ nearest the prior's own value: spread 1, norm ratio 1, classifier (C2ST) accuracy 0.5, MMD 0. "
               "Spread: per-dimension std of Z; norm: mean ||z|| over the prior's; C2ST: held-out accuracy of a "
               "fresh small network telling Z from prior samples; 'at unit spread': the same with every dimension "
               f"of Z rescaled to std 1, so only its shape is judged.{spread}")
    latent = jobs[0].config.latent_size if jobs else None
    st.markdown("**What the tables say**\n\n" + "\n".join(f"- {s}" for s in compare.reading(summaries, latent)))


def paper_note(jobs: list, seeds: list[int]) -> str | None:
    """The paper's test AUC / AP for the models compared, when it reports this dataset."""
    dataset = jobs[0].config.dataset if jobs else ""
    marks = [f"{common.MODEL_LABELS[m]} {a:.3f} / {p:.3f}" for m in dict.fromkeys(j.config.model for j in jobs)
             if (scores := paper.link_scores(dataset, m)) for a, p in [scores]]
    if not marks:
        return None
    return (f"Reference, test AUC / AP from the paper: {', '.join(marks)} ({paper.PROTOCOL}; here seeds "
            f"{seeds[0]}-{seeds[-1]}, test scores at the best-validation epoch). Dotted lines on the validation chart.")


def curves_section(jobs: list, models: list[str]) -> None:
    """Curves averaged over seeds, one colour per model in every chart, overlaid only where
    they mean the same thing: validation scores and the reconstruction loss for all models,
    the discriminator's charts for the adversarial ones."""
    series = {common.MODEL_LABELS[m]: compare.mean_rows([list(j.rows) for j in group])
              for m, group in by_model(jobs, models).items()}
    if not any(series.values()):
        return
    st.subheader("Training curves" + (" (mean over seeds)" if len(jobs) > len(models) else ""))
    recon = {label: [{"epoch": r["epoch"], "recon_loss": r.get("recon_loss")} for r in rows]
             for label, rows in series.items()}
    left, right = st.columns(2)
    references = {common.MODEL_LABELS[m]: scores[0] for m in models
                  if (scores := paper.link_scores(jobs[0].config.dataset, m))}
    left.plotly_chart(legend_below(plots.validation_figure(series, revision="cmp-val", references=references)),
                      key="cmp_chart_val")
    recon_figure = plots.encoder_loss_figure(recon, revision="cmp-recon")
    recon_figure.for_each_trace(lambda t: t.update(name=t.legendgroup, line=dict(dash="solid", width=2)))
    right.plotly_chart(legend_below(recon_figure, "Reconstruction loss (the term every model has)"),
                       key="cmp_chart_recon")
    if any(m in ADVERSARIAL for m in models):
        adversarial = {label: rows if m in ADVERSARIAL else [] for (label, rows), m in zip(series.items(), models)}
        left, right = st.columns(2)
        left.plotly_chart(legend_below(drawn_only(plots.discriminator_loss_figure(adversarial, revision="cmp-d-loss"))),
                          key="cmp_chart_d_loss")
        right.plotly_chart(legend_below(drawn_only(
            plots.discriminator_verdict_figure(adversarial, revision="cmp-d-verdict"))), key="cmp_chart_d_verdict")
    terms = [f"{common.MODEL_LABELS[m]}: " + " + ".join(
        ["reconstruction"] + (["regulariser"] if m in ADVERSARIAL else []) + (["KL"] if m in VARIATIONAL else []))
        for m in models]
    with st.expander("Total encoder loss and its parts, per model"):
        st.caption("The total adds different terms per model (" + "; ".join(terms) + "), so compare totals "
                   "within a model, not across models.")
        st.plotly_chart(legend_below(plots.encoder_loss_figure(series, revision="cmp-e-loss")),
                        key="cmp_chart_e_loss")


def legend_below(fig, title: str | None = None):
    """Several models' legends are long: put them under the chart instead of over the title."""
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0), height=380)
    if title:
        fig.update_layout(title_text=title)
    return fig


def drawn_only(fig):
    """Drop the empty traces of models without a discriminator (kept until now so that each
    model has the same colour as in the other charts)."""
    fig.data = tuple(t for t in fig.data if t.x is not None and len(t.x))
    return fig


@st.cache_data(show_spinner=False, max_entries=32)
def final_embedding(run_id: str) -> tuple[int, object] | None:
    """(epoch, Z) the run's metrics score, read from disk; None if it saved none."""
    try:
        final = runs.load_run(run_id).final_embedding()
    except runs.RunError:
        return None
    return None if final is None else (final[0], final[1])


@st.cache_data(show_spinner="Drawing the UMAP picture...", max_entries=32)
def umap_picture(run_id: str, seed: int) -> projection.Projection | None:
    final = final_embedding(run_id)
    if final is None:
        return None
    z = final[1]
    return projection.project(z, projection.prior_samples(len(z), z.shape[1], seed), "umap", seed=seed)


def latent_of(job) -> tuple[int | None, object, bool]:
    """(epoch, Z, final?): the scored embedding once the run is over, else its newest snapshot."""
    if not job.active and job.run_id:
        final = final_embedding(job.run_id)
        if final is not None:
            return final[0], final[1], True
    epoch, z, _ = job.latest_snapshot()
    return epoch, z, False


def picture(job, method: str, seed: int):
    """(projection, note): PCA aligned onto this job's previous frame, or UMAP of the final Z."""
    epoch, z, final = latent_of(job)
    if z is None:
        return None, None
    note = f"epoch {epoch}" + (" (best validation: the Z the table scores)" if final else " (training)")
    if method == "umap":
        if final and projection.is_warm():
            frame = umap_picture(job.run_id, seed)
            if frame is not None:
                return frame, note + " · UMAP"
        projection.warm_up()
        note += " · PCA until " + ("UMAP has compiled" if not projection.is_warm() else "the run ends")
    return pca_of(job, seed), note + ("" if method == "umap" else " · PCA")


def latent_section(jobs: list, models: list[str], seed: int, method: str) -> None:
    st.subheader("Latent clouds" + (f" (seed {seed})" if len({j.config.seed for j in jobs}) > 1 else ""))
    shown = {m: next((j for j in group if j.config.seed == seed), group[0]) for m, group in by_model(jobs, models).items()}
    followed = followed_nodes(models)
    clouds = {}
    for column, (model, job) in zip(st.columns(len(models)), shown.items()):
        label = common.MODEL_LABELS[model]
        with column:
            try:
                frame, note = picture(job, method, seed)
            except ValueError as exc:  # e.g. a Z with NaN rows
                st.warning(f"{label}: no picture ({exc}).")
                continue
            if frame is None:
                st.info(f"{label}: no picture yet" + (" (it ended before its first snapshot)."
                                                       if not job.active else "."), icon=":material/hourglass_top:")
                continue
            st.plotly_chart(plots.latent_figure(frame.z_xy, frame.prior_xy, title=label, height=360,
                                                revision=f"cmp-latent-{model}", node_rows=node_rows(frame),
                                                highlight=followed),
                            key=f"cmp_latent_{model}", on_select="rerun", selection_mode=("points", "box", "lasso"))
            st.caption(note)
            clouds[label] = latent_of(job)[1]
            if frame.method == "umap":  # the scale UMAP discards, in the plane that keeps it
                pca = pca_of(job, seed)
                st.plotly_chart(plots.latent_figure(pca.z_xy, pca.prior_xy, title=f"{label}: PCA plane (keeps scale)",
                                                    height=300, revision=f"cmp-pca-{model}", node_rows=node_rows(pca),
                                                    highlight=followed), key=f"cmp_pca_{model}")
    st.caption("Each model's Z (fake) with as many N(0, I) samples (real, the same draw for every model), "
               "projected together. Click or lasso nodes in one picture: they are ringed in every picture, so you "
               f"see where each model puts the same nodes{f' ({len(followed)} followed)' if followed else ''}." + (" " + plots.UMAP_HIDES_SCALE if method == "umap" and
                                        projection.is_warm() else ""))
    if clouds:
        z = next(iter(clouds.values()))
        prior = projection.prior_samples(len(z), z.shape[1], seed)
        st.plotly_chart(plots.norm_figure(clouds, prior, revision="cmp-norms"), key="cmp_norms")
        st.caption("The norm ||z|| of every node's vector against the prior's (which sits near the square root of "
                   "the latent size): a narrow cloud sits left of the prior, whatever a projection shows.")


def node_rows(frame) -> np.ndarray:
    return frame.z_index if frame.z_index is not None else np.arange(len(frame.z_xy))


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


def pca_of(job, seed: int):
    """The job's PCA frame, aligned onto its previous one (kept per job in the session)."""
    frames = st.session_state.setdefault("compare_frames", {})
    z = latent_of(job)[1]
    frames[job.job_id] = common.pca_picture(z, seed, frames.get(job.job_id))
    return frames[job.job_id]


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
    problems.update(compare.comparison_problems(models, repeats, None if active else room_for_runs()))
    if not problems:  # e.g. the last of several seeds beyond the seed's maximum
        for config in compare.comparison_configs(base, models, compare.seeds_for(base.seed, repeats)):
            problems.update(config.problems())
    kept.update(models=models)
kept.update(config=base.to_dict(), repeats=repeats)

st.caption("Train several models on the same graph, edge split and seed with the same knobs, then see "
           "them side by side: does the adversarial regulariser pull Z toward N(0, I), and what does it "
           "cost or buy in link prediction and clustering?" if mode == "models" else
           "Train one adversarial model over regulariser weights and latent sizes, on one edge split per seed, "
           "and see what the regulariser buys (a Z closer to N(0, I)) against what it costs (test scores).")
if st.session_state.get("compare_note"):
    st.info(st.session_state["compare_note"], icon=":material/school:")
# The graph's summary comes from a helper process (no torch in this one), as on the Train page.
graph_state, graph = common.graph_summary_for(base) if "dataset" not in problems else ("none", None)
graph_error = graph if graph_state == "error" else None
if graph_error:
    st.error(graph_error, icon=":material/error:")
elif graph_state == "pending":
    st.caption("Reading the graph (on a server's first visit the engine loads first: a few seconds)...")
elif graph_state == "ready":
    st.markdown(common.graph_caption(graph) + (
        " On the planted partition each seed also draws a new graph." if base.dataset == "planted" and repeats > 1
        else ""))
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
kept["method"] = buttons.radio(
    "Latent pictures", list(PROJECTIONS), index=list(PROJECTIONS).index(kept["method"]),
    format_func=PROJECTIONS.get, horizontal=True, key="cmp_projection", label_visibility="collapsed")


def needs_refresh(jobs: list) -> bool:
    """Runs are training, or UMAP pictures wait for UMAP to compile."""
    return bool(jobs) and (any(j is not None and j.active for j in jobs)
                           or (kept["method"] == "umap" and not projection.is_warm()))


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
    progress_section(jobs, state["models"], state["group"])
    if not any(j.active for j in jobs):
        table_section(jobs, state["seeds"])
    else:
        st.info("The table of test metrics and its reading appear when every run has finished.",
                icon=":material/hourglass_top:")
    latent_section(jobs, state["models"], state["seeds"][0], kept["method"])
    curves_section(jobs, state["models"])
    if refresh and not needs_refresh(jobs):
        st.rerun()  # the runs ended (or UMAP compiled) since the page was drawn: redraw it all


results()
