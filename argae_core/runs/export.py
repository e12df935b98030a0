"""Exports (records CSV, config JSON, embeddings npz / CSV, the whole run as a zip) and deletion.
CSV text cells are made spreadsheet-safe; a zip never follows links out of the run folder."""
from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..status import Status
from ..storage import HIDDEN_PREFIX, PLAIN_NUMBER, npz_bytes
from .folder import RunError, _run_path
from .liveness import _effective_status
from .reader import Run, _read_json, load_run, read_records

# A spreadsheet runs a cell that starts so as a formula (CSV injection); tab and CR too, as
# some strip them first. Such text cells are written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def delete_run(run_id: str, root: Path | str | None = None) -> None:
    """Remove a run's folder (refused while its writer is alive)."""
    path = _run_path(run_id, root)
    try:
        status = _read_json(path / "status.json")
    except RunError:
        status = {}  # a corrupt run can still be deleted
    if _effective_status(status) == Status.RUNNING:
        raise RunError(f"run {run_id} is still running; stop it before deleting it")
    # Rename first so a half-deleted run is hidden from the listing at once.
    doomed = path.with_name(f"{HIDDEN_PREFIX}deleting-{run_id}-{secrets.token_hex(2)}")
    path.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def export_records_csv(run_id: str, root: Path | str | None = None) -> bytes:
    records, _ = read_records(_run_path(run_id, root) / "records.csv")
    return _csv_bytes(records)


def export_config_json(run_id: str, root: Path | str | None = None) -> bytes:
    return json.dumps(load_run(run_id, root).config.to_dict(), indent=2, sort_keys=True).encode()


def export_embeddings(run_id: str, root: Path | str | None = None, *, epoch: int | None = None,
                      fmt: str = "npz") -> bytes:
    """Z with node ids, labels and degrees, as npz (plain arrays; `node_index`: each row's
    node in the graph) or CSV (node_id, label, degree, z0..z{d-1}). `epoch=None`: the final
    (best-validation) embedding if saved (every node), else the last snapshot (on a big
    graph, the nodes its snapshots keep: each row names its node)."""
    if fmt not in ("npz", "csv"):
        raise RunError(f"embedding format must be npz or csv, got {fmt!r}")
    run = load_run(run_id, root)
    epoch, z, d_score, whole = _embedding_at(run, epoch)
    graph = run.graph
    expected = graph.nodes if whole else graph.snapshot_size
    if len(z) != expected:
        raise RunError(f"run {run_id}: Z has {len(z)} rows but the graph {expected} nodes"
                       + ("" if whole else " kept in its snapshots"))
    rows = np.arange(len(z)) if whole else graph.snapshot_node(np.arange(len(z)))  # a row's node
    node_ids = [graph.node_label(int(i)) for i in rows]
    if fmt == "npz":
        arrays = {"z": z, "node_id": np.array(node_ids, dtype=str), "node_index": rows.astype(np.int64),
                  "degree": graph.degrees[rows], "epoch": np.int64(epoch)}
        if graph.labels is not None:
            arrays["label"] = graph.labels[rows]
        if d_score is not None:
            arrays["d_score"] = d_score
        return npz_bytes(**arrays)
    frame = pd.DataFrame(z, columns=[f"z{i}" for i in range(z.shape[1])])
    frame.insert(0, "degree", graph.degrees[rows])
    frame.insert(0, "label", [graph.label_name(int(i)) for i in rows])
    frame.insert(0, "node_id", node_ids)
    return _csv_bytes(frame)


def spreadsheet_safe(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, written as text ("'=cmd"); numbers,
    and text that is a plain number ("-3"), stay as they are."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    """The table as CSV with its header and text cells spreadsheet-safe, and quoted: pandas
    leaves a cell holding a lone CR unquoted, where a spreadsheet would start a new row."""
    safe = frame.rename(columns=spreadsheet_safe)
    for position, dtype in enumerate(safe.dtypes):
        if not pd.api.types.is_numeric_dtype(dtype):  # text (object or string) columns
            safe.iloc[:, position] = safe.iloc[:, position].map(spreadsheet_safe)
    return safe.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC).encode()


def _embedding_at(run: Run, epoch: int | None) -> tuple[int, np.ndarray, np.ndarray | None, bool]:
    """(epoch, Z, D(z), whole?): whole is the final Z (every node); a snapshot keeps
    `run.graph.snapshot_nodes` on a big graph."""
    if epoch is not None:
        return (epoch, *run.snapshot(epoch), run.graph.snapshot_nodes is None)
    final = run.final_embedding()
    if final is not None:
        return (*final, True)
    if not run.snapshot_epochs:
        raise RunError(f"run {run.run_id} saved no embedding yet")
    last = run.snapshot_epochs[-1]
    return (last, *run.snapshot(last), run.graph.snapshot_nodes is None)


def export_zip(run_id: str, root: Path | str | None = None) -> bytes:
    """Every regular file of the run in one zip, under a folder named after the run.
    Symbolic links (to files or folders) and devices are left out: a link placed in a run
    folder must not carry a file from elsewhere on the server into a download."""
    path = _run_path(run_id, root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, subfolders, files in os.walk(path):  # does not enter linked folders
            subfolders.sort()
            for name in sorted(files):
                data = None if name.startswith(HIDDEN_PREFIX) else _regular_file_bytes(Path(folder) / name)
                if data is not None:
                    archive.writestr(f"{run_id}/{(Path(folder) / name).relative_to(path).as_posix()}", data)
    return buffer.getvalue()


def _regular_file_bytes(file: Path) -> bytes | None:
    """The file's bytes if it is a regular file and not a link (O_NOFOLLOW: no race with a
    link swapped in after a check), else None."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None  # a link (ELOOP), gone, or unreadable
    with os.fdopen(fd, "rb") as handle:
        return handle.read() if stat.S_ISREG(os.fstat(fd).st_mode) else None
