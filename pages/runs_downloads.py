"""The Runs page's downloads: a run's files, built only when clicked, and the standalone
script that retrains it (argae_core.export_script)."""
from __future__ import annotations

import functools

import streamlit as st

from argae_core import export_script, runs


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
                  run.status != "running" and not too_big))   # torch + torch_geometric only
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
