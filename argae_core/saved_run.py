"""A saved run seen as the Train page sees a job: read-only, typed, nothing to control."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from . import runs
from .config import TrainConfig


@dataclass(frozen=True)
class SavedRun:
    """A run on disk with the attributes of a `jobs.Job` that a page draws: its settings,
    per-epoch rows, state, final metrics and message. Nothing of it can be paused or stopped."""
    run_id: str
    label: str
    config: TrainConfig
    rows: tuple[dict, ...]
    state: str
    metrics: dict | None
    message: str | None
    owner: str | None = None        # the signed-in email that started it (access.py)
    shared: bool = False            # a teacher shared it with the class
    steering: tuple = ()            # changes steered into it (steering.json), for markers and the banner
    active: ClassVar[bool] = False
    steer_pending: ClassVar[Mapping] = MappingProxyType({})   # nothing can be steered into a saved run
    steer_from: ClassVar[int | None] = None
    phases: ClassVar[tuple] = ()     # single updates are a live training's, never saved

    @property
    def epochs_done(self) -> int:
        return len(self.rows)

    @property
    def live(self) -> bool:
        """Still being written by its training (another session's, or the command line's)."""
        return self.state == "running"

    def seconds_left(self) -> None:
        return None  # not this process's training: its pace is not known here

    @classmethod
    def load(cls, run_id: str, root=None) -> "SavedRun":
        """Raises runs.RunError when the run is missing or unreadable."""
        run = runs.load_run(run_id, root)
        records = run.records.astype(object).where(run.records.notna(), None)
        dataset = runs.dataset_label(run.config.dataset, run.graph.name)
        return cls(run.run_id, f"{run.config.model.upper()} on {dataset}", run.config,
                   tuple(records.to_dict("records")), run.status, run.metrics, run.info.get("message"),
                   run.info.get("owner"), runs.is_shared(run.path), tuple(run.steering))

    def reread(self, root=None) -> "SavedRun":
        """The run as it is on disk now while it is written; itself once over or deleted."""
        if not self.live:
            return self
        try:
            return SavedRun.load(self.run_id, root)
        except runs.RunError:
            return self
