"""What pages talk to: `JobManager` owns the queue (fair between users), the jobs and their
progress, applies the workers' events and watches for vanished sessions and dead workers."""
from __future__ import annotations

import dataclasses
import heapq
import logging
import queue
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from ..config import TrainConfig
from ..events import Done, Event, Failed, Idle, Paused, Phase, Progress, Record, Started, SteerQueued
from ..status import ACTIVE, Status
from .executors import Executor

log = logging.getLogger(__name__)

SNAPSHOTS_IN_MEMORY = 3   # older snapshots stay on disk with the run
MAX_JOBS_PER_OWNER = 20   # a full comparison: 4 models x 5 seeds
PHASES_IN_MEMORY = 50     # step mode: the latest single updates (the newest carries Z)


@dataclass
class Job:
    job_id: str
    owner: str
    config: TrainConfig
    label: str = ""
    group: str | None = None
    state: Status = Status.QUEUED
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
    user: str | None = None        # signed-in email (access.py); `owner` is the browser session
    batch_progress: tuple[int, int, int] | None = None   # sampled: (epoch, batch, batches) in progress

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
        self._done_hooks: list[Callable[[Job], None]] = []
        self._hooked: set[str] = set()   # jobs whose end the hooks were told of
        self._threads = [threading.Thread(target=self._pump_events, daemon=True, name="argae-events"),
                         threading.Thread(target=self._watch, daemon=True, name="argae-watch")]
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------- page API
    def submit(self, owner: str, config: TrainConfig, *, label: str = "", group: str | None = None,
               user: str | None = None) -> str:
        config.validate()
        with self._lock:
            mine = [j for j in self._jobs.values() if j.owner == owner and j.active]
            if len(mine) >= self.max_jobs_per_owner:
                raise RuntimeError(f"You already have {len(mine)} runs queued or training; "
                                   "stop one before starting another.")
            job = Job(job_id=uuid.uuid4().hex[:12], owner=owner, config=config,
                      label=label or f"{config.model.upper()} on {config.dataset}", group=group, user=user)
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
            if job.state == Status.QUEUED:
                if command == "stop":
                    self._queue.remove(job_id)
                    job.state, job.ended, job.message = Status.STOPPED, time.time(), "Stopped before it started."
                return
            if command == "stop":
                job.stop_requested = True
            if job.slot is not None:   # addressed: a slot's next run skips what was meant for this one
                self.executor.control(job.slot, {"job": job.job_id, "command": command})

    def steer(self, job_id: str, owner: str, change: dict) -> dict:
        """Change the game of a running or paused job from its next epoch on (steering.py);
        returns the change as checked. SteeringError for a bad change or a job not training."""
        from ..steering import SteeringError, check_change
        with self._lock:
            job = self.get(job_id, owner)
            if job is None or job.state not in (Status.RUNNING, Status.PAUSED) or job.slot is None:
                raise SteeringError("only a run that is training or paused can be steered")
            checked = check_change(job.config, change)
            job.steer_pending.update(checked)
            self.executor.control(job.slot, {"job": job.job_id, "steer": checked})
            return checked

    def stop_run(self, run_id: str) -> bool:
        """Stop the training writing `run_id`, whoever's it is (the page asks access.may_stop
        first: a teacher, or its owner from another session); False when none is active."""
        with self._lock:
            job = next((j for j in self._jobs.values() if j.run_id == run_id and j.active), None)
            if job is None:
                return False
            self.control(job.job_id, job.owner, "stop")
            job.message = job.message or "Stopped from the Runs page."
            return True

    def add_done_hook(self, hook: Callable[["Job"], None]) -> None:
        """Call `hook(job)` once for every job that ends with a saved run (finished, stopped
        or diverged), after its files are written: e.g. draw its pictures ahead of need. It
        runs on the event thread under the manager's lock, so it must be quick (hand the
        work on); an exception it raises is logged, never stops the events."""
        with self._lock:
            self._done_hooks.append(hook)

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
                job.slot, job.state, job.started = slot, Status.STARTING, time.time()
                self._slots[slot] = job.job_id
                self.executor.start(slot, job.job_id, job.config.to_dict(), job.group, job.user)

    def _pump_events(self) -> None:
        while not self._closed:
            try:
                event = self.executor.events.get(timeout=0.5)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            with self._lock:
                self._apply(event, self._jobs.get(event.job_id) if event.job_id else None)

    def _apply(self, event: Event, job: Job | None) -> None:
        if isinstance(event, Idle):
            self._free_slot_of(job)
            return
        if job is None:
            return
        match event:
            case Started(run_id=run_id, graph=graph):
                job.state, job.run_id, job.graph = Status.RUNNING, run_id, graph
            case Record(row=row, z=z, d_score=d_score, steered=steered):
                job.rows.append(row)
                if steered:
                    job.steering.append(steered)
                if job.steer_from is not None and row["epoch"] >= job.steer_from:
                    job.steer_pending, job.steer_from = {}, None
                if z is not None:
                    job.snapshot_epochs.append(row["epoch"])
                    job.snapshots[row["epoch"]] = (z, d_score)
                    for old in job.snapshot_epochs[:-SNAPSHOTS_IN_MEMORY]:
                        job.snapshots.pop(old, None)
            case SteerQueued(epoch=epoch):
                job.steer_from = epoch
            case Paused(paused=paused):
                job.state = Status.PAUSED if paused else Status.RUNNING
            case Phase(phase=phase):
                job.state = Status.PAUSED
                # Only the newest update keeps its Z: the table needs the numbers, the picture one Z.
                older = [{k: v for k, v in p.items() if k not in ("z", "d_score")} for p in job.phases]
                job.phases = older[-(PHASES_IN_MEMORY - 1):] + [phase]
            case Progress(epoch=epoch, batch=batch, batches=batches):
                job.batch_progress = (epoch, batch, batches)
            case Done(status=status, metrics=metrics):
                job.state, job.metrics, job.ended = Status(status), metrics, time.time()
                self._tell_done(job)
            case Failed(message=message):
                job.state, job.message, job.ended = Status.FAILED, message, time.time()

    def _tell_done(self, job: Job) -> None:
        if job.run_id is None or job.job_id in self._hooked:
            return
        self._hooked.add(job.job_id)
        for hook in self._done_hooks:
            try:
                hook(job.copy())
            except Exception:  # a hook's bug must not stop the events of every other job
                log.exception("a done hook failed for job %s (run %s)", job.job_id, job.run_id)

    def _free_slot_of(self, job: Job | None) -> None:
        for slot, current in enumerate(self._slots):
            if job is not None and current == job.job_id:
                self._slots[slot] = None
                if job.active:  # the worker ended without a verdict
                    job.state, job.ended = Status.FAILED, time.time()
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
