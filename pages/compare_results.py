"""The Compare page's results: progress per run, the tables of test scores and prior match
with their reading, and the training curves overlaid per model."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from argae_core import compare, paper, plots
from argae_core.config import applies
from pages import common
from pages.compare_latent import by_model
from pages.knobs import MODEL_LABELS


def progress_line(job) -> None:
    total, done = job.config.epochs, job.epochs_done
    if job.state == "queued":
        q = common.job_manager().queue_status(job.job_id)
        st.progress(0.0, text=f"{job.label} · queued, {q['position']} of {q['waiting']} in line")
        return
    text = f"{job.label} · epoch {done} / {total}"
    if job.state == "starting":
        text += " · loading the graph"
    elif job.active and done:
        text += common.time_left(job.seconds_left())
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
        q = common.job_manager().queue_status()
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
    st.header("Test metrics")  # h2 under the page title (screen readers go by levels)
    st.dataframe(pd.DataFrame(compare.table_rows(summaries, ("link", "clustering"))).style.map(best_cell),
                 hide_index=True, width="stretch", key="cmp_table")
    st.caption(f"★ best in its column (higher is better). Scores at each run's best-validation epoch.{spread}")
    reference = paper_note(jobs, seeds)
    if reference:
        st.caption(reference)
    st.header("How close Z is to N(0, I)")
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
    marks = [f"{MODEL_LABELS[m]} {a:.3f} / {p:.3f}" for m in dict.fromkeys(j.config.model for j in jobs)
             if (scores := paper.link_scores(dataset, m)) for a, p in [scores]]
    if not marks:
        return None
    return (f"Reference, test AUC / AP from the paper: {', '.join(marks)} ({paper.PROTOCOL}; here seeds "
            f"{seeds[0]}-{seeds[-1]}, test scores at the best-validation epoch). Dotted lines on the validation chart.")


def curves_section(jobs: list, models: list[str]) -> None:
    """Curves averaged over seeds, one colour per model in every chart, overlaid only where
    they mean the same thing: validation scores and the reconstruction loss for all models,
    the discriminator's charts for the adversarial ones."""
    series = {MODEL_LABELS[m]: compare.mean_rows([list(j.rows) for j in group])
              for m, group in by_model(jobs, models).items()}
    if not any(series.values()):
        return
    st.header("Training curves" + (" (mean over seeds)" if len(jobs) > len(models) else ""))
    left, right = st.columns(2)
    references = {MODEL_LABELS[m]: scores[0] for m in models
                  if (scores := paper.link_scores(jobs[0].config.dataset, m))}
    left.plotly_chart(plots.validation_figure(series, revision="cmp-val", references=references, legend_below=True),
                      key="cmp_chart_val")
    right.plotly_chart(plots.reconstruction_figure(series, revision="cmp-recon", legend_below=True),
                       key="cmp_chart_recon")
    if any(applies("reg_weight", m) for m in models):
        adversarial = {label: rows if applies("reg_weight", m) else [] for (label, rows), m in zip(series.items(), models)}
        drawn = {"drop_empty": True, "legend_below": True}  # the empty ones kept each model's colour
        left, right = st.columns(2)
        left.plotly_chart(plots.discriminator_loss_figure(adversarial, revision="cmp-d-loss", **drawn),
                          key="cmp_chart_d_loss")
        right.plotly_chart(plots.discriminator_verdict_figure(adversarial, revision="cmp-d-verdict", **drawn),
                           key="cmp_chart_d_verdict")
    terms = [f"{MODEL_LABELS[m]}: " + " + ".join(
        ["reconstruction"] + (["regulariser"] if applies("reg_weight", m) else [])
        + (["KL"] if applies("kl_weight", m) else [])) for m in models]
    with st.expander("Total encoder loss and its parts, per model"):
        st.caption("The total adds different terms per model (" + "; ".join(terms) + "), so compare totals "
                   "within a model, not across models.")
        st.plotly_chart(plots.encoder_loss_figure(series, revision="cmp-e-loss", legend_below=True),
                        key="cmp_chart_e_loss")
