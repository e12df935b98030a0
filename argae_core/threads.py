"""How many torch threads a training should use: the cores actually free.

On this project's 2-core machine, Cora at the defaults: quiet, 2 threads 26 ms per epoch and
1 thread 45 ms; loaded (load 3-4), 2 threads about 5x slower than 1, because OpenMP threads
wait for each other at every op and a thread that shares its core with another process makes
the rest wait. So: the cores this process may run on (affinity), less those busy now (over
the last 0.15 s, from /proc/stat; elsewhere the 1-minute load average), shared among the
trainings that run side by side (`slots`), at least 1.
"""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
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


def asked_threads() -> int | None:
    """The thread count the user set in OMP_NUM_THREADS, if a number."""
    asked = os.environ.get("OMP_NUM_THREADS", "")
    return int(asked) if asked.isdigit() and int(asked) >= 1 else None


def choose_threads(slots: int = 1, cores: int | None = None, load: float | None = None) -> tuple[int, str]:
    """(threads, reason in words) for one of `slots` trainings running side by side.

    `cores` and `load` default to this process's affinity and the 1-minute load average;
    OMP_NUM_THREADS, when set to a number, wins (the user asked for it)."""
    asked = asked_threads()
    if asked is not None:
        return asked, f"{asked} thread(s): OMP_NUM_THREADS"
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


# A training gives a thread back while a picture is drawn on this machine. A UMAP picture is
# about 0.4 s of one core; a two-thread training that shares a core with it waits for it at
# every op (see above): beside the Latent page's live pictures (a quarter of a core, one thread)
# a Cora ARGVA run kept 0.70 of its speed (benchmarks/bench_live_umap.py). Picture drawers hold
# a shared lock on DRAWING_LOCK while they draw (`drawing`); a training tries the lock
# exclusively, without waiting, between epochs (`Yielding.check`) and runs one thread fewer
# while anyone holds it, so the drawer has a core of its own and the training the rest.
# flock is the machine's and is let go when a process dies: a killed drawer leaves nothing held.
DRAWING_LOCK = os.path.join(tempfile.gettempdir(),
                            f"argae-drawing-{os.getuid() if hasattr(os, 'getuid') else 0}.lock")


def _open_lock(path: str):
    """`path` opened for flock, or None where there is no flock (not POSIX) or no such file."""
    try:
        import fcntl  # noqa: F401
        return open(path, "a")
    except (ImportError, OSError):
        return None


@contextlib.contextmanager
def drawing(path: str | None = None):
    """Around CPU-heavy picture work: the trainings on this machine run a thread fewer meanwhile."""
    handle = _open_lock(path or DRAWING_LOCK)
    if handle is None:
        yield
        return
    try:
        import fcntl
        fcntl.flock(handle, fcntl.LOCK_SH)   # waits only while a training's probe holds it (microseconds)
        yield
    finally:
        handle.close()   # lets the lock go


class Yielding:
    """A training's torch thread count between epochs: `threads`, or one fewer (at least 1)
    while someone holds `drawing()`. `set_threads` applies a count (torch.set_num_threads).
    `asked`: the user set the count (--threads, OMP_NUM_THREADS), which is then kept."""

    def __init__(self, threads: int, set_threads, path: str | None = None, asked: bool = False):
        self.threads = self.current = threads
        self.set_threads = set_threads
        self.handle = _open_lock(path or DRAWING_LOCK) if threads > 1 and not asked else None

    def busy(self) -> bool:
        """Whether a picture is being drawn now (the exclusive lock refused)."""
        import fcntl
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return False
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        return False

    def check(self) -> int:
        """Set and return the thread count for the next epoch."""
        if self.handle is not None:
            wanted = self.threads - 1 if self.busy() else self.threads
            if wanted != self.current:
                self.current = wanted
                self.set_threads(wanted)
        return self.current

    def close(self) -> None:
        """Back to `threads`; the lock file closed."""
        if self.current != self.threads:
            self.current = self.threads
            self.set_threads(self.threads)
        if self.handle is not None:
            self.handle.close()
            self.handle = None
