"""How many torch threads a training should use: the cores actually free.

On this project's 2-core machine, Cora at the defaults: quiet, 2 threads 26 ms per epoch and
1 thread 45 ms; loaded (load 3-4), 2 threads about 5x slower than 1, because OpenMP threads
wait for each other at every op and a thread that shares its core with another process makes
the rest wait. So: the cores this process may run on (affinity), less the load already on
them, shared among the trainings that run side by side (`slots`), at least 1.
"""
from __future__ import annotations

import math
import os

# A 1-minute load average under this much per spare core still counts that core as free
# (a quiet machine's background wakes).
IDLE_SLACK = 0.3


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def current_load() -> float:
    """The 1-minute load average (0 where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def choose_threads(slots: int = 1, cores: int | None = None, load: float | None = None) -> tuple[int, str]:
    """(threads, reason in words) for one of `slots` trainings running side by side.

    `cores` and `load` default to this process's affinity and the 1-minute load average;
    OMP_NUM_THREADS, when set to a number, wins (the user asked for it)."""
    asked = os.environ.get("OMP_NUM_THREADS", "")
    if asked.isdigit() and int(asked) >= 1:
        return int(asked), f"{int(asked)} thread(s): OMP_NUM_THREADS"
    cores = usable_cores() if cores is None else cores
    load = current_load() if load is None else load
    free = max(0, math.floor(cores - load + IDLE_SLACK))
    threads = max(1, min(free, cores) // max(1, slots))
    share = f", shared by {slots} trainings" if slots > 1 else ""
    return threads, f"{threads} thread(s): {free} of {cores} cores free (load {load:.1f}){share}"


def lower_priority(niceness: int, *, this_thread: bool = False) -> None:
    """Lower this process's CPU priority by `niceness` (never raises it; where the OS refuses,
    nothing changes). Helpers and workers yield to the page process, whose runs are what a
    user waits for. With `this_thread`, only the calling thread's (Linux keeps a niceness per
    thread): a page's background pictures yield to the trainings."""
    if niceness <= 0:
        return
    try:
        if this_thread:
            import threading
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
        else:
            os.nice(niceness)
    except (OSError, AttributeError):
        pass
