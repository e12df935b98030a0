"""Latent frames computed ahead of the page: a run's projected snapshots filled in one
background thread, nearest first, each warm-started from its nearest computed neighbour."""
from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Callable

import numpy as np

_ONE_UMAP_AT_A_TIME = threading.Lock()  # the machine's cores are shared with the trainings
# The filler's share of one core, at most: after a frame that took c s of CPU it rests
# c * (1 / CPU_SHARE - 1) s. A warm-started Cora frame is about 0.4 s of CPU, so a live run's
# newest picture follows within ~2 s and its training keeps the rest of the machine.
CPU_SHARE = 0.25
MAX_REST = 2.0   # s; after a cold frame (2 s of CPU) the next picture waits this long, not 6 s
# ARGAE_FILLER_IDLE=1 puts the filler's thread in Linux's idle scheduling class (SCHED_IDLE):
# it then gets only CPU time no other thread wants, and a training keeps its speed
# (bench_live_umap.py, load 1-2, the training on both cores: 1.02 of alone, against 0.63 at
# nice +2 with the 25 % cap), but the newest picture comes later (median 6.1 s against 2.6 s).
# Not the default: the thread holds the page process's interpreter lock inside umap's compiled
# loops, and an idle-class thread descheduled there on a saturated machine stalls every page.
IDLE_SCHEDULING = os.environ.get("ARGAE_FILLER_IDLE", "0") == "1"


def _idle_thread() -> bool:
    """Put the calling thread in the idle scheduling class; False where the OS refuses."""
    try:
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
        return True
    except (OSError, AttributeError):
        return False


def nearest_frame(frames: dict, epoch: int):
    """The computed frame whose epoch is nearest `epoch` (the earlier one on a tie), or None:
    the start a new frame warm-starts from and is aligned onto, in either direction, so
    jumping to the newest epoch first and scrubbing back still gives a steady picture."""
    done = [e for e in list(frames) if e != epoch]
    return frames[min(done, key=lambda e: (abs(e - epoch), e))] if done else None


class FrameFiller:
    """Computes a projector's missing frames in one background thread: the epoch a page
    asks for first, then the `reach` snapshots nearest to it, outward, each warm-started
    from its nearest computed neighbour, so scrubbing and playing find them ready and in
    line. (Bounded: a long run with a snapshot every epoch would keep a core busy for long.)

    While a run trains (`ask(..., newest_only=True)`), only the epoch asked for is computed,
    warm-started from the newest frame before it: when snapshots come faster than frames,
    the ones in between are skipped, so the picture on screen stays the newest one. The
    thread runs below the trainings' priority and, after each frame, rests so that it uses
    at most `cpu_share` of a core (CPU_SHARE; at most MAX_REST s).

    `load_z(epoch)` returns that snapshot's Z. An epoch that cannot be projected (a
    diverged Z, a missing file) is kept in `errors` with its message and not retried."""

    def __init__(self, projector, load_z: Callable[[int], np.ndarray], reach: int = 12,
                 cpu_share: float = CPU_SHARE):
        if not 0 < cpu_share <= 1:
            raise ValueError(f"cpu_share must be in (0, 1], got {cpu_share}")
        self.projector, self.load_z, self.reach, self.cpu_share = projector, load_z, reach, cpu_share
        self.errors: dict[int, str] = {}
        self._wanted: int | None = None
        self._epochs: list[int] = []
        self._newest_only = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ask(self, epoch: int, epochs: list[int], newest_only: bool = False) -> None:
        """Compute `epoch` next, then the rest of `epochs` (the run's snapshots so far), or
        with `newest_only` (a live run's newest snapshot) that epoch alone."""
        with self._lock:
            self._wanted, self._epochs, self._newest_only = epoch, list(epochs), newest_only
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._fill, daemon=True, name="latent-frames")
                self._thread.start()

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def pending(self, epoch: int) -> bool:
        """Whether `epoch`'s frame is neither computed nor known to fail."""
        return epoch not in self.projector.frames and epoch not in self.errors

    def _next(self) -> int | None:
        with self._lock:
            if self._newest_only:
                nearest = [self._wanted]
            else:
                nearest = sorted(self._epochs, key=lambda e: (abs(e - self._wanted), e))[:self.reach]
            missing = [e for e in nearest if e not in self.projector.frames and e not in self.errors]
            if not missing:
                self._thread = None
                return None
            return missing[0]

    def _fill(self) -> None:
        from . import projection, runs
        from .jobs.worker import WORKER_NICENESS
        from .threads import drawing, lower_priority
        lower_priority(WORKER_NICENESS + 2, this_thread=True)  # live pictures yield to the training
        idle = IDLE_SCHEDULING and _idle_thread()
        if self.projector.method == "umap":
            warming = projection.warm_up(background=True)
            if warming is not None:
                warming.join()  # one compilation, not two racing ones
        while (epoch := self._next()) is not None:
            cpu = time.thread_time()
            try:
                z = self.load_z(epoch)
                # a live run's first frame: a quick layout, refined by the next; trainings here run a
                # thread fewer meanwhile (threads.drawing)
                umap = self.projector.method == "umap"
                with _ONE_UMAP_AT_A_TIME, (drawing() if umap else contextlib.nullcontext()):
                    self.projector.frame(epoch, z, nearest_frame(self.projector.frames, epoch), quick=self._newest_only)
            except (ValueError, runs.RunError, OSError) as exc:  # a diverged Z, a missing file
                self.errors[epoch] = str(exc)
            except Exception as exc:  # anything else from umap: say so rather than wait forever
                self.errors[epoch] = f"the projection failed ({type(exc).__name__}: {exc})"
            if not idle:   # an idle-class thread takes only CPU nobody else wants: no rest needed
                time.sleep(min(MAX_REST, (time.thread_time() - cpu) * (1 / self.cpu_share - 1)))


def frame_now(projector, epoch: int, load_z: Callable[[int], np.ndarray]):
    """`epoch`'s frame, computed here if missing (PCA: instant), aligned onto its nearest."""
    if epoch in projector.frames:
        return projector.frames[epoch]
    return projector.frame(epoch, load_z(epoch), nearest_frame(projector.frames, epoch))
