"""The Compare page's sweep mode: one adversarial model over a grid of regulariser weights
and latent sizes, on one split per seed, drawn as test score against prior match, the
picture that answers "what does the regulariser buy, and what does it cost?"."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from argae_core import compare, plots, sweep
from argae_core.config import ConfigError, TrainConfig
from pages import common, knobs, signin

STATE = "compare_sweep"       # {"plan": sweep.SweepPlan, "model": str}
REFRESH_SECONDS = 1.0
WEIGHT_CHOICES = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
LATENT_CHOICES = (2, 4, 8, 16, 32, 64, 128)
X_AXES = ("c2st", "z_std", "mmd")
Y_AXES = ("test_auc", "test_ap", "nmi", "acc")


def grid_knobs(kept: dict) -> tuple[list[str], tuple[list[float], list[int]]]:
    """The sidebar's sweep section: the model and the grid. Returns ([model], (weights, latent sizes))."""
    st.header("Sweep")
    model = st.selectbox("Model", ["argva", "arga"], format_func=knobs.MODEL_LABELS.get, key="sweep_model",
                         help="The adversarial model to sweep. Weight 0 switches its regulariser off: ARGVA at 0 is "
                              "a VGAE (its discriminator trains, the encoder ignores it), ARGA at 0 a GAE.")
    weights = st.multiselect("Regulariser weights", WEIGHT_CHOICES, default=list(sweep.REG_WEIGHTS),
                             format_func=lambda w: f"{w:g}", key="sweep_weights",
                             help="From 0 (no regulariser) up to where training breaks.")
    latents = st.multiselect("Latent sizes", LATENT_CHOICES, default=list(sweep.LATENT_SIZES), key="sweep_latents",
                             help="The regulariser's effect on Z depends on the latent size: try small ones.")
    return [model], (sorted(weights), sorted(latents))


def plan_jobs(manager, owner: str) -> tuple[sweep.SweepPlan | None, list]:
    state = st.session_state.get(STATE)
    if state is None:
        return None, []
    return state["plan"], [manager.get(job_id, owner) for job_id in state["plan"].job_ids]


def start(base: TrainConfig, grid: tuple, repeats: int, manager, owner: str) -> None:
    weights, latents = grid
    configs = sweep.sweep_configs(base, weights, latents, compare.seeds_for(base.seed, repeats))
    plan = sweep.SweepPlan(compare.new_group_id(), configs)
    st.session_state[STATE] = {"plan": plan, "model": base.model}
    top_up(plan, manager, owner)


def top_up(plan: sweep.SweepPlan, manager, owner: str) -> None:
    """Hand the job manager as many of the plan's waiting runs as this user has room for."""
    room = common.room_for_runs()

    def submit(config: TrainConfig) -> str:
        label = (f"{knobs.MODEL_LABELS[config.model]} · latent {config.latent_size} · "
                 f"weight {config.reg_weight:g} · seed {config.seed}")
        return manager.submit(owner, config, label=label, group=plan.group, user=signin.viewer().email)
    try:
        plan.top_up(submit, room)
    except (RuntimeError, ConfigError) as exc:  # the server's queue is full: try again next refresh
        st.session_state["sweep_note"] = f"Waiting for room on the server: {exc}"


def stop(plan: sweep.SweepPlan, jobs: list, manager, owner: str) -> None:
    plan.cancel()
    for job in jobs:
        if job is not None and job.active:
            manager.control(job.job_id, owner, "stop")


def sweep_runs(jobs: list) -> list[sweep.SweepRun]:
    return [sweep.SweepRun(j.config.effective_reg_weight(), j.config.latent_size,
                           compare.Outcome(j.config.model, j.config.seed, j.state, j.metrics))
            for j in jobs if j is not None]


def progress(plan: sweep.SweepPlan, jobs: list, manager) -> None:
    done = sum(j is not None and not j.active for j in jobs)
    total = len(plan.job_ids) + plan.waiting
    running = [j for j in jobs if j is not None and j.state == "running"]
    text = f"{done} of {total} runs done"
    if running:
        text += " · training " + ", ".join(j.label for j in running[:2]) + (" ..." if len(running) > 2 else "")
    if plan.waiting:
        text += f" · {plan.waiting} not yet queued (your limit is {manager.max_jobs_per_owner} at once)"
    if plan.cancelled:
        text += " · cancelled"
    st.progress(done / max(total, 1), text=text)
    st.caption(f"Saved as group `{plan.group}`: every run of the sweep is in the Runs page.")


