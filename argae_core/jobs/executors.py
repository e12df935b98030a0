"""Where trainings run, behind one small protocol: `ThreadExecutor` (in-process; tests, CLI) and
`ProcessExecutor` (warm spawned worker processes, the default). `RayExecutor` is in `ray_jobs`."""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
import types
from typing import Protocol

from ..events import Idle
from .worker import _worker_main, run_job


class Executor(Protocol):
    """Where trainings run. Events (`argae_core.events`) come back on `events`; `group` is
    the comparison a run belongs to (None: a single run), saved with it."""

    slots: int
    events: "queue.Queue"

    def start(self, slot: int, job_id: str, config_dict: dict, group: str | None = None,
              user: str | None = None) -> None: ...
    def control(self, slot: int, command: str) -> None: ...
    def alive(self, slot: int) -> bool: ...
    def shutdown(self) -> None: ...


class ThreadExecutor:
    """Trainings in threads of this process (simple, shares torch's RNG: tests, CLI)."""

    def __init__(self, slots: int = 1, runs_root: str | None = None):
        import torch
        # Small-graph training is per-op overhead: spinning OpenMP threads only fight each
        # other (measured: KarateClub 200 epochs, 4.7 s on 1 thread, 80 s on 2 under load).
        torch.set_num_threads(1)
        self.slots, self.runs_root = slots, runs_root
        self.events: queue.Queue = queue.Queue()
        self._controls = [queue.Queue() for _ in range(slots)]
        self._threads: list[threading.Thread | None] = [None] * slots

    def start(self, slot, job_id, config_dict, group=None, user=None):
        thread = threading.Thread(target=self._run, args=(slot, job_id, config_dict, group, user), daemon=True,
                                  name=f"argae-job-{job_id}")
        self._threads[slot] = thread
        thread.start()

    def _run(self, slot, job_id, config_dict, group, user):
        run_job(job_id, config_dict, self.events, self._controls[slot], group=group, user=user,
                runs_root=self.runs_root)
        self.events.put(Idle(job_id, slot))

    def control(self, slot, command):
        self._controls[slot].put(command)

    def alive(self, slot):
        return True

    def shutdown(self, timeout: float = 30.0):
        """Stop every training and wait for its thread (a leftover thread would keep using
        torch's shared RNG under the next run)."""
        for slot in range(self.slots):
            self._controls[slot].put("stop")
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))


class ProcessExecutor:
    """Warm worker processes (spawned, so no torch state is forked): real parallelism,
    isolated RNG per run, and a crashed training cannot take the server down."""

    def __init__(self, slots: int = 2, runs_root: str | None = None):
        self.slots, self.runs_root = slots, runs_root
        self._ctx = mp.get_context("spawn")
        self.events = self._ctx.Queue()
        self._workers = [self._spawn() for _ in range(slots)]

    def _spawn(self):
        tasks, control = self._ctx.Queue(), self._ctx.Queue()
        process = self._ctx.Process(target=_worker_main, daemon=True, name="argae-worker",
                                    args=(tasks, self.events, control, self.slots, self.runs_root))
        with _plain_main_module():
            process.start()
        return {"process": process, "tasks": tasks, "control": control}

    def start(self, slot, job_id, config_dict, group=None, user=None):
        if not self._workers[slot]["process"].is_alive():
            self._workers[slot] = self._spawn()
        self._workers[slot]["tasks"].put((job_id, config_dict, group, user))

    def control(self, slot, command):
        self._workers[slot]["control"].put(command)

    def alive(self, slot):
        return self._workers[slot]["process"].is_alive()

    def shutdown(self):
        for worker in self._workers:
            worker["tasks"].put(None)
            worker["control"].put("stop")
        for worker in self._workers:
            worker["process"].join(timeout=5)
            if worker["process"].is_alive():
                worker["process"].kill()


@contextlib.contextmanager
def _plain_main_module():
    """Spawned children re-run the parent's __main__ file; under Streamlit that is the app
    script (which would start workers of its own). Show them a main module with no file."""
    with _SPAWN_LOCK:
        saved = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = saved


_SPAWN_LOCK = threading.Lock()


def default_slots() -> int:
    """Concurrent trainings: ARGAE_MAX_JOBS, else one per core (at most 4).

    Small-graph epochs are dominated by per-op overhead, not FLOPs, so one single-threaded
    worker per core trains more runs per second than one worker using every core."""
    value = os.environ.get("ARGAE_MAX_JOBS")
    return max(1, int(value)) if value and value.isdigit() else max(1, min(4, os.cpu_count() or 1))
