"""Saved runs on disk: one folder per run under `runs_dir()`, written atomically.

    <root>/<run_id>/
        status.json          running / finished / stopped / diverged / failed, pid, heartbeat, summary
        config.json          the TrainConfig
        graph.json, graph.npz  graph summary, node ids, class names; labels and degrees (for exports)
        records.csv          one row per epoch (EpochRecord.row())
        snapshots/epoch_00010.npz  Z (and D(z) per node) at snapshot epochs
        embedding.npz        Z at the best-validation epoch, the one the final metrics score
        metrics.json         final metrics
        steering.json        changes made while it trained (argae_core/steering.py), if any
        model.pt             torch.save(state_dict), read back with weights_only=True

Every file is written to a temporary file in the same folder, fsynced and renamed over
the old one, so a killed process leaves either the old or the new version, never half
of one. Nothing is unpickled: JSON, CSV, `np.load(allow_pickle=False)` and
`torch.load(weights_only=True)`. A run whose writer died (its process is gone, or its
heartbeat is old) is reported as "incomplete" with the epochs its records hold.
Everything read back is checked like user input (types, counts, shapes); a damaged file
raises `RunError`, which the listing turns into a warning naming the run.

torch is imported only where weights are saved or loaded, so listing runs stays light.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import reprlib
import secrets
import shutil
import socket
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pandas as pd

from .config import ConfigError, TrainConfig

if TYPE_CHECKING:
    from .data import Graph
    from .training import EpochRecord, Trainer

PROJECT_DIR = Path(__file__).resolve().parent.parent
FINAL_STATUSES = ("finished", "stopped", "diverged", "failed")
FLUSH_SECONDS = 1.0          # records.csv is rewritten at most this often (plus at snapshots)
STALE_SECONDS = 300.0        # a "running" run silent this long, on another host, is incomplete
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
SNAPSHOT_PATTERN = re.compile(r"epoch_(\d+)\.npz")
HIDDEN_PREFIX = "."          # our in-progress folders and temp files start with a dot
LEFTOVER_SECONDS = 3600      # a hidden entry untouched this long was left by a killed process
LEFTOVER_PREFIXES = tuple(HIDDEN_PREFIX + kind for kind in ("new-", "tmp-", "deleting-"))
SUMMARY_METRICS = ("test_auc", "test_ap", "acc", "nmi", "ari", "mmd", "z_std", "c2st")
# What the writer saves, checked on every read: a damaged file is refused, never half-trusted.
STATUS_TEXTS = ("status", "dataset", "model", "started", "heartbeat", "finished_at", "host",
                "group", "source", "message")
STATUS_COUNTS = ("epochs_done", "epochs_planned", "seed", "pid", "pid_start")
KNOWN_STATUSES = ("running",) + FINAL_STATUSES
METRIC_NUMBERS = SUMMARY_METRICS + ("best_epoch", "epochs_run", "diverged_at", "seconds_per_epoch")
METRIC_TEXTS = ("degenerate", "clustering_capped")
LARGEST_COUNT = 2**63 - 1   # what numpy, pandas and Arrow hold in an int64
# A spreadsheet runs a cell that starts so as a formula (CSV injection); tab and CR too, as
# some strip them first. Such text cells are written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


DISCRIMINATOR_PREFIX = "d."   # snapshot arrays holding D's parameters


class RunError(RuntimeError):
    """A run that is missing, corrupt, still running, or named badly; the message says which."""


def runs_dir() -> Path:
    """Where runs live: $ARGAE_RUNS_DIR, default <project>/runs (git-ignored)."""
    return Path(os.environ.get("ARGAE_RUNS_DIR", PROJECT_DIR / "runs")).expanduser()


# ----------------------------------------------------------------- atomic files
def _atomic_write(path: Path, data: bytes) -> None:
    """Write then rename: readers and crashes see the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=HIDDEN_PREFIX + "tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _to_json(value: Any) -> bytes:
    def plain(obj):  # numpy scalars and arrays from metrics
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        raise TypeError(f"cannot store {type(obj).__name__} as JSON")
    return json.dumps(value, indent=1, default=plain).encode()


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


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
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
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


# ---------------------------------------------------------------- time, process
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _age_seconds(stamp: Any) -> float:
    try:
        return (datetime.now(timezone.utc) - datetime.fromisoformat(stamp)).total_seconds()
    except (TypeError, ValueError):
        return float("inf")