def results(plan: sweep.SweepPlan, jobs: list) -> None:
    points = sweep.summarize_sweep(sweep_runs(jobs))
    scored = [p for p in points if p.stats]
    if not scored:
        st.info("The trade-off picture fills in as runs finish.", icon=":material/hourglass_top:")
        return
    have = {key for p in scored for key in p.stats}
    left, right = st.columns(2)
    x = left.selectbox("Prior match (x)", [k for k in X_AXES if k in have], format_func=plots.TRADE_OFF_AXES.get,
                       key="sweep_x")
    y = right.selectbox("Score (y)", [k for k in Y_AXES if k in have], format_func=plots.TRADE_OFF_AXES.get,
                        key="sweep_y")
    if x is None or y is None:
        return
    st.plotly_chart(plots.trade_off_figure(scored, x=x, y=y, revision=f"sweep-{plan.group}"), key="sweep_figure")
    st.caption("One line per latent size through its regulariser weights (the labels); error bars: the seeds' "
               "std. Left is closer to the prior for the classifier's accuracy and MMD; up is better.")
    st.dataframe(pd.DataFrame(table_rows(scored)), hide_index=True, width="stretch", key="sweep_table")
    st.markdown("**What the sweep says**\n\n" + "\n".join(f"- {s}" for s in sweep.sweep_reading(scored)))


def table_rows(points: list[sweep.SweepPoint]) -> list[dict]:
    rows = []
    for p in points:
        row = {"latent size": p.latent_size, "regulariser weight": f"{p.reg_weight:g}"}
        for key in ("test_auc", "nmi", "z_std", "c2st", "mmd"):
            metric = compare.BY_KEY[key]
            row[metric.name] = compare.cell_text(p.stats[key], metric) if key in p.stats else "–"
        row["runs"] = f"{p.finished} of {p.runs} finished"
        rows.append(row)
    return rows


def render(base: TrainConfig, grid: tuple, repeats: int, blocked: bool, manager, owner: str) -> None:
    """The sweep's problems, buttons, progress and results (refreshed while it runs)."""
    weights, latents = grid
    problems = sweep.sweep_problems(base.model, weights, latents, repeats)
    for name, message in problems.items():
        st.error(f"**{name.replace('_', ' ')}**: {message}", icon=":material/block:")
    plan, jobs = plan_jobs(manager, owner)
    active = plan is not None and (plan.waiting > 0 or any(j is not None and j.active for j in jobs))
    total = len(weights) * len(latents) * repeats
    buttons = st.container(horizontal=True, vertical_alignment="center")
    if buttons.button(f"Sweep ({total} runs)", type="primary", icon=":material/tune:", width="content",
                      disabled=active or blocked or bool(problems), key="sweep_start"):
        start(base, grid, repeats, manager, owner)
        st.rerun()
    if buttons.button("Cancel", icon=":material/stop:", width="content", disabled=not active, key="sweep_stop",
                      help="Stop every run of the sweep and queue no more; finished runs stay saved."):
        stop(plan, jobs, manager, owner)
        st.rerun()

    @st.fragment(run_every=REFRESH_SECONDS if active else None)
    def live() -> None:
        plan, jobs = plan_jobs(manager, owner)
        if plan is None:
            st.info("Pick the model, the regulariser weights and the latent sizes in the sidebar, then press "
                    "**Sweep**. Every run shares the other knobs and, per seed, one edge split.",
                    icon=":material/arrow_back:")
            return
        if any(j is None for j in jobs):
            st.warning(f"This sweep's runs are no longer held by the server (was it restarted?). Their saved "
                       f"files are in the Runs page, group `{plan.group}`.", icon=":material/report:")
            return
        top_up(plan, manager, owner)
        if "sweep_note" in st.session_state:
            st.caption(st.session_state.pop("sweep_note"))
        progress(plan, jobs, manager)
        results(plan, jobs)
        still = plan.waiting > 0 or any(j.active for j in jobs)
        if active and not still:
            st.rerun()  # the sweep ended since the page was drawn: redraw the buttons

    live()
