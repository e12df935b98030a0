"""A run shared with the class (access.py): an empty `shared` file in the run's folder, kept
apart from status.json, which the run's writer rewrites."""
from __future__ import annotations

from pathlib import Path

from ..storage import atomic_write
from .folder import _run_path

SHARED_MARK = "shared"


def is_shared(path: Path) -> bool:
    return (path / SHARED_MARK).is_file()


def set_shared(run_id: str, shared: bool, root: Path | str | None = None) -> None:
    """Share a run with the class (every signed-in user sees it), or stop sharing it."""
    mark = _run_path(run_id, root) / SHARED_MARK
    if shared:
        atomic_write(mark, b"")
    else:
        mark.unlink(missing_ok=True)
