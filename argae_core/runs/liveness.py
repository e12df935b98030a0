"""Whether a run's writer still lives: its pid on this host (with the process start time, so a
reused pid is told apart), else the age of its heartbeat."""
from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from ..status import Status
from typing import Any

STALE_SECONDS = 300.0        # a "running" run silent this long, on another host, is incomplete


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


def _effective_status(status: dict) -> str:
    if status.get("status") == Status.RUNNING and _writer_gone(status):
        return Status.INCOMPLETE
    return Status.of(status.get("status")) or str(status.get("status", "unknown"))
