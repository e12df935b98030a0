"""Where runs live and what a run folder is called; `RunError`, the one error of `runs`."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..status import FINAL, Status
from ..storage import HIDDEN_PREFIX, project_dir

FINAL_STATUSES = FINAL
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
SNAPSHOT_PATTERN = re.compile(r"epoch_(\d+)\.npz")
LEFTOVER_SECONDS = 3600      # a hidden entry untouched this long was left by a killed process
LEFTOVER_PREFIXES = tuple(HIDDEN_PREFIX + kind for kind in ("new-", "tmp-", "deleting-"))
KNOWN_STATUSES = (Status.RUNNING,) + FINAL_STATUSES
DISCRIMINATOR_PREFIX = "d."   # snapshot arrays holding D's parameters


class RunError(RuntimeError):
    """A run that is missing, corrupt, still running, or named badly; the message says which."""


def runs_dir() -> Path:
    """Where runs live: $ARGAE_RUNS_DIR, default <project>/runs (git-ignored)."""
    return Path(os.environ.get("ARGAE_RUNS_DIR", project_dir() / "runs")).expanduser()


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
