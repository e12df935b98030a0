"""The Runs page's view of one run: what happened to it, its settings, files, metrics and
curves; open it in another page or delete it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from argae_core import access, metrics, plots, runs, steering
from argae_core.config import DEFAULT_REG_WEIGHT, TrainConfig, unused_settings
from pages import common, runs_access, runs_disk, runs_downloads, signin, steer
from pages.knobs import MODEL_LABELS

LATENT_PAGE = Path(__file__).resolve().parent / "latent.py"
STATUS_BOX = {"finished": st.success, "running": st.info, "stopped": st.warning,
              "incomplete": st.warning, "diverged": st.error, "failed": st.error}


def status_text(run: runs.Run) -> str:
    done, planned = len(run.records), run.config.epochs
    message = run.info.get("message")
    texts = {
        "finished": f"**finished**: all {planned} epochs.",
        "stopped": f"**stopped** after {done} of {planned} epochs"
                   + (f" ({message})." if message else " (stopped by hand)."),
        "diverged": f"**diverged**: {message or f'after {done} epochs'}; a loss became NaN or infinite. "
                    "The curves up to then are kept.",
        "failed": f"**failed** after {done} epochs: {message or 'no message saved'}.",
        "running": f"**running**: epoch {done} of {planned} so far. Open it in the Train page to watch it live.",
        "incomplete": f"**incomplete**: the training process stopped after {done} of {planned} epochs without "
                      "finishing (the server was restarted or the process was killed). The curves up to "
                      "then are kept; there are no test metrics.",
    }
    text = texts.get(run.status, f"**{run.status}**")
    note = metrics.DEGENERATE_NOTES.get((run.metrics or {}).get("degenerate"))
    if note:
        text += f" {note} {metrics.DEGENERATE_HINT}"
    return text


def config_rows(config: TrainConfig, nodes: int) -> pd.DataFrame:
    """The settings this run uses (config.unused_settings), as text (empty weights shown with
    their default)."""
    defaults = {"reg_weight": f"{DEFAULT_REG_WEIGHT:g} (default)", "kl_weight": f"1/{nodes} (default)"}
    unused = unused_settings(config)
    return pd.DataFrame([{"setting": name.replace("_", " "),
                          "value": defaults.get(name, "") if value is None else str(value)}
                         for name, value in config.to_dict().items() if name not in unused])


def started_text(stamp: str | None) -> str:
    started = pd.to_datetime(stamp, utc=True, errors="coerce")
    return "at an unknown time" if pd.isna(started) else started.strftime("%Y-%m-%d %H:%M UTC")


def header(run: runs.Run, summary: runs.RunSummary) -> None:
    config = run.config
    dataset = runs.dataset_label(config.dataset, run.graph.name)
    # h2 under the page's h1: screen readers navigate by heading levels, and skipping one misleads
    st.header(f"{MODEL_LABELS.get(config.model, config.model)} on {dataset}, seed {config.seed}")
    details = [f"`{run.run_id}`", f"started {started_text(summary.started)}",
               f"{run.graph.nodes:,} nodes, {run.graph.edges:,} edges"]
    details += [f"source {summary.source}"] if summary.source else []
    details += [f"group {summary.group}"] if summary.group else []
    details += [f"owner {summary.owner or '(none)'}" + (", shared with the class" if summary.shared else "")] \
        if signin.viewer().signed_in else []
    st.caption(" · ".join(details))
    STATUS_BOX.get(run.status, st.info)(status_text(run))
    steer.steered_note(list(run.steering))
    runs_disk.dropped_warning(run)
    for warning in run.warnings:
        st.warning(warning, icon=":material/report:")


def actions(run: runs.Run) -> None:
    """Open the run in other pages; delete it after a confirmation."""
    row = st.container(horizontal=True)
    if row.button("Open in Train page", icon=":material/model_training:"):
        open_in("pages/train.py", run.run_id)
    if LATENT_PAGE.exists() and row.button("Open in Latent page", icon=":material/scatter_plot:"):
        open_in("pages/latent.py", run.run_id)
    running = run.status == "running"
    viewer = signin.viewer()
    owner, allowed = run.info.get("owner"), access.may_delete(viewer, run.info.get("owner"))
    runs_access.class_controls(run, row, viewer)
    if st.session_state.get("runs_confirm_delete") != run.run_id:
        why_not = ("A run still training cannot be deleted." if running else None) if allowed else \
            f"Only its owner ({owner or 'a teacher'}) or a teacher can delete this run."
        if row.button("Delete", icon=":material/delete:", disabled=running or not allowed, help=why_not):
            st.session_state["runs_confirm_delete"] = run.run_id
            st.rerun()
        return
    st.warning(f"Delete run `{run.run_id}`? Its files are removed from this server for everyone who "
               "uses it. This cannot be undone.", icon=":material/delete_forever:")
    confirm = st.container(horizontal=True)
    if confirm.button(f"Yes, delete {run.run_id}", type="primary"):
        delete(run.run_id)
    if confirm.button("Cancel"):
        st.session_state.pop("runs_confirm_delete", None)
        st.rerun()


def open_in(page: str, run_id: str) -> None:
    """Show `run_id` in another page (Train and Latent read `view_run`)."""
    st.session_state["view_run"] = run_id
    try:
        st.switch_page(page)
    except StreamlitAPIException:  # the file exists but app.py does not list it yet
        st.error(f"{page} is not part of the app's navigation yet.")


def delete(run_id: str) -> None:
    """Delete, then rerun with a notice (the engine refuses a run whose writer still lives)."""
    st.session_state.pop("runs_confirm_delete", None)
    try:
        runs.delete_run(run_id)
    except (runs.RunError, OSError) as exc:
        st.session_state["runs_notice"] = ("error", f"Run `{run_id}` was not deleted: {exc}")
    else:
        st.session_state["runs_notice"] = ("success", f"Deleted run `{run_id}`.")
        if st.session_state.get("view_run") == run_id:
            del st.session_state["view_run"]
    st.rerun()


def final_metrics(run: runs.Run) -> None:
    if not run.metrics or "test_auc" not in run.metrics:
        st.caption("No test metrics: the run did not reach its final evaluation.")
        return
    common.metrics_table({run.config.model.upper(): run.metrics}, key="runs_metrics")
    sampled = f" Trained sampled, by {run.metrics['sampler']}." if run.metrics.get("sampler") else ""
    st.caption(f"Test metrics at epoch {run.metrics.get('best_epoch')}, the epoch with the best "
               f"validation AUC.{sampled} {run.metrics.get('clustering_capped') or ''}")


def curves(run: runs.Run) -> None:
    """The same loss charts as the Train page; plots skips the NaN cells of unlogged epochs."""
    rows = run.records.to_dict("records")
    if not rows:
        st.info("No epoch was recorded yet.")
        return
    series = {run.config.model.upper(): rows}
    figures = [plots.encoder_loss_figure, plots.validation_figure]
    if run.config.adversarial:
        figures = [plots.discriminator_loss_figure, plots.discriminator_verdict_figure, *figures]
    for first in range(0, len(figures), 2):
        for column, figure in zip(st.columns(2), figures[first:first + 2]):
            column.plotly_chart(figure(series, revision=f"{run.run_id}-{figure.__name__}",
                                       markers=steering.markers(run.steering)),
                                key=f"runs_chart_{figure.__name__}")


def run_details(run_id: str, summary: runs.RunSummary) -> None:
    try:
        run = runs.load_run(run_id)
    except runs.RunError as exc:
        st.error(f"{exc}. It can still be deleted.", icon=":material/error:")
        return
    header(run, summary)
    actions(run)
    runs_downloads.downloads(run)
    final_metrics(run)   # the whole width: its ten columns were cut off beside the config
    with st.expander("Config", expanded=False):
        st.dataframe(config_rows(run.config, run.graph.nodes), hide_index=True, width="stretch",
                     key="runs_config")
    curves(run)
