"""Saving a run as it trains: `RunWriter` (atomic files, a heartbeat) and `record_run`, which
finishes the run with the status its training ended in."""
from __future__ import annotations

import csv
import io
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .. import snapshots
from ..config import TrainConfig
from ..records import EpochRecord
from ..status import Status
from ..storage import HIDDEN_PREFIX, atomic_write, json_bytes, npz_bytes
from . import budget
from .folder import DISCRIMINATOR_PREFIX, FINAL_STATUSES, RunError, runs_dir
from .liveness import _now, _process_start

if TYPE_CHECKING:
    from ..graph import Graph
    from ..training import Trainer

FLUSH_SECONDS = 1.0          # records.csv is rewritten at most this often (plus at snapshots)


def _to_json(value: Any) -> bytes:
    return json_bytes(value, indent=1)


def _slug(text: str, limit: int = 24) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "graph"


def new_run_id(config: TrainConfig) -> str:
    """Sortable by start time (UTC), readable, unique: 20261122-051500-cora-argva-s0-3f9a."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{_slug(config.dataset)}-{config.model}-s{config.seed}-{secrets.token_hex(2)}"


class RunWriter:
    """Saves one run as it trains: `add(record)` per epoch, then `finish(...)` once."""

    def __init__(self, config: TrainConfig, graph: Graph, *, root: Path | str | None = None,
                 group: str | None = None, source: str = "ui", owner: str | None = None):
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
            "status": Status.RUNNING, "pid": os.getpid(), "pid_start": _process_start(os.getpid()),
            "host": socket.gethostname(), "started": started, "heartbeat": started,
            "finished_at": None, "epochs_done": 0, "epochs_planned": config.epochs,
            "dataset": config.dataset, "model": config.model, "seed": config.seed,
            "group": group, "source": source, "message": None, "graph": graph.summary(notes=False),
            "owner": owner}   # the signed-in email that started it (None: no sign-in): access.py
        # the nodes each snapshot keeps (argae_core/snapshots.py), the same rule as the Trainer's
        self.snapshot_nodes = snapshots.subsample(
            graph.num_nodes, config.snapshot_nodes, config.seed,
            graph.y.numpy() if graph.y is not None else None)
        self._snapshot_rows = graph.num_nodes if self.snapshot_nodes is None else len(self.snapshot_nodes)
        self.run_id, self.path = self._create(graph)
        # disk budgets (runs/budget.py): sizes tracked as files are written, measured when over
        self.budget = budget.budgets()
        self._run_bytes = budget.folder_bytes(self.path)
        self._root_bytes = budget.total_bytes(self.root)
        self.dropped: list[tuple[str, int]] = []   # (run id, epoch) of snapshots this writer dropped

    def _create(self, graph: Graph) -> tuple[str, Path]:
        """Fill a hidden folder, then rename it into place: the listing never sees half a run."""
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=HIDDEN_PREFIX + "new-"))
        try:
            (staging / "snapshots").mkdir()
            atomic_write(staging / "config.json", _to_json(self.config.to_dict()))
            atomic_write(staging / "graph.json", _to_json(
                {**graph.summary(notes=False), "node_ids": graph.node_ids, "class_names": graph.class_names}))
            arrays = {"degree": graph.degrees().astype(np.int64)}
            if graph.y is not None:
                arrays["y"] = graph.y.numpy().astype(np.int64)
            atomic_write(staging / "graph.npz", npz_bytes(**arrays))
            if self.snapshot_nodes is not None:
                atomic_write(staging / snapshots.FILE, npz_bytes(nodes=self.snapshot_nodes))
            atomic_write(staging / "status.json", _to_json(self.info))
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
            if len(arrays["z"]) != self._snapshot_rows:
                raise RunError(f"a snapshot of {len(arrays['z']):,} rows for run {self.run_id}, whose "
                               f"snapshots keep {self._snapshot_rows:,} nodes")
            if record.d_score is not None:
                arrays["d_score"] = np.asarray(record.d_score)
            for name, value in (record.d_weights or {}).items():
                arrays[DISCRIMINATOR_PREFIX + name] = np.asarray(value)
            data = npz_bytes(**arrays)
            atomic_write(self.path / "snapshots" / f"epoch_{record.epoch:05d}.npz", data)
            self._run_bytes += len(data)
            self._root_bytes += len(data)
            self._keep_within_budgets()
        if snapshot or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def save_steering(self, history: list[dict]) -> None:
        """Rewrite steering.json with the run's steering history so far."""
        from ..steering import to_json
        atomic_write(self.path / "steering.json", to_json(history))

    def flush(self) -> None:
        """Rewrite records.csv with every row so far, then the status heartbeat."""
        header = _csv_line(self._header) if self._header else ""
        atomic_write(self.path / "records.csv", (header + "".join(self._lines)).encode())
        self.info.update(heartbeat=_now(), epochs_done=self.epochs_done)
        atomic_write(self.path / "status.json", _to_json(self.info))
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
        atomic_write(self.path / "metrics.json", _to_json(final_metrics))
        if state_dict is not None:
            import torch
            buffer = io.BytesIO()
            torch.save(state_dict, buffer)
            atomic_write(self.path / "model.pt", buffer.getvalue())
        if embedding is not None and np.isfinite(embedding[0]).all():
            z, d_score = embedding
            arrays = {"z": np.asarray(z), "epoch": np.int64(final_metrics.get("best_epoch", self.epochs_done))}
            if d_score is not None:
                arrays["d_score"] = np.asarray(d_score)
            atomic_write(self.path / "embedding.npz", npz_bytes(**arrays))
        self.info.update(status=status, message=message, finished_at=_now())
        atomic_write(self.path / "status.json", _to_json(self.info))
        self._run_bytes = budget.folder_bytes(self.path)   # with the final Z and the weights
        self._root_bytes = budget.total_bytes(self.root)
        self._keep_within_budgets()

    def _keep_within_budgets(self) -> None:
        """Over a budget: drop the oldest snapshots (runs/budget.py), markers left in their place."""
        try:
            if self._run_bytes > self.budget.run_bytes:
                self.dropped += [(self.run_id, e) for e in budget.enforce_run(self.path, self.budget)]
                self._run_bytes = budget.folder_bytes(self.path)
            if self._root_bytes > self.budget.runs_bytes:
                self.dropped += budget.enforce_total(self.root, self.budget)
                self._root_bytes = budget.total_bytes(self.root)
        except OSError:
            pass  # a budget that cannot be kept now is kept at the next snapshot; training goes on


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
        _finish(trainer, writer, Status.STOPPED)
        raise
    except KeyboardInterrupt:
        _finish_failed(writer, Status.STOPPED, "interrupted from the keyboard")
        raise
    except Exception as exc:
        _finish_failed(writer, Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    if trainer.diverged_at is not None:
        outcome = Status.DIVERGED
    elif trainer.epoch < trainer.config.epochs:
        outcome = Status.STOPPED
    else:
        outcome = Status.FINISHED
    _finish(trainer, writer, outcome)


def _finish(trainer: Trainer, writer: RunWriter, status: str) -> None:
    try:
        metrics = trainer.final_metrics()  # loads the best-validation weights
        embedding = trainer.snapshot()
    except Exception as exc:
        _finish_failed(writer, Status.FAILED, f"final evaluation failed: {type(exc).__name__}: {exc}")
        raise
    message = f"diverged at epoch {trainer.diverged_at}" if trainer.diverged_at else None
    writer.finish(metrics, trainer.model.state_dict(), status, message=message, embedding=embedding)


def _finish_failed(writer: RunWriter, status: str, message: str) -> None:
    try:
        writer.finish({}, None, status, message=message)
    except OSError:
        pass  # the disk itself may be the failure; the original exception says more
