"""How many torch threads a training should use: the cores actually free.

On this project's 2-core machine, Cora at the defaults: quiet, 2 threads 26 ms per epoch and
1 thread 45 ms; loaded (load 3-4), 2 threads about 5x slower than 1, because OpenMP threads
wait for each other at every op and a thread that shares its core with another process makes
the rest wait. So: the cores this process may run on (affinity), less those busy now (over
the last 0.15 s, from /proc/stat; elsewhere the 1-minute load average), shared among the
trainings that run side by side (`slots`), at least 1.
"""
from __future__ import annotations

import math
import os
import time

# Cores in use (busy now, or the 1-minute load average) under this much per spare core still
# count that core as free (a quiet machine's background wakes).
IDLE_SLACK = 0.3


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def current_load() -> float:
    """Cores in use now: `busy_cores` over the last BUSY_WINDOW seconds where /proc/stat can be
    read, else the 1-minute load average (0 where the platform has none). The load average lags
    by about a minute: right after a burst of work (a finished training, a benchmark) a quiet
    machine still reads as about one core busy, and a run on a 2-core machine would take 1
    thread where 2 were free."""
    busy = busy_cores()
    if busy is not None:
        return busy
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


BUSY_WINDOW = 0.15  # seconds: several epochs of a running Cora training, short beside a run's start


def busy_cores(window: float = BUSY_WINDOW, read=None) -> float | None:
    """How many of the CPUs this process may run on were busy (not idle or waiting on I/O;
    time a hypervisor stole counts as busy) over `window` seconds, from two readings of
    /proc/stat's per-CPU lines (`read` returns them, for tests); None where they cannot be
    read or did not move."""
    read = read or _proc_stat_cpus
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        allowed = None
    try:
        before = read()
        time.sleep(window)
        after = read()
    except (OSError, ValueError, IndexError):
        return None
    busy, moved = 0.0, False
    for cpu, (total, idle) in after.items():
        if (allowed is not None and cpu not in allowed) or cpu not in before:
            continue
        spent = total - before[cpu][0]
        if spent > 0:
            busy += 1 - (idle - before[cpu][1]) / spent
            moved = True
    return busy if moved else None


def _proc_stat_cpus() -> dict[int, tuple[int, int]]:
    """cpu number -> (all jiffies, idle + iowait jiffies), from /proc/stat."""
    out = {}
    with open("/proc/stat", encoding="ascii") as lines:
        for line in lines:
            if line.startswith("cpu") and line[3].isdigit():
                name, *fields = line.split()
                values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
                out[int(name[3:])] = (sum(values), values[3] + values[4])
    return out


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
