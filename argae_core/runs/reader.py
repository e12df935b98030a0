"""Reading runs back, every file checked like user input: the listing (`list_runs`), one run
(`load_run`), its records, snapshots and graph. A damaged file raises `RunError`."""
from __future__ import annotations

import csv
import io
import json
import reprlib
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import snapshots
from ..config import ConfigError, TrainConfig
from ..records import ROW_FIELDS, SUMMARY_METRICS
from ..status import Status
from ..storage import HIDDEN_PREFIX, read_npz
from . import budget
from .folder import (DISCRIMINATOR_PREFIX, KNOWN_STATUSES, LEFTOVER_PREFIXES, LEFTOVER_SECONDS,
                     RUN_ID_PATTERN, SNAPSHOT_PATTERN, RunError, _run_path, runs_dir)
from .liveness import _effective_status
from .sharing import is_shared

# What the writer saves, checked on every read: a damaged file is refused, never half-trusted.
STATUS_TEXTS = ("status", "dataset", "model", "started", "heartbeat", "finished_at", "host",
                "group", "source", "message", "owner")
STATUS_COUNTS = ("epochs_done", "epochs_planned", "seed", "pid", "pid_start")
METRIC_NUMBERS = SUMMARY_METRICS + ("best_epoch", "epochs_run", "diverged_at", "seconds_per_epoch")
METRIC_TEXTS = ("degenerate", "clustering_capped", "sampler")
LARGEST_COUNT = 2**63 - 1   # what numpy, pandas and Arrow hold in an int64


def _read_json(path: Path) -> dict:
    """A JSON object from disk, or RunError naming the file and what is wrong."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path.name} is missing") from None
    except OSError as exc:  # a folder or a fifo in its place, no permission
        raise RunError(f"{path.name} cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: JSON; 4,300+ digits
        raise RunError(f"{path.name} is not valid JSON ({reprlib.repr(str(exc))})") from None
    if not isinstance(value, dict):
        raise RunError(f"{path.name} does not hold a JSON object")
    return value


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        return read_npz(path)
    except FileNotFoundError:
        raise RunError(f"{path.name} is missing") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise RunError(f"{path.name} is not a readable npz file ({exc})") from None


def _count(values: dict, name: str, file: str) -> int | None:
    """values[name] as a count (a whole number 0..2^63-1) or None; RunError otherwise."""
    value = values.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= LARGEST_COUNT:
        raise RunError(f"{file}: {name} is {reprlib.repr(value)}, not a count")
    return value


def _text(values: dict, name: str, file: str) -> str | None:
    value = values.get(name)
    if value is not None and not isinstance(value, str):
        raise RunError(f"{file}: {name} is {reprlib.repr(value)}, not text")
    return value


def _texts(value: Any, name: str, file: str, length: int | None = None) -> list[str] | None:
    """A list of strings (node ids, class names) or None; `length` when it must match."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RunError(f"{file}: {name} is not a list of text")
    if length is not None and len(value) != length:
        raise RunError(f"{file}: {len(value):,} {name} for {length:,} nodes")
    return value


def _checked_status(status: dict) -> dict:
    """status.json with every field of the type the writer saves (or absent), else RunError."""
    for name in STATUS_TEXTS:
        _text(status, name, "status.json")
    for name in STATUS_COUNTS:
        _count(status, name, "status.json")
    if status.get("status") is not None and status["status"] not in KNOWN_STATUSES:
        raise RunError(f"status.json: unknown status {reprlib.repr(status['status'])}")
    graph = status.get("graph")
    if graph is not None and not (isinstance(graph, dict) and _text(graph, "name", "status.json") is not None):
        raise RunError("status.json: graph is not a summary with a name")
    return status


def _checked_metrics(metrics: dict) -> dict:
    """metrics.json whose scores are numbers (or absent) and notes text, else RunError."""
    for name in METRIC_NUMBERS:
        value = metrics.get(name)
        if value is not None and _number(value) is None:
            raise RunError(f"metrics.json: {name} is {reprlib.repr(value)}, not a number")
    for name in METRIC_TEXTS:
        _text(metrics, name, "metrics.json")
    return metrics


