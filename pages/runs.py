"""Runs: every run saved on this server, in one sortable table; look at one run, open it
in the Train (or Latent) page, download its files, or delete it."""
from __future__ import annotations

import streamlit as st

from pages import page_setup

page_setup()  # first: see pages/__init__.py

import pandas as pd  # noqa: E402

from argae_core import access, runs  # noqa: E402
from pages import runs_access, runs_detail, runs_disk, signin  # noqa: E402
from pages.knobs import MODEL_LABELS  # noqa: E402

TABLE_KEY = "runs_table"
METRIC_COLUMNS = {"test_auc": "AUC", "test_ap": "AP", "acc": "ACC", "nmi": "NMI", "z_std": "spread",
                  "c2st": "C2ST", "mmd": "MMD"}


# ------------------------------------------------------------------ the table
def runs_table(summaries: list[runs.RunSummary]) -> pd.DataFrame:
    """One row per run, in the listing's order (newest first); `run` is the run id."""
    table = pd.DataFrame([{
        **({"owner": s.owner or "(no owner)"} if viewer.signed_in else {}),   # sign-in: who is who first
        "dataset": s.dataset_label, "model": MODEL_LABELS.get(s.model, s.model), "seed": s.seed,
        "started": s.started, "epochs": s.epochs_done, "planned": s.epochs_planned,
        **{name: getattr(s, key) for key, name in METRIC_COLUMNS.items()},
        "status": s.status, "steered at": s.steered_at or "", "dropped": s.snapshots_dropped,
        "MB": s.disk_bytes / runs_disk.MB, "source": s.source, "group": s.group or "",
        **({"shared": s.shared} if viewer.signed_in else {}), "run": s.run_id} for s in summaries])
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
    picked = shown[rows[0]] if rows and rows[0] < len(shown) else st.session_state.get("runs_picked",
                                                                                     st.query_params.get("run"))
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
                       "dropped": st.column_config.NumberColumn("dropped", help="snapshots dropped to keep the "
                                                                "disk budgets (oldest first)"),
                       "MB": st.column_config.NumberColumn("MB", format="%.1f", help="the run's size on disk"),
                       "run": st.column_config.TextColumn("run id")})


# ------------------------------------------------------------------ the page
viewer = signin.viewer()
st.title("Runs")
st.caption(runs_access.page_caption(viewer))
if "runs_notice" in st.session_state:
    kind, text = st.session_state.pop("runs_notice")
    (st.success if kind == "success" else st.error)(text)

summaries, warnings = runs.list_runs()
every_run = summaries   # the folder's size counts every run, seen by this viewer or not
summaries = access.visible(viewer, summaries)
if warnings and (not viewer.signed_in or viewer.teacher):   # folder names are runs too
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
runs_disk.folder_note(every_run)
runs_detail.run_details(picked, next(s for s in summaries if s.run_id == picked))
