"""Runs: every run saved on this server, in one sortable table; look at one run, open it
in the Train (or Latent) page, download its files, or delete it."""
from __future__ import annotations

import functools

import streamlit as st

from pages import page_setup

page_setup()  # first: see pages/__init__.py

import pandas as pd  # noqa: E402
from streamlit.errors import StreamlitAPIException  # noqa: E402

from argae_core import metrics, plots, runs  # noqa: E402
from argae_core.config import DEFAULT_REG_WEIGHT, TrainConfig  # noqa: E402
from argae_core import export_script, steering  # noqa: E402
from pages import common, steer  # noqa: E402

TABLE_KEY = "runs_table"
LATENT_PAGE = runs.PROJECT_DIR / "pages" / "latent.py"
METRIC_COLUMNS = {"test_auc": "AUC", "test_ap": "AP", "acc": "ACC", "nmi": "NMI", "z_std": "spread",
                  "c2st": "C2ST", "mmd": "MMD"}
STATUS_BOX = {"finished": st.success, "running": st.info, "stopped": st.warning,
              "incomplete": st.warning, "diverged": st.error, "failed": st.error}


# ------------------------------------------------------------------ the table
def runs_table(summaries: list[runs.RunSummary]) -> pd.DataFrame:
    """One row per run, in the listing's order (newest first); `run` is the run id."""
    table = pd.DataFrame([{
        "dataset": s.dataset_label, "model": common.MODEL_LABELS.get(s.model, s.model), "seed": s.seed,
        "started": s.started, "epochs": s.epochs_done, "planned": s.epochs_planned,
        **{name: getattr(s, key) for key, name in METRIC_COLUMNS.items()},
        "status": s.status, "steered at": s.steered_at or None, "source": s.source, "group": s.group,
        "run": s.run_id} for s in summaries])
    # Stored in UTC; shown as naive UTC so every viewer of a shared server reads the same time.
    table["started"] = pd.to_datetime(table["started"], utc=True, errors="coerce").dt.tz_localize(None)
    return table


def filtered(table: pd.DataFrame) -> pd.DataFrame:
    """The rows whose dataset, model and status are among the ones picked (none picked: all)."""
    keep = pd.Series(True, index=table.index)
    for column, box in zip(("dataset", "model", "status"), st.columns(3)):
        picked = box.multiselect(column.capitalize(), sorted(table[column].unique()),
                                 placeholder="all", key=f"runs_filter_{column}")
        if picked:
            keep &= table[column].isin(picked)
    return table[keep].reset_index(drop=True)


def selected_run(ids: list[str]) -> str:
    """The run picked in the table, followed by id: rows come and go (another session saves
    or deletes a run, a filter changes), so a remembered row number would drift to a neighbour."""
    shown = st.session_state.get("runs_shown", [])
    state = st.session_state.get(TABLE_KEY)
    rows = list(state["selection"]["rows"]) if state else []
    picked = shown[rows[0]] if rows and rows[0] < len(shown) else st.session_state.get("runs_picked")
    if picked not in ids:
        picked = ids[0]
    if rows != [ids.index(picked)]:
        st.session_state[TABLE_KEY] = {"selection": {"rows": [ids.index(picked)], "columns": [], "cells": []}}
    st.session_state["runs_shown"], st.session_state["runs_picked"] = ids, picked
    return picked


def draw_table(table: pd.DataFrame) -> None:
    score = {name: st.column_config.NumberColumn(name, format="%.3f") for name in METRIC_COLUMNS.values()}
    st.dataframe(
        table, key=TABLE_KEY, on_select="rerun", selection_mode="single-row-required",
        hide_index=True, width="stretch",
        column_config={**score,
                       "MMD": st.column_config.NumberColumn("MMD", format="%.4f",
                                                            help="MMD of Z to the N(0, I) prior: lower is closer"),
                       "started": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
                       "epochs": st.column_config.NumberColumn("epochs", help="epochs done"),
                       "planned": st.column_config.NumberColumn("of", help="epochs planned"),
                       "steered at": st.column_config.TextColumn("steered at", help="epochs at which the game "
                                                                 "was changed while it trained"),
                       "run": st.column_config.TextColumn("run id")})