def _integers(arrays: dict, name: str, file: str, length: int | None = None) -> np.ndarray | None:
    """A 1-D array of non-negative integers (degrees, labels) or None when absent."""
    values = arrays.get(name)
    if values is None:
        return None
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer) or (values < 0).any():
        raise RunError(f"{file}: {name} is not a list of non-negative whole numbers")
    if length is not None and len(values) != length:
        raise RunError(f"{file}: {len(values):,} {name} values for {length:,} nodes")
    return values


@dataclass
class RunSummary:
    """One row of the runs table."""
    run_id: str
    dataset: str
    model: str
    seed: int | None
    started: str | None
    epochs_done: int
    epochs_planned: int | None
    status: str
    test_auc: float | None = None
    test_ap: float | None = None
    acc: float | None = None
    nmi: float | None = None
    ari: float | None = None
    mmd: float | None = None
    z_std: float | None = None      # spread of Z in the prior's units
    c2st: float | None = None       # classifier two-sample test accuracy (0.5: like the prior)
    group: str | None = None
    source: str | None = None
    message: str | None = None
    graph_name: str | None = None   # the graph's own name: an upload's file name
    owner: str | None = None        # signed-in email of whoever started it (access.py)
    shared: bool = False            # a teacher shared it with the class
    steered_at: str = ""            # epochs at which it was steered ("120, 300"), '' if never
    snapshots_dropped: int = 0      # snapshots dropped to keep the disk budgets (runs/budget.py)
    disk_bytes: int = 0             # the run folder's size

    @property
    def dataset_label(self) -> str:
        return dataset_label(self.dataset, self.graph_name)


def dataset_label(dataset: str, graph_name: str | None) -> str:
    """What to call a run's dataset: an upload by the name it was uploaded under (its file),
    not by its content hash; a built-in dataset by its key."""
    return graph_name if dataset.startswith("upload:") and graph_name else dataset


@dataclass
class GraphInfo:
    """What exports need of the graph a run trained on."""
    name: str
    nodes: int
    edges: int
    features: int
    classes: int
    degrees: np.ndarray
    labels: np.ndarray | None = None
    node_ids: list[str] | None = None
    class_names: list[str] | None = None
    snapshot_nodes: np.ndarray | None = None   # the nodes each snapshot keeps, sorted (None: all)

    def snapshot_node(self, rows) -> np.ndarray:
        """The node index of each row of a snapshot (a row of the final Z is its node)."""
        return snapshots.node_of(self.snapshot_nodes, rows)

    @property
    def snapshot_size(self) -> int:
        """Rows of each snapshot."""
        return self.nodes if self.snapshot_nodes is None else len(self.snapshot_nodes)

    def node_label(self, i: int) -> str:
        return self.node_ids[i] if self.node_ids else str(i)

    def label_name(self, i: int) -> str:
        if self.labels is None:
            return ""
        y = int(self.labels[i])
        return self.class_names[y] if self.class_names and y < len(self.class_names) else str(y)