def _process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])  # zombies are dead


def _pid_alive(pid: Any, start: Any) -> bool | None:
    """True / False when this host can tell whether the writer lives, None when it cannot."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if Path("/proc/self/stat").exists():
        actual = _process_start(pid)
        return actual is not None and (start is None or actual == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return None  # exists, but without start times a reused pid cannot be ruled out


def _writer_gone(status: dict) -> bool:
    """A "running" run whose writer is dead: same host and dead pid, or an old heartbeat."""
    if status.get("host") == socket.gethostname():
        alive = _pid_alive(status.get("pid"), status.get("pid_start"))
        if alive is not None:
            return not alive
    return _age_seconds(status.get("heartbeat")) > STALE_SECONDS


# ----------------------------------------------------------------------- writing
def _slug(text: str, limit: int = 24) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "graph"


def new_run_id(config: TrainConfig) -> str:
    """Sortable by start time (UTC), readable, unique: 20261122-051500-cora-argva-s0-3f9a."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{_slug(config.dataset)}-{config.model}-s{config.seed}-{secrets.token_hex(2)}"


class RunWriter:
    """Saves one run as it trains: `add(record)` per epoch, then `finish(...)` once."""

    def __init__(self, config: TrainConfig, graph: Graph, *, root: Path | str | None = None,
                 group: str | None = None, source: str = "ui"):
        self.root = Path(root) if root is not None else runs_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.config = config
        self._header: list[str] | None = None
        self._lines: list[str] = []
        self._last_flush = 0.0
        self._finished = False
        self.final_metrics: dict | None = None
        started = _now()
        self.info = {
            "status": "running", "pid": os.getpid(), "pid_start": _process_start(os.getpid()),
            "host": socket.gethostname(), "started": started, "heartbeat": started,
            "finished_at": None, "epochs_done": 0, "epochs_planned": config.epochs,
            "dataset": config.dataset, "model": config.model, "seed": config.seed,
            "group": group, "source": source, "message": None, "graph": _graph_summary(graph)}
        self.run_id, self.path = self._create(graph)

    def _create(self, graph: Graph) -> tuple[str, Path]:
        """Fill a hidden folder, then rename it into place: the listing never sees half a run."""
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=HIDDEN_PREFIX + "new-"))
        try:
            (staging / "snapshots").mkdir()
            _atomic_write(staging / "config.json", _to_json(self.config.to_dict()))
            _atomic_write(staging / "graph.json", _to_json(
                {**_graph_summary(graph), "node_ids": graph.node_ids, "class_names": graph.class_names}))
            arrays = {"degree": graph.degrees().astype(np.int64)}
            if graph.y is not None:
                arrays["y"] = graph.y.numpy().astype(np.int64)
            _atomic_write(staging / "graph.npz", _npz_bytes(**arrays))
            _atomic_write(staging / "status.json", _to_json(self.info))
            while True:
                run_id = new_run_id(self.config)
                if not (self.root / run_id).exists():
                    break
            staging.rename(self.root / run_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return run_id, self.root / run_id

    @property
    def epochs_done(self) -> int:
        return len(self._lines)

    def add(self, record: EpochRecord) -> None:
        """Keep the epoch's row; save its snapshot; flush records now and then."""
        if self._finished:
            raise RunError(f"run {self.run_id} is already finished")
        row = record.row()
        if self._header is None:
            self._header = list(row)
        self._lines.append(_csv_line([row.get(k) for k in self._header]))
        snapshot = record.z is not None
        if snapshot:
            arrays = {"z": np.asarray(record.z)}
            if record.d_score is not None:
                arrays["d_score"] = np.asarray(record.d_score)
            for name, value in (record.d_weights or {}).items():
                arrays[DISCRIMINATOR_PREFIX + name] = np.asarray(value)
            _atomic_write(self.path / "snapshots" / f"epoch_{record.epoch:05d}.npz", _npz_bytes(**arrays))
        if snapshot or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def save_steering(self, history: list[dict]) -> None:
        """Rewrite steering.json with the run's steering history so far."""
        from .steering import to_json
        _atomic_write(self.path / "steering.json", to_json(history))

    def flush(self) -> None:
        """Rewrite records.csv with every row so far, then the status heartbeat."""
        header = _csv_line(self._header) if self._header else ""
        _atomic_write(self.path / "records.csv", (header + "".join(self._lines)).encode())
        self.info.update(heartbeat=_now(), epochs_done=self.epochs_done)
        _atomic_write(self.path / "status.json", _to_json(self.info))
        self._last_flush = time.monotonic()

    def finish(self, final_metrics: dict, state_dict: dict | None, status: str, *,
               message: str | None = None, embedding: tuple[np.ndarray, np.ndarray | None] | None = None
               ) -> None:
        """Flush the records, save metrics, weights and final Z, and mark the run `status`."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"status must be one of {', '.join(FINAL_STATUSES)}, got {status!r}")
        if self._finished:
            raise RunError(f"run {self.run_id} is already finished")
        self._finished = True
        self.final_metrics = final_metrics
        self.flush()
        _atomic_write(self.path / "metrics.json", _to_json(final_metrics))
        if state_dict is not None:
            import torch
            buffer = io.BytesIO()
            torch.save(state_dict, buffer)
            _atomic_write(self.path / "model.pt", buffer.getvalue())
        if embedding is not None and np.isfinite(embedding[0]).all():
            z, d_score = embedding
            arrays = {"z": np.asarray(z), "epoch": np.int64(final_metrics.get("best_epoch", self.epochs_done))}
            if d_score is not None:
                arrays["d_score"] = np.asarray(d_score)
            _atomic_write(self.path / "embedding.npz", _npz_bytes(**arrays))
        self.info.update(status=status, message=message, finished_at=_now())
        _atomic_write(self.path / "status.json", _to_json(self.info))


def _graph_summary(graph: Graph) -> dict:
    return {"name": graph.name, "nodes": graph.num_nodes, "edges": graph.num_edges,
            "features": graph.num_features, "classes": graph.num_classes}


def _csv_line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


def record_run(trainer: Trainer, writer: RunWriter) -> Iterator[EpochRecord]:
    """Yield the trainer's records while `writer` saves them; finish the run at the end.

    Ends as diverged, stopped (trainer.stop(), the consumer closing this generator, or
    Ctrl-C) or finished; an exception marks the run failed with its message and is re-raised."""
    try:
        for record in trainer:
            writer.add(record)
            if trainer.steering and trainer.steering[-1]["epoch"] == record.epoch:
                writer.save_steering(trainer.steering)
            yield record
    except GeneratorExit:
        _finish(trainer, writer, "stopped")
        raise
    except KeyboardInterrupt:
        _finish_failed(writer, "stopped", "interrupted from the keyboard")
        raise
    except Exception as exc:
        _finish_failed(writer, "failed", f"{type(exc).__name__}: {exc}")
        raise
    if trainer.diverged_at is not None:
        outcome = "diverged"
    elif trainer.epoch < trainer.config.epochs:
        outcome = "stopped"
    else:
        outcome = "finished"
    _finish(trainer, writer, outcome)


def _finish(trainer: Trainer, writer: RunWriter, status: str) -> None:
    try:
        metrics = trainer.final_metrics()  # loads the best-validation weights
        embedding = trainer.snapshot()
    except Exception as exc:
        _finish_failed(writer, "failed", f"final evaluation failed: {type(exc).__name__}: {exc}")
        raise
    message = f"diverged at epoch {trainer.diverged_at}" if trainer.diverged_at else None
    writer.finish(metrics, trainer.model.state_dict(), status, message=message, embedding=embedding)


def _finish_failed(writer: RunWriter, status: str, message: str) -> None:
    try:
        writer.finish({}, None, status, message=message)
    except OSError:
        pass  # the disk itself may be the failure; the original exception says more


# ----------------------------------------------------------------------- reading
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
    steered_at: str = ""            # epochs at which it was steered ("120, 300"), '' if never

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

    def snapshot(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(Z, D(z) per node or None) saved at `epoch`."""
        if epoch not in self.snapshot_epochs:
            raise RunError(f"run {self.run_id} has no snapshot at epoch {epoch}; "
                           f"it has {', '.join(map(str, self.snapshot_epochs)) or 'none'}")
        arrays = _read_npz(self.path / "snapshots" / f"epoch_{epoch:05d}.npz")
        z = _z_of(arrays, self.run_id)
        return z, _d_score_of(arrays, z)

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


def check_run_id(run_id: Any) -> str:
    """The run id if it is a plain folder name (letters, digits, - and _), else RunError."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise RunError(f"{run_id!r} is not a run id (letters, digits, '-' and '_' only)")
    return run_id


def _run_path(run_id: Any, root: Path | str | None) -> Path:
    path = (Path(root) if root is not None else runs_dir()) / check_run_id(run_id)
    if not (path / "status.json").is_file():
        raise RunError(f"no run {run_id!r} in {path.parent}")
    return path


def _effective_status(status: dict) -> str:
    if status.get("status") == "running" and _writer_gone(status):
        return "incomplete"
    return str(status.get("status", "unknown"))


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
    return RunSummary(
        run_id=path.name, dataset=str(status.get("dataset", "?")), model=str(status.get("model", "?")),
        seed=status.get("seed"), started=status.get("started"),
        epochs_done=epochs if effective in ("running", "incomplete") else int(status.get("epochs_done") or epochs),
        epochs_planned=status.get("epochs_planned"), status=effective,
        group=status.get("group"), source=status.get("source"), message=status.get("message"),
        graph_name=(status.get("graph") or {}).get("name"), steered_at=_steered_at(path, warnings),
        **{k: _number(metrics.get(k)) for k in SUMMARY_METRICS}), warnings


def _steered_at(path: Path, warnings: list[str]) -> str:
    """The epochs a run was steered at, read from its steering.json (not checked against the
    config: the listing reads no config; `load_run` checks the whole file)."""
    from .steering import steered_epochs
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
    from .steering import SteeringError, load as load_steering
    try:
        steering = load_steering(path, config)
    except SteeringError as exc:
        steering, warnings = [], warnings + [f"run {run_id}: {exc}; steering not shown"]
    return Run(run_id=run_id, path=path, config=config, status=_effective_status(status), info=status,
               records=records, metrics=metrics, graph=graph, snapshot_epochs=snapshot_epochs,
               warnings=warnings, steering=steering)


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
                     class_names=_texts(meta.get("class_names"), "class names", "graph.json"))


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
    from .training import ROW_FIELDS  # imports torch; only needed for a run with no epochs yet
    return pd.DataFrame(columns=ROW_FIELDS)


# ------------------------------------------------------------------ deletion, exports
def delete_run(run_id: str, root: Path | str | None = None) -> None:
    """Remove a run's folder (refused while its writer is alive)."""
    path = _run_path(run_id, root)
    try:
        status = _read_json(path / "status.json")
    except RunError:
        status = {}  # a corrupt run can still be deleted
    if _effective_status(status) == "running":
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
    """Z with node ids, labels and degrees, as npz (plain arrays) or CSV
    (node_id, label, degree, z0..z{d-1}). `epoch=None`: the final (best-validation)
    embedding if saved, else the last snapshot."""
    if fmt not in ("npz", "csv"):
        raise RunError(f"embedding format must be npz or csv, got {fmt!r}")
    run = load_run(run_id, root)
    epoch, z, d_score = _embedding_at(run, epoch)
    graph = run.graph
    if len(z) != len(graph.degrees):
        raise RunError(f"run {run_id}: Z has {len(z)} rows but the graph {len(graph.degrees)} nodes")
    node_ids = [graph.node_label(i) for i in range(len(z))]
    if fmt == "npz":
        arrays = {"z": z, "node_id": np.array(node_ids, dtype=str), "degree": graph.degrees,
                  "epoch": np.int64(epoch)}
        if graph.labels is not None:
            arrays["label"] = graph.labels
        if d_score is not None:
            arrays["d_score"] = d_score
        return _npz_bytes(**arrays)
    frame = pd.DataFrame(z, columns=[f"z{i}" for i in range(z.shape[1])])
    frame.insert(0, "degree", graph.degrees)
    frame.insert(0, "label", [graph.label_name(i) for i in range(len(z))])
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


def _embedding_at(run: Run, epoch: int | None) -> tuple[int, np.ndarray, np.ndarray | None]:
    if epoch is not None:
        return (epoch, *run.snapshot(epoch))
    final = run.final_embedding()
    if final is not None:
        return final
    if not run.snapshot_epochs:
        raise RunError(f"run {run.run_id} saved no embedding yet")
    last = run.snapshot_epochs[-1]
    return (last, *run.snapshot(last))


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
