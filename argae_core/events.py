"""What a training worker tells the job manager, one dataclass a kind.

They cross process boundaries (multiprocessing queues, Ray queues), so they are plain
module-level dataclasses of picklable fields: numbers, dicts, numpy arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .status import Status


@dataclass(frozen=True)
class Ready:
    """A warm worker process has imported the engine."""
    pid: int
    job_id: None = None


@dataclass(frozen=True)
class Started:
    job_id: str
    run_id: str
    graph: dict                      # data.summary of the graph it trains on


@dataclass(frozen=True)
class Record:
    """One epoch: its row (EpochRecord.row()), with Z and D(z) at snapshot epochs."""
    job_id: str
    row: dict
    z: np.ndarray | None = None
    d_score: np.ndarray | None = None
    steered: dict | None = None      # the steering entry that took effect at this epoch (steering.py)


@dataclass(frozen=True)
class SteerQueued:
    """A steering change was received; it applies from epoch `epoch` on."""
    job_id: str
    epoch: int


@dataclass(frozen=True)
class Paused:
    job_id: str
    paused: bool                     # False: resumed


@dataclass(frozen=True)
class Phase:
    """Step mode: one discriminator or encoder update, with Z and D(z) after it."""
    job_id: str
    phase: dict


@dataclass(frozen=True)
class Progress:
    """A sampled epoch in progress: `batch` of its `batches` updates done (sent every few seconds)."""
    job_id: str
    epoch: int
    batch: int
    batches: int


@dataclass(frozen=True)
class Done:
    job_id: str
    status: Status                   # one of status.FINAL
    metrics: dict | None


@dataclass(frozen=True)
class Failed:
    job_id: str
    message: str                     # for the user: never a traceback


@dataclass(frozen=True)
class Idle:
    """The worker is free again (`worker`: its pid, or the thread executor's slot)."""
    job_id: str
    worker: int


Event = Ready | Started | Record | SteerQueued | Paused | Phase | Progress | Done | Failed | Idle