@dataclass
class Run:
    """A saved run, loaded. Snapshots are read from disk only when asked for."""
    run_id: str
    path: Path
    config: TrainConfig
    status: str
    info: dict                          # status.json as saved
    records: pd.DataFrame
    metrics: dict | None
    graph: GraphInfo
    snapshot_epochs: list[int]
    warnings: list[str] = field(default_factory=list)
    steering: list[dict] = field(default_factory=list)   # steering.json: changes made while it trained
    dropped_epochs: dict[int, dict] = field(default_factory=dict)   # snapshots dropped (budget.py): marker

    def snapshot(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(Z, D(z) per node or None) saved at `epoch`."""
        dropped = self.dropped_epochs.get(epoch)
        if dropped is None and epoch in self.snapshot_epochs and not self._snapshot_path(epoch).exists():
            dropped = budget.dropped(self.path).get(epoch)   # dropped since the run was loaded
        if dropped is not None:
            raise RunError(f"the snapshot of epoch {epoch} of run {self.run_id} was "
                           f"{budget.drop_note(dropped)}; its final Z, metrics and config are kept")
        if epoch not in self.snapshot_epochs:
            raise RunError(f"run {self.run_id} has no snapshot at epoch {epoch}; "
                           f"it has {', '.join(map(str, self.snapshot_epochs)) or 'none'}")
        arrays = _read_npz(self.path / "snapshots" / f"epoch_{epoch:05d}.npz")
        z = _z_of(arrays, self.run_id)
        if self.graph.snapshot_nodes is not None and len(z) != self.graph.snapshot_size:
            raise RunError(f"the snapshot of epoch {epoch} of run {self.run_id} has {len(z):,} rows, "
                           f"not the {self.graph.snapshot_size:,} nodes its snapshots keep")
        return z, _d_score_of(arrays, z)

    def _snapshot_path(self, epoch: int) -> Path:
        return self.path / "snapshots" / f"epoch_{epoch:05d}.npz"

    def discriminator_weights(self, epoch: int) -> dict[str, np.ndarray] | None:
        """D's parameters saved with the snapshot of `epoch` (None: no discriminator, or a run
        saved before snapshots kept them)."""
        if epoch not in self.snapshot_epochs:
            raise RunError(f"run {self.run_id} has no snapshot at epoch {epoch}")
        arrays = _read_npz(self.path / "snapshots" / f"epoch_{epoch:05d}.npz")
        weights = {k[len(DISCRIMINATOR_PREFIX):]: v for k, v in arrays.items() if k.startswith(DISCRIMINATOR_PREFIX)}
        return weights or None

    def final_embedding(self) -> tuple[int, np.ndarray, np.ndarray | None] | None:
        """(epoch, Z, D(z)) at the best-validation epoch the metrics score, if saved."""
        if not (self.path / "embedding.npz").exists():
            return None
        arrays = _read_npz(self.path / "embedding.npz")
        z, epoch = _z_of(arrays, self.run_id), arrays.get("epoch")
        if epoch is None or epoch.shape != () or not np.issubdtype(epoch.dtype, np.integer):
            raise RunError(f"embedding.npz of run {self.run_id} does not say its epoch")
        return int(epoch), z, _d_score_of(arrays, z)

    def state_dict(self) -> dict | None:
        """The saved model weights (tensors only: torch.load with weights_only=True)."""
        path = self.path / "model.pt"
        if not path.exists():
            return None
        import torch
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many kinds for a damaged file
            raise RunError(f"model.pt of run {self.run_id} cannot be read ({exc})") from None


def _z_of(arrays: dict, run_id: str) -> np.ndarray:
    z = arrays.get("z")
    if z is None or z.ndim != 2 or not np.issubdtype(z.dtype, np.floating):
        raise RunError(f"a snapshot of run {run_id} holds no 2-D array z of numbers")
    return z


def _d_score_of(arrays: dict, z: np.ndarray) -> np.ndarray | None:
    """D(z) per node when saved and shaped like Z's rows; a damaged one is left out."""
    d_score = arrays.get("d_score")
    if d_score is None or d_score.shape != (len(z),) or not np.issubdtype(d_score.dtype, np.floating):
        return None
    return d_score


def _count_records(path: Path) -> tuple[int, str | None]:
    """Complete rows in records.csv without parsing it, and a warning for a cut-off last line."""
    try:
        data = (path / "records.csv").read_bytes()
    except FileNotFoundError:
        return 0, None
    rows = max(data.count(b"\n") - 1, 0)
    if data and not data.endswith(b"\n"):
        return rows, f"{path.name}/records.csv ends with a truncated line; ignored that line"
    return rows, None