# --------------------------------------------------------------- one run
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
    """The settings this run's model uses, as text (empty weights shown with their default)."""
    defaults = {"reg_weight": f"{DEFAULT_REG_WEIGHT:g} (default)", "kl_weight": f"1/{nodes} (default)"}
    unused = set()
    if config.dataset != "planted":
        unused |= {name for name in config.to_dict() if name.startswith("planted_")}
    if not config.adversarial:
        unused |= {"discriminator_hidden", "discriminator_lr", "discriminator_steps", "reg_weight"}
    if not config.variational:
        unused.add("kl_weight")
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
    st.header(f"{common.MODEL_LABELS.get(config.model, config.model)} on {dataset}, seed {config.seed}")
    details = [f"`{run.run_id}`", f"started {started_text(summary.started)}",
               f"{run.graph.nodes:,} nodes, {run.graph.edges:,} edges"]
    details += [f"source {summary.source}"] if summary.source else []
    details += [f"group {summary.group}"] if summary.group else []
    st.caption(" · ".join(details))
    STATUS_BOX.get(run.status, st.info)(status_text(run))
    steer.steered_note(run.steering)
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
    if st.session_state.get("runs_confirm_delete") != run.run_id:
        if row.button("Delete", icon=":material/delete:", disabled=running,
                      help="A run still training cannot be deleted." if running else None):
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


def downloads(run: runs.Run) -> None:
    """Download buttons whose files are built only when clicked (Streamlit calls `data` then)."""
    run_id = run.run_id
    has_embedding = (run.path / "embedding.npz").exists() or bool(run.snapshot_epochs)
    files = [("Metrics per epoch (CSV)", runs.export_records_csv, "records.csv", "text/csv", True),
             ("Config (JSON)", runs.export_config_json, "config.json", "application/json", True),
             ("Embeddings (npz)", functools.partial(runs.export_embeddings, fmt="npz"), "embeddings.npz",
              "application/octet-stream", has_embedding),
             ("Embeddings (CSV)", functools.partial(runs.export_embeddings, fmt="csv"), "embeddings.csv",
              "text/csv", has_embedding),
             ("Everything (zip)", runs.export_zip, "zip", "application/zip", True)]
    too_big = export_script.size_problem(run.config.dataset, run.graph.nodes, run.graph.edges, run.graph.features)
    files.append(("Script to retrain (Python)", export_script.script_or_reason, "retrain.py", "text/x-python",
                  run.status != "running" and not too_big))   # issue 17: torch + torch_geometric only
    row = st.container(horizontal=True)
    for label, export, suffix, mime, available in files:
        row.download_button(
            label, data=functools.partial(export, run_id), file_name=f"{run_id}.{suffix}"
            if suffix == "zip" else f"{run_id}-{suffix}", mime=mime, disabled=not available,
            on_click="ignore", icon=":material/download:",
            help=script_help(run, too_big) if suffix == "retrain.py" else None if available
            else "This run saved no embedding yet.", key=f"runs_download_{suffix}")


def script_help(run: runs.Run, too_big: str | None) -> str:
    if too_big or run.status == "running":
        return f"No script: {too_big}." if too_big else "Ready once the run has stopped training."
    return ("One Python file that needs only torch and torch_geometric: it retrains this run (same edge split, "
            "settings and steering) and prints its test AUC / AP.")


def final_metrics(run: runs.Run) -> None:
    if not run.metrics or "test_auc" not in run.metrics:
        st.caption("No test metrics: the run did not reach its final evaluation.")
        return
    st.dataframe(plots.metrics_table_rows({run.config.model.upper(): run.metrics}), hide_index=True,
                 width="stretch", key="runs_metrics",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("AUC", "AP", "ACC", "NMI", "ARI", "MMD to prior")})
    st.caption(f"Test metrics at epoch {run.metrics.get('best_epoch')}, the epoch with the best "
               f"validation AUC. {run.metrics.get('clustering_capped') or ''}")


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
    downloads(run)
    left, right = st.columns([3, 2])
    with left:
        final_metrics(run)
    with right.expander("Config", expanded=False):
        st.dataframe(config_rows(run.config, run.graph.nodes), hide_index=True, width="stretch",
                     key="runs_config")
    curves(run)


# ------------------------------------------------------------------ the page
st.title("Runs")
st.caption("Every training run on this server is saved here, from the Train page or the command line. "
           "The runs are shared by everyone using the server.")
if "runs_notice" in st.session_state:
    kind, text = st.session_state.pop("runs_notice")
    (st.success if kind == "success" else st.error)(text)

summaries, warnings = runs.list_runs()
if warnings:
    with st.expander(f"{len(warnings)} entries in the runs folder were skipped or partly read",
                     icon=":material/report:"):
        st.markdown("\n".join(f"- {w}" for w in warnings))
if not summaries:
    st.info("No saved runs yet. Train a model and it appears here.", icon=":material/folder_open:")
    st.page_link("pages/train.py", label="Go to the **Train** page", icon=":material/model_training:")
    st.stop()

table = filtered(runs_table(summaries))
if table.empty:
    st.info("No run matches these filters.")
    st.stop()
picked = selected_run(list(table["run"]))
draw_table(table)
st.caption(f"{len(table)} of {len(summaries)} runs. Click a row to see that run below; "
           "click a column header to sort.")
run_details(picked, next(s for s in summaries if s.run_id == picked))
