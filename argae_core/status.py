"""The one list of states a training goes through, for jobs (in memory) and runs (on disk).

A `StrEnum`: each member is its own string ("running"), so status.json, CSV exports and
comparisons with plain strings read exactly as before.
"""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"          # a job waiting for a slot
    STARTING = "starting"      # given a slot; loading the graph
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"      # every planned epoch
    STOPPED = "stopped"        # by the user, a vanished session, or Ctrl-C
    DIVERGED = "diverged"      # a loss became NaN or infinite
    FAILED = "failed"          # an error; the message says which
    INCOMPLETE = "incomplete"  # a saved run whose writer died mid-way

    @classmethod
    def of(cls, value: object) -> "Status | None":
        """The status `value` names, or None."""
        try:
            return cls(value)
        except ValueError:
            return None


ACTIVE = (Status.QUEUED, Status.STARTING, Status.RUNNING, Status.PAUSED)   # a job still going
FINAL = (Status.FINISHED, Status.STOPPED, Status.DIVERGED, Status.FAILED)  # how a training ends