def _summary(path: Path) -> tuple[RunSummary, list[str]]:
    status = _checked_status(_read_json(path / "status.json"))
    warnings = []
    epochs, warning = _count_records(path)
    if warning:
        warnings.append(warning)
    metrics = {}
    if (path / "metrics.json").exists():
        try:
            metrics = _checked_metrics(_read_json(path / "metrics.json"))
        except RunError as exc:
            warnings.append(f"{path.name}: {exc}; metrics left empty")
    effective = _effective_status(status)
    disk_bytes, dropped_count = budget.usage(path)
    return RunSummary(
        run_id=path.name, dataset=str(status.get("dataset", "?")), model=str(status.get("model", "?")),
        seed=status.get("seed"), started=status.get("started"),
        epochs_done=epochs if effective in (Status.RUNNING, Status.INCOMPLETE) else int(status.get("epochs_done") or epochs),
        epochs_planned=status.get("epochs_planned"), status=effective,
        group=status.get("group"), source=status.get("source"), message=status.get("message"),
        graph_name=(status.get("graph") or {}).get("name"), owner=status.get("owner"), shared=is_shared(path),
        steered_at=_steered_at(path, warnings), disk_bytes=disk_bytes, snapshots_dropped=dropped_count,
        **{k: _number(metrics.get(k)) for k in SUMMARY_METRICS}), warnings


