"""Background trainings for the dashboard: a queue, a bounded number of workers, and
per-job controls (pause, resume, step, stop) that only the job's owner may use.

    JobManager  - what pages talk to: submit, control, read progress, see the queue
    Executor    - where trainings run: `ProcessExecutor` (warm worker processes, the
                  default), `ThreadExecutor` (in-process; tests) or `RayExecutor` (a Ray
                  cluster, in `ray_jobs`, with the queue shared by every server replica).

A worker runs `run_job` for each task: it trains through `runs.record_run` (so every
epoch is saved on disk as it happens) and streams events back on a queue. Controls go
the other way on a per-worker control queue, checked between epochs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import heapq
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
import traceback
import types
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Protocol

from .config import TrainConfig
from .threads import choose_threads

SNAPSHOTS_IN_MEMORY = 3   # older snapshots stay on disk with the run
MAX_JOBS_PER_OWNER = 20   # a full comparison: 4 models x 5 seeds
PHASES_IN_MEMORY = 50     # step mode: the latest single updates (the newest carries Z)
ACTIVE = ("queued", "starting", "running", "paused")


# ======================================================================== worker side
def run_job(job_id: str, config_dict: dict, events, control, *, runs_root: str | None = None) -> None:
    """Train one config, sending ("started"|"record"|"done"|"error", job_id, payload) events.

    Runs in a worker (process or thread). Control messages: pause, resume, step, stop, and
    {"steer": change} (applied when the next epoch starts; the record of the epoch it took
    effect at carries the history entry as "steered")."""
    from .data import load_graph, summary
    from .runs import RunWriter, record_run
    from .training import Trainer

    try:
        group = config_dict.pop("_group", None)
        config = TrainConfig.from_dict(config_dict).validate()
        graph = load_graph(config)
        trainer = Trainer(config, graph)
        writer = RunWriter(config, graph, root=runs_root, source="ui", group=group)
    except Exception as exc:  # a message for the user, never a traceback on their page
        events.put(("error", job_id, _describe(exc)))
        return
    events.put(("started", job_id, {"run_id": writer.run_id, "graph": summary(graph)}))
    paused, steps_allowed = False, 0
    records = record_run(trainer, writer)
    try:
        for record in records:
            steered = trainer.steering[-1] if trainer.steering and trainer.steering[-1]["epoch"] == record.epoch else None
            events.put(("record", job_id, {"row": record.row(), "z": record.z, "d_score": record.d_score,
                                           "steered": steered}))
            paused, steps_allowed = _obey(control, trainer, paused, steps_allowed, events, job_id)
    except Exception as exc:
        events.put(("error", job_id, _describe(exc)))
        return
    finally:
        records.close()
    events.put(("done", job_id, {"status": writer.info["status"], "metrics": writer.final_metrics}))


def _obey(control, trainer, paused: bool, steps_allowed: int, events, job_id) -> tuple[bool, int]:
    """Apply pending controls; block while paused (a 'step' lets one epoch through)."""
    if paused and steps_allowed > 0:
        steps_allowed -= 1
    while True:
        try:
            command = control.get(block=paused and steps_allowed == 0, timeout=0.5)
        except queue.Empty:
            if paused and steps_allowed == 0:
                continue
            return paused, steps_allowed
        if isinstance(command, dict) and "steer" in command:
            trainer.steer(command["steer"])  # checked by the manager already; queued for the next epoch
            events.put(("steer_queued", job_id, trainer.epoch + 1))
        elif command == "stop":
            trainer.stop()
            return False, 0
        if command == "pause":
            paused = True
            events.put(("paused", job_id, True))
        elif command == "resume":
            paused, steps_allowed = False, 0
            events.put(("paused", job_id, False))
        elif command in ("step", "update"):
            if not paused:  # Step / one update on a running job pauses it: say so, as Pause does
                events.put(("paused", job_id, True))
            paused = True
            if command == "step":
                steps_allowed += 1
            elif _one_update(trainer, events, job_id):
                return paused, steps_allowed  # the epoch ended: let its record through
        if not paused or steps_allowed:
            return paused, steps_allowed


def _one_update(trainer, events, job_id) -> bool:
    """Step mode: one discriminator or encoder update, sent with Z and D(z) after it.
    Returns True when it was the encoder update, i.e. the epoch is complete."""
    phase = trainer.advance()
    z, d_score = trainer.snapshot()
    events.put(("phase", job_id, {**phase, "z": z, "d_score": d_score}))
    if phase["phase"] == "encoder":
        trainer.advance()  # completes the epoch's record (validation, snapshot)
        return True
    return False


def _describe(exc: BaseException) -> str:
    from .config import ConfigError
    from .data import DatasetUnavailable
    if isinstance(exc, (ConfigError, DatasetUnavailable)):
        return str(exc)
    return f"{type(exc).__name__}: {exc} (at {traceback.extract_tb(exc.__traceback__)[-1].name})" \
        if exc.__traceback__ else f"{type(exc).__name__}: {exc}"


def _worker_main(tasks, events, control, slots: int, runs_root: str | None) -> None:
    """A warm worker process: imports the heavy libraries once, then runs tasks forever, each
    with the threads free when it starts (one of `slots` workers: `threads.choose_threads`)."""
    import torch
    from . import data, runs, training  # noqa: F401  (warm the imports before the first task)
    events.put(("ready", None, os.getpid()))
    while True:
        task = tasks.get()
        if task is None:
            return
        job_id, config_dict = task
        drain(control)
        torch.set_num_threads(choose_threads(slots)[0])
        run_job(job_id, config_dict, events, control, runs_root=runs_root)
        events.put(("idle", job_id, os.getpid()))


def drain(control) -> None:
    """Drop controls left for a previous task of the same slot (a late Stop must not stop the next run)."""
    while True:
        try:
            control.get_nowait()
        except queue.Empty:
            return


# ======================================================================== executors
class Executor(Protocol):
    """Where trainings run. Events come back on `events` as (kind, job_id, payload)."""

    slots: int
    events: "queue.Queue"

    def start(self, slot: int, job_id: str, config_dict: dict) -> None: ...
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

    def start(self, slot, job_id, config_dict):
        drain(self._controls[slot])
        thread = threading.Thread(target=self._run, args=(slot, job_id, config_dict), daemon=True,
                                  name=f"argae-job-{job_id}")
        self._threads[slot] = thread
        thread.start()

    def _run(self, slot, job_id, config_dict):
        run_job(job_id, config_dict, self.events, self._controls[slot], runs_root=self.runs_root)
        self.events.put(("idle", job_id, slot))

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

    def start(self, slot, job_id, config_dict):
        if not self._workers[slot]["process"].is_alive():
            self._workers[slot] = self._spawn()
        self._workers[slot]["tasks"].put((job_id, config_dict))

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


# ======================================================================== manager
@dataclass
class Job:
    job_id: str
    owner: str
    config: TrainConfig
    label: str = ""
    group: str | None = None
    state: str = "queued"          # queued starting running paused finished stopped diverged failed
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    rows: list[dict] = field(default_factory=list)
    snapshots: dict = field(default_factory=dict)   # epoch -> (z, d_score); newest few only
    snapshot_epochs: list[int] = field(default_factory=list)
    phases: list[dict] = field(default_factory=list)   # step mode: single updates, newest last
    metrics: dict | None = None
    run_id: str | None = None
    graph: dict | None = None
    message: str | None = None
    slot: int | None = None
    stop_requested: bool = False
    steering: list[dict] = field(default_factory=list)   # changes applied (steering.py entries)
    steer_pending: dict = field(default_factory=dict)    # sent, not yet in effect (next epoch)
    steer_from: int | None = None                        # the epoch the pending change applies at

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def epochs_done(self) -> int:
        return len(self.rows)

    def seconds_left(self, recent: int = 50) -> float | None:
        """Time to the last epoch at the median pace of the latest `recent` epochs (their own
        durations: start-up and pauses do not count); None before the first epoch or after
        the end."""
        times = sorted(r["seconds"] for r in self.rows[-recent:] if r.get("seconds") is not None)
        if not times or not self.active:
            return None
        return times[len(times) // 2] * max(self.config.epochs - self.epochs_done, 0)

    def copy(self) -> "Job":
        """A copy that later events do not change (safe to send to another process)."""
        return dataclasses.replace(self, rows=list(self.rows), snapshots=dict(self.snapshots),
                                   snapshot_epochs=list(self.snapshot_epochs), phases=list(self.phases),
                                   steering=list(self.steering), steer_pending=dict(self.steer_pending))

    def latest_snapshot(self):
        if not self.snapshot_epochs:
            return None, None, None
        epoch = self.snapshot_epochs[-1]
        z, score = self.snapshots.get(epoch, (None, None))
        return epoch, z, score


class JobManager:
    """Owns the queue and the jobs; one per server process (a Streamlit cache_resource).

    `liveness(owner) -> bool | None` tells whether a browser session still exists (None:
    unknown; then the owner's last `touch` decides). Jobs of vanished owners are stopped.

    The queue is fair between users: a free slot goes to the waiting job whose owner has the
    fewest trainings running (oldest first among equals), so one user's 20-run comparison
    shares the server with a classroom instead of holding it until all 20 are done."""

    def __init__(self, executor: Executor, *, liveness: Callable[[str], bool | None] | None = None,
                 owner_timeout: float = 30.0, max_jobs_per_owner: int = MAX_JOBS_PER_OWNER):
        self.executor = executor
        self.liveness = liveness
        self.owner_timeout = owner_timeout
        self.max_jobs_per_owner = max_jobs_per_owner
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._queue: deque[str] = deque()
        self._slots: list[str | None] = [None] * executor.slots
        self._seen: dict[str, float] = {}
        self._served: dict[str, int] = {}   # owner -> the dispatch turn it last got a slot
        self._turns = 0
        self._closed = False
        self._threads = [threading.Thread(target=self._pump_events, daemon=True, name="argae-events"),
                         threading.Thread(target=self._watch, daemon=True, name="argae-watch")]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------- page API
    def submit(self, owner: str, config: TrainConfig, *, label: str = "", group: str | None = None) -> str:
        config.validate()
        with self._lock:
            mine = [j for j in self._jobs.values() if j.owner == owner and j.active]
            if len(mine) >= self.max_jobs_per_owner:
                raise RuntimeError(f"You already have {len(mine)} runs queued or training; "
                                   "stop one before starting another.")
            job = Job(job_id=uuid.uuid4().hex[:12], owner=owner, config=config,
                      label=label or f"{config.model.upper()} on {config.dataset}", group=group)
            self._jobs[job.job_id] = job
            self._queue.append(job.job_id)
            self._seen[owner] = time.time()
            self._dispatch()
            return job.job_id

    def get(self, job_id: str | None, owner: str) -> Job | None:
        """The job if it exists and belongs to `owner` (sessions never see each other's)."""
        with self._lock:
            job = self._jobs.get(job_id) if job_id else None
            return job if job is not None and job.owner == owner else None

    def jobs_of(self, owner: str) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.owner == owner]

    def copy_of(self, job_id: str | None, owner: str) -> Job | None:
        """`get`, as a copy taken under the lock (for a caller in another process)."""
        with self._lock:
            job = self.get(job_id, owner)
            return job.copy() if job is not None else None

    def copies_of(self, owner: str) -> list[Job]:
        with self._lock:
            return [job.copy() for job in self.jobs_of(owner)]

    def control(self, job_id: str, owner: str, command: str) -> None:
        if command not in ("pause", "resume", "step", "update", "stop"):
            raise ValueError(f"unknown command {command!r}")
        with self._lock:
            job = self.get(job_id, owner)
            if job is None or not job.active:
                return
            if job.state == "queued":
                if command == "stop":
                    self._queue.remove(job_id)
                    job.state, job.ended, job.message = "stopped", time.time(), "Stopped before it started."
                return
            if command == "stop":
                job.stop_requested = True
            if job.slot is not None:
                self.executor.control(job.slot, command)

    def steer(self, job_id: str, owner: str, change: dict) -> dict:
        """Change the game of a running or paused job from its next epoch on (steering.py);
        returns the change as checked. SteeringError for a bad change or a job not training."""
        from .steering import SteeringError, check_change
        with self._lock:
            job = self.get(job_id, owner)
            if job is None or job.state not in ("running", "paused") or job.slot is None:
                raise SteeringError("only a run that is training or paused can be steered")
            checked = check_change(job.config, change)
            job.steer_pending.update(checked)
            self.executor.control(job.slot, {"steer": checked})
            return checked

    def touch(self, owner: str) -> None:
        with self._lock:
            self._seen[owner] = time.time()

    def queue_status(self, job_id: str | None = None) -> dict:
        """What a waiting user sees: their place in line and how busy the server is."""
        with self._lock:
            order = self._dispatch_order()
            position = (order.index(job_id) + 1) if job_id in order else None
            return {"position": position, "waiting": len(self._queue),
                    "running": sum(s is not None for s in self._slots), "slots": len(self._slots)}

    def shutdown(self) -> None:
        self._closed = True
        for thread in self._threads:  # both wake every 0.5 s; none may read a closed queue
            thread.join(timeout=5)
        self.executor.shutdown()

    # ------------------------------------------------------------ internals
    def _dispatch_order(self) -> list[str]:
        """The queued job ids in the order free slots will take them, if nothing else changes:
        each next job is the oldest of the owner with the fewest trainings running, and among
        those the owner served longest ago (round robin). O(n log users): pages ask for it on
        every refresh, for every job they show."""
        running: dict[str, int] = {}
        for job_id in self._slots:
            if job_id is not None and job_id in self._jobs:
                owner = self._jobs[job_id].owner
                running[owner] = running.get(owner, 0) + 1
        waiting: dict[str, deque[tuple[int, str]]] = {}   # owner -> (queue position, job id)
        for position, job_id in enumerate(self._queue):
            waiting.setdefault(self._jobs[job_id].owner, deque()).append((position, job_id))
        # Equal running counts and turns happen only among owners never served: then the one
        # whose oldest job came first goes first.
        heap = [(running.get(owner, 0), self._served.get(owner, -1), jobs[0][0], owner)
                for owner, jobs in waiting.items()]
        heapq.heapify(heap)
        order, turn = [], self._turns
        while heap:
            count, _, _, owner = heapq.heappop(heap)
            order.append(waiting[owner].popleft()[1])
            turn += 1
            if waiting[owner]:
                heapq.heappush(heap, (count + 1, turn, waiting[owner][0][0], owner))
        return order

    def _dispatch(self) -> None:
        for slot, current in enumerate(self._slots):
            if current is None and self._queue:
                job_id = self._dispatch_order()[0]
                self._queue.remove(job_id)
                job = self._jobs[job_id]
                self._turns += 1
                self._served[job.owner] = self._turns
                job.slot, job.state, job.started = slot, "starting", time.time()
                self._slots[slot] = job.job_id
                config = dict(job.config.to_dict(), _group=job.group)
                self.executor.start(slot, job.job_id, config)

    def _pump_events(self) -> None:
        while not self._closed:
            try:
                kind, job_id, payload = self.executor.events.get(timeout=0.5)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            with self._lock:
                self._apply(kind, self._jobs.get(job_id), payload)

    def _apply(self, kind: str, job: Job | None, payload) -> None:
        if kind in ("ready",):
            return
        if kind == "idle":
            self._free_slot_of(job)
            return
        if job is None:
            return
        if kind == "started":
            job.state = "running"
            job.run_id, job.graph = payload["run_id"], payload["graph"]
        elif kind == "record":
            job.rows.append(payload["row"])
            if payload.get("steered"):
                job.steering.append(payload["steered"])
            if job.steer_from is not None and payload["row"]["epoch"] >= job.steer_from:
                job.steer_pending, job.steer_from = {}, None
            if payload["z"] is not None:
                epoch = payload["row"]["epoch"]
                job.snapshot_epochs.append(epoch)
                job.snapshots[epoch] = (payload["z"], payload["d_score"])
                for old in job.snapshot_epochs[:-SNAPSHOTS_IN_MEMORY]:
                    job.snapshots.pop(old, None)
        elif kind == "steer_queued":
            job.steer_from = payload
        elif kind == "paused":
            job.state = "paused" if payload else "running"
        elif kind == "phase":
            job.state = "paused"
            # Only the newest update keeps its Z: the table needs the numbers, the picture one Z.
            older = [{k: v for k, v in p.items() if k not in ("z", "d_score")} for p in job.phases]
            job.phases = older[-(PHASES_IN_MEMORY - 1):] + [payload]
        elif kind == "done":
            job.state, job.metrics, job.ended = payload["status"], payload["metrics"], time.time()
        elif kind == "error":
            job.state, job.message, job.ended = "failed", payload, time.time()

    def _free_slot_of(self, job: Job | None) -> None:
        for slot, current in enumerate(self._slots):
            if job is not None and current == job.job_id:
                self._slots[slot] = None
                if job.active:  # the worker ended without a verdict
                    job.state, job.ended = "failed", time.time()
                    job.message = job.message or "The training worker stopped unexpectedly."
        self._dispatch()

    def _watch(self) -> None:
        """Stop the jobs of vanished sessions; replace crashed workers."""
        while not self._closed:
            time.sleep(0.5)
            with self._lock:
                for slot, job_id in enumerate(self._slots):
                    if job_id is not None and not self.executor.alive(slot):
                        job = self._jobs[job_id]
                        job.message = "The training worker died (out of memory?). The run was saved up to its last epoch."
                        self._free_slot_of(job)
                for job in list(self._jobs.values()):
                    if job.active and not job.stop_requested and not self._owner_alive(job.owner):
                        self.control(job.job_id, job.owner, "stop")
                        job.message = "Stopped: the browser session that started it went away."

    def _owner_alive(self, owner: str) -> bool:
        verdict = self.liveness(owner) if self.liveness else None
        if verdict is not None:
            return verdict
        return time.time() - self._seen.get(owner, 0) < self.owner_timeout


def default_slots() -> int:
    """Concurrent trainings: ARGAE_MAX_JOBS, else one per core (at most 4).

    Small-graph epochs are dominated by per-op overhead, not FLOPs, so one single-threaded
    worker per core trains more runs per second than one worker using every core."""
    value = os.environ.get("ARGAE_MAX_JOBS")
    return max(1, int(value)) if value and value.isdigit() else max(1, min(4, os.cpu_count() or 1))

