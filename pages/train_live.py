"""The Train page's live part: progress, step mode, metric cards, the charts and the outcome
of a run, the session's own training or a saved run (argae_core.saved_run.SavedRun)."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from argae_core import plots, steering
from argae_core.config import TrainConfig
from argae_core.saved_run import SavedRun
from pages import common

STEP_NUMBERS = {"d_real": "D(prior)", "d_fake": "D(z)", "discriminator_loss": "D loss", "encoder_loss": "E loss"}


def next_update(job) -> tuple[int, str]:
    """(discriminator updates per epoch, the update step mode makes next), with steering: an
    epoch under way counts the updates it began with (its phases carry them), the next epoch
    the steps in effect after the changes applied and sent (0 with the adversary off)."""
    last = job.phases[-1] if job.phases else None
    if last is not None and last["phase"] == "discriminator":
        steps = int(last.get("updates", job.config.discriminator_steps))
        return steps, (f"discriminator update {last['update'] + 1} of {steps}" if last["update"] < steps
                       else "encoder update")
    steps = steering.discriminator_updates_ahead(job.config, job.steering, job.steer_pending)
    return steps, f"discriminator update 1 of {steps}" if steps else "encoder update"


def step_mode(job) -> None:
    """GAN Lab style: one discriminator or encoder update at a time, and what it moved."""
    steps, upcoming = next_update(job)
    last = job.phases[-1] if job.phases else None
    left, right = st.columns([1, 2])
    with left:
        per = f"Each of the epoch's {last['batches']:,} sampled batches" if last and "batches" in last else "Each epoch"
        st.caption(f"{per}: {common.plural(steps, 'discriminator update')} on prior samples vs Z, then "
                   f"one encoder update. Next: **{upcoming}**.")
        if st.button("One update", icon=":material/skip_next:", key="one_update",
                     help="Pause, then make exactly one update (discriminator or encoder)."):
            common.job_manager().control(job.job_id, common.session_id(), "update")
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


def step_table(phases: list[dict]) -> pd.DataFrame:
    """The latest single updates, newest first, as text: a value an update does not have (an
    encoder update's D numbers, a discriminator update's encoder loss) is a dash; a table
    cell without a value would read 'None'."""
    def cell(value, form: str) -> str:
        return "–" if value is None else format(value, form)
    return pd.DataFrame([{"epoch": p["epoch"], "phase": p["phase"], "update": cell(p.get("update"), ".0f"),
                          **{label: cell(p.get(key), ".3f") for key, label in STEP_NUMBERS.items()}}
                         for p in reversed(phases[-12:])])


def progress(job) -> None:
    total, done = job.config.epochs, job.epochs_done
    if isinstance(job, SavedRun):
        st.progress(min(done / total, 1.0), text=f"saved run · {job.state} · epoch {done} / {total}")
        return
    if job.state == "queued":
        q = common.job_manager().queue_status(job.job_id)
        st.info(f"Waiting in the queue: position {q['position']} of {q['waiting']}. "
                f"{q['running']} of {q['slots']} training slots are busy.", icon=":material/hourglass_top:")
        return
    if job.state == "starting":
        st.info("Loading the graph and building the model...", icon=":material/hourglass_top:")
    text, share = f"epoch {done} / {total}" + common.time_left(job.seconds_left()), 0.0
    inside = getattr(job, "batch_progress", None)  # a sampled epoch under way: its batches
    if inside and inside[0] == done + 1 and inside[1] < inside[2]:
        text, share = text + f" · batch {inside[1]:,} of {inside[2]:,}", inside[1] / inside[2]
    if job.state in ("paused", "stopped"):
        text += f" · {job.state}"
    st.progress(min((done + share) / total, 1.0), text=text)


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
    empty = {} if curves else {"note": "drawn live once you press Start", "x_range": (0, config.epochs)}
    left, right = st.columns(2)
    if config.adversarial:
        left.plotly_chart(plots.discriminator_loss_figure(curves, markers=markers, **empty), key="chart_d_loss")
        right.plotly_chart(plots.discriminator_verdict_figure(curves, markers=markers, **empty), key="chart_d_verdict")
    elif curves:
        st.info(f"{config.model.upper()} has no discriminator: it trains on reconstruction"
                f"{' and KL' if config.variational else ''} only, so there is no adversarial game "
                "to draw. Pick ARGA or ARGVA to see both players.", icon=":material/info:")
    left, right = st.columns(2)
    left.plotly_chart(plots.encoder_loss_figure(curves, markers=markers, **empty), key="chart_e_loss")
    right.plotly_chart(plots.validation_figure(curves, markers=markers, **empty, y_range=None if curves else (0, 1)), key="chart_val")


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
    from argae_core import metrics  # scikit-learn: imported once a run has metrics to show
    note = metrics.DEGENERATE_NOTES.get((job.metrics or {}).get("degenerate"))
    if note:
        st.warning(f"{note} {metrics.DEGENERATE_HINT}", icon=":material/compress:")
    if job.metrics and "test_auc" in job.metrics:
        st.header("Test metrics")  # h2: the page's title is its h1 (screen readers go by levels)
        sampled = f"Trained sampled, by {job.metrics['sampler']}. " if job.metrics.get("sampler") else ""
        st.caption(f"At epoch {job.metrics.get('best_epoch')}, the epoch with the best validation AUC. "
                   f"{sampled}Run saved as `{job.run_id}`. {job.metrics.get('clustering_capped') or ''}")
        common.metrics_table({job.config.model.upper(): job.metrics}, key="final_metrics")  # the caption names the run