def _steered_at(path: Path, warnings: list[str]) -> str:
    """The epochs a run was steered at, read from its steering.json (not checked against the
    config: the listing reads no config; `load_run` checks the whole file)."""
    from ..steering import steered_epochs
    if not (path / "steering.json").exists():
        return ""
    try:
        return steered_epochs(json.loads((path / "steering.json").read_text(encoding="utf-8"))["changes"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        warnings.append(f"{path.name}: steering.json is not readable; not shown")
        return ""


def _number(value: Any) -> float | None:
    """A JSON number as a float (NaN kept: a diverged score), else None (also for an int
    beyond float's range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _sweep(entry: Path, older_than: float = LEFTOVER_SECONDS) -> None:
    """Remove a hidden leftover (a run being created, a temp file, a run being deleted) whose
    process was killed mid-way: nothing touches one for an hour unless it is abandoned."""
    if not entry.name.startswith(LEFTOVER_PREFIXES):
        return  # someone else's dotfile (.gitkeep, .DS_Store...): not ours to remove
    try:
        if time.time() - entry.lstat().st_mtime < older_than:
            return
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    except OSError:
        pass  # gone already, or not ours to remove: the listing skips it either way


def list_runs(root: Path | str | None = None) -> tuple[list[RunSummary], list[str]]:
    """Every readable run, newest first, and a warning per entry that is not one.

    Foreign files, folders without status.json and corrupt JSON are skipped with a
    warning; hidden entries (runs being created or deleted) are skipped silently."""
    root = Path(root) if root is not None else runs_dir()
    if not root.is_dir():
        return [], []
    runs, warnings = [], []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(HIDDEN_PREFIX):
            _sweep(entry)
            continue
        if not entry.is_dir():
            warnings.append(f"{entry.name}: a file, not a run folder; skipped")
        elif not RUN_ID_PATTERN.fullmatch(entry.name):
            warnings.append(f"{entry.name}: not a run folder name; skipped")
        else:
            try:
                summary, notes = _summary(entry)
            except (RunError, OSError) as exc:
                warnings.append(f"{entry.name}: {exc}; skipped")
                continue
            runs.append(summary)
            warnings.extend(notes)
    runs.sort(key=lambda r: (str(r.started or ""), r.run_id), reverse=True)
    return runs, warnings


def load_run(run_id: str, root: Path | str | None = None) -> Run:
    """A saved run with its config, records, metrics and graph info; RunError if unreadable."""
    path = _run_path(run_id, root)
    try:
        status = _checked_status(_read_json(path / "status.json"))
        config = TrainConfig.from_dict(_read_json(path / "config.json"), strict=False).validate()
        graph = _read_graph(path)
        metrics = (_checked_metrics(_read_json(path / "metrics.json"))
                   if (path / "metrics.json").exists() else None)
        snapshot_epochs = _snapshot_epochs(path)
    except RunError as exc:
        raise RunError(f"run {run_id} cannot be loaded: {exc}") from None
    except ConfigError as exc:
        raise RunError(f"run {run_id} has an unreadable config.json ({exc})") from None
    except OSError as exc:
        raise RunError(f"run {run_id} cannot be read ({exc})") from None
    records, warnings = read_records(path / "records.csv")
    from ..steering import SteeringError, load as load_steering
    try:
        steering = load_steering(path, config)
    except SteeringError as exc:
        steering, warnings = [], warnings + [f"run {run_id}: {exc}; steering not shown"]
    return Run(run_id=run_id, path=path, config=config, status=_effective_status(status), info=status,
               records=records, metrics=metrics, graph=graph, snapshot_epochs=snapshot_epochs,
               warnings=warnings, steering=steering, dropped_epochs=budget.dropped(path))


def dropped_snapshots(run_id: str, root: Path | str | None = None) -> dict[int, dict]:
    """The epochs of the run whose snapshot was dropped to keep a disk budget, with their
    markers ({} when none, or when the run is not there)."""
    try:
        return budget.dropped(_run_path(run_id, root))
    except (RunError, OSError):
        return {}


def _read_graph(path: Path) -> GraphInfo:
    meta = _read_json(path / "graph.json")
    arrays = _read_npz(path / "graph.npz")
    degrees = _integers(arrays, "degree", "graph.npz")
    if degrees is None:
        raise RunError("graph.npz holds no degrees")
    nodes = len(degrees)
    if _count(meta, "nodes", "graph.json") not in (None, nodes):
        raise RunError(f"graph.json: {meta['nodes']:,} nodes, but graph.npz has {nodes:,} degrees")
    counts = {name: _count(meta, name, "graph.json") or 0 for name in ("edges", "features", "classes")}
    return GraphInfo(name=_text(meta, "name", "graph.json") or "", nodes=nodes, **counts,
                     degrees=degrees, labels=_integers(arrays, "y", "graph.npz", nodes),
                     node_ids=_texts(meta.get("node_ids"), "node ids", "graph.json", nodes),
                     class_names=_texts(meta.get("class_names"), "class names", "graph.json"),
                     snapshot_nodes=_snapshot_nodes(path, nodes))


def _snapshot_nodes(path: Path, nodes: int) -> np.ndarray | None:
    """snapshot_nodes.npz: the sorted, distinct node indices each snapshot keeps (None: no file)."""
    if not (path / snapshots.FILE).exists():
        return None
    kept = _integers(_read_npz(path / snapshots.FILE), "nodes", snapshots.FILE)
    if kept is None or not len(kept) or (np.diff(kept) <= 0).any() or kept[-1] >= nodes:
        raise RunError(f"{snapshots.FILE} does not hold distinct sorted node indices below {nodes:,}")
    return kept


def _snapshot_epochs(path: Path) -> list[int]:
    folder = path / "snapshots"
    names = (SNAPSHOT_PATTERN.fullmatch(p.name) for p in folder.iterdir()) if folder.is_dir() else ()
    return sorted(int(m.group(1)) for m in names if m)


def read_records(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """records.csv as a DataFrame (numbers as floats / ints, empty cells NaN), tolerating a
    cut-off last line and rows of the wrong length (dropped, with a warning)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _no_records(), []
    except (OSError, UnicodeDecodeError) as exc:
        return _no_records(), [f"records.csv cannot be read ({exc}); no records"]
    warnings = []
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        warnings.append("records.csv ends with a truncated line; ignored that line")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:  # a field over csv's size limit, a NUL byte
        return _no_records(), warnings + [f"records.csv is not a readable table ({exc}); no records"]
    if not rows:
        return _no_records(), warnings
    if "epoch" not in rows[0] or len(set(rows[0])) != len(rows[0]):
        return _no_records(), warnings + ["records.csv has no epoch column or repeats a column; no records"]
    header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    if len(body) < len(rows) - 1:
        warnings.append(f"records.csv: {len(rows) - 1 - len(body)} malformed rows skipped")
    frame = pd.DataFrame(body, columns=header)
    for column in header:
        frame[column] = (frame[column] == "True") if column == "diverged" else pd.to_numeric(
            frame[column], errors="coerce")
    return frame, warnings


def _no_records() -> pd.DataFrame:
    """An empty table with the usual columns, so callers can always ask for "epoch"."""
    return pd.DataFrame(columns=ROW_FIELDS)
