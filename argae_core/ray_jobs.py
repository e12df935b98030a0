"""Trainings on a Ray cluster, and one job queue shared by every Streamlit replica.

    RayExecutor        - the Executor protocol on Ray: one task per training (one CPU each),
                         events and controls on Ray queues; a task that dies is a dead slot
    JobService         - a named detached actor holding one JobManager over a RayExecutor:
                         the queue, its fair order, the per-user cap and every job's progress,
                         once for the whole cluster
    ClusterJobManager  - what a replica's pages talk to: JobManager's page API, answered by
                         the JobService; it tells the service which of its sessions are there

Used only when ARGAE_RAY_ADDRESS is set; ray itself is imported on first use, so even importing
this module never needs ray (tests/test_house.py checks it).
"""
from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path
from typing import Callable

from .config import TrainConfig
from .events import Idle
from .jobs import SNAPSHOTS_IN_MEMORY, Job, JobManager, default_slots, run_job
from .ray_loopback import LOOPBACK, keep_on_loopback
from .runs import runs_dir

NAMESPACE = "argae"
SERVICE_NAME = "argae-jobs"
REPO_DIR = str(Path(__file__).resolve().parent.parent)
# Folders a training task takes from the server that created the service (as absolute paths:
# a Ray worker's working directory is its own). Runs go to that server's runs_dir().
FORWARDED_FOLDERS = ("ARGAE_DATA_DIR", "ARGAE_CACHE_DIR")
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20   # snapshots of a classroom's runs; fits CI's memory
LIVENESS_FRESH_SECONDS = 10.0            # a replica reports every 2 s; older verdicts expire



class _LazyRay:
    """`ray`, imported on first use: importing this module costs nothing and never needs ray
    (it is only used with ARGAE_RAY_ADDRESS set); the remote task and actor are made then too."""

    def __getattr__(self, name: str):
        import ray as module
        return getattr(module, name)


ray = _LazyRay()


@functools.cache
def _remote_train():
    return ray.remote(num_cpus=1, max_retries=0)(_train)  # a retried training would start over as a new run


@functools.cache
def _remote_service():
    return ray.remote(num_cpus=0, max_concurrency=8)(JobService)  # replicas' calls overlap; JobManager locks itself


def connect(address: str, *, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at `address` (host:port of its head), or start a small private one
    on 127.0.0.1 for "local" (one machine, tests). Token authentication stays on: the token
    comes from RAY_AUTH_TOKEN_PATH (deploy/cluster.py sets it) or ~/.ray/auth_token."""
    if ray.is_initialized():
        return
    common = dict(namespace=NAMESPACE, log_to_driver=False,
                  runtime_env={"env_vars": {"PYTHONPATH": REPO_DIR}})
    keep_on_loopback()   # also for a client: Ray would turn 127.0.0.1:port into another address
    if address == "local":
        _in_lasting_thread(lambda: ray.init(num_cpus=num_cpus or default_slots(), include_dashboard=False,
                                            _node_ip_address=LOOPBACK, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                                            **common))
    else:
        ray.init(address=address, **common)


def _in_lasting_thread(start: Callable[[], object]) -> None:
    """Run `start` in a thread that lives as long as the process. Ray ties the processes of a
    head it starts to the thread that started them (PR_SET_PDEATHSIG), and a Streamlit
    script thread ends after each run: the cluster would die with the first page."""
    done, failure = threading.Event(), []

    def run() -> None:
        try:
            start()
        except BaseException as exc:   # re-raised in the caller's thread
            failure.append(exc)
        done.set()
        threading.Event().wait()

    threading.Thread(target=run, daemon=True, name="argae-ray-head").start()
    done.wait()
    if failure:
        raise failure[0]


# ======================================================================== executor
def _train(job_id: str, config_dict: dict, group: str | None, user: str | None, events, control,
           runs_root: str | None) -> None:
    import torch
    torch.set_num_threads(1)  # small graphs: per-op overhead, extra threads only spin
    run_job(job_id, config_dict, events, control, group=group, user=user, runs_root=runs_root)
    events.put(Idle(job_id, os.getpid()))


class RayExecutor:
    """Trainings as Ray tasks anywhere in the cluster, each asking for one CPU.

    Events and controls travel on Ray queues (small actors), so `run_job` runs unchanged. A
    task whose process dies (killed, out of memory, its node gone) reports nothing more:
    `alive` says so and the manager fails the job with the run kept on disk as incomplete."""

    def __init__(self, slots: int | None = None, runs_root: str | None = None):
        self.slots = slots or int(ray.cluster_resources().get("CPU", 1))
        self.runs_root = runs_root
        from ray.util.queue import Queue
        self.events = Queue(actor_options={"num_cpus": 0})
        self._controls = [Queue(actor_options={"num_cpus": 0}) for _ in range(self.slots)]
        self._tasks: list[ray.ObjectRef | None] = [None] * self.slots

    def start(self, slot, job_id, config_dict, group=None, user=None):
        self._tasks[slot] = _remote_train().options(name=f"argae-train-{job_id}").remote(
            job_id, config_dict, group, user, self.events, self._controls[slot], self.runs_root)

    def control(self, slot, command):
        self._controls[slot].put(command)

    def alive(self, slot):
        task = self._tasks[slot]
        if task is None or not ray.wait([task], timeout=0)[0]:
            return True
        try:
            ray.get(task)
        except ray.exceptions.RayError:
            return False
        return True   # it ended normally: its "idle" event frees the slot

    def shutdown(self, timeout: float = 30.0):
        for control in self._controls:
            control.put("stop")
        tasks = [task for task in self._tasks if task is not None]
        if tasks:
            ray.wait(tasks, num_returns=len(tasks), timeout=timeout)
        for task in tasks:
            ray.cancel(task, force=True)
        for channel in (self.events, *self._controls):
            channel.shutdown()


# ======================================================================== shared queue
class ReportedLiveness:
    """Verdicts on browser sessions, sent by the replicas that host them. A verdict older
    than `fresh_for` is no verdict (its replica may be gone): the owner's last touch decides."""

    def __init__(self, fresh_for: float = LIVENESS_FRESH_SECONDS):
        self.fresh_for = fresh_for
        self._verdicts: dict[str, tuple[bool, float]] = {}

    def report(self, owner: str, alive: bool) -> None:
        self._verdicts[owner] = (alive, time.monotonic())

    def __call__(self, owner: str) -> bool | None:
        alive, when = self._verdicts.get(owner, (None, 0.0))
        return alive if time.monotonic() - when < self.fresh_for else None


class JobService:
    """The cluster's one JobManager (fair queue, per-user cap, progress), reached by name."""

    def __init__(self, slots: int | None, runs_root: str, owner_timeout: float):
        self._liveness = ReportedLiveness()
        self._manager = JobManager(RayExecutor(slots, runs_root), liveness=self._liveness,
                                   owner_timeout=owner_timeout)

    def submit(self, owner: str, config: TrainConfig, label: str, group: str | None, user: str | None = None):
        """(job id, None), or (None, why not): the refusal is the user's message, not an error."""
        try:
            return self._manager.submit(owner, config, label=label, group=group, user=user), None
        except RuntimeError as exc:
            return None, str(exc)

    def get(self, job_id, owner, known: tuple[int, list[int]]):
        job = self._manager.copy_of(job_id, owner)
        return job and without_known(job, known)

    def jobs_of(self, owner, known: dict[str, tuple[int, list[int]]]):
        return [without_known(job, known.get(job.job_id, (0, []))) for job in self._manager.copies_of(owner)]

    def control(self, job_id, owner, command):
        self._manager.control(job_id, owner, command)

    def queue_status(self, job_id):
        return self._manager.queue_status(job_id)

    def stop_run(self, run_id):
        return self._manager.stop_run(run_id)

    def steer(self, job_id, owner, change):
        """(the change as checked, None), or (None, why not): as `submit`, the refusal is a message."""
        from .steering import SteeringError
        try:
            return self._manager.steer(job_id, owner, change), None
        except SteeringError as exc:
            return None, str(exc)

    def report(self, verdicts: dict[str, bool]) -> None:
        for owner, alive in verdicts.items():
            self._liveness.report(owner, alive)
            if alive:
                self._manager.touch(owner)

    def touch(self, owner):
        self._manager.touch(owner)

    def limits(self) -> dict:
        return {"max_jobs_per_owner": self._manager.max_jobs_per_owner}

    def shutdown(self):
        self._manager.shutdown()


def without_known(job: Job, known: tuple[int, list[int]]) -> Job:
    """The job without what the caller holds already (`known`: how many rows, which snapshot
    epochs). Rows only grow and a snapshot never changes, so a replica's refresh of a Cora
    job carries its new rows instead of every row and ~2 MB of snapshots."""
    rows_known, snapshots_known = known
    job.rows = job.rows[rows_known:]
    job.snapshots = {epoch: s for epoch, s in job.snapshots.items() if epoch not in snapshots_known}
    return job


def known_of(job: Job | None) -> tuple[int, list[int]]:
    return (len(job.rows), list(job.snapshots)) if job is not None else (0, [])


class JobMirror:
    """A replica's copies of the jobs its pages read, completed with each answer's new part.
    Script threads read at once: each merges its answer with the copy it asked from."""

    def __init__(self):
        self._jobs: dict[str, Job] = {}

    def held(self) -> dict[str, Job]:
        return dict(self._jobs)

    def merge(self, part: Job | None, base: Job | None) -> Job | None:
        """The whole job from `part` and `base` (in new lists: pages keep reading the old)."""
        if part is None:
            return None
        if base is not None:
            part.rows = base.rows + part.rows
            part.snapshots = {epoch: part.snapshots[epoch] if epoch in part.snapshots else base.snapshots[epoch]
                              for epoch in part.snapshot_epochs[-SNAPSHOTS_IN_MEMORY:]
                              if epoch in part.snapshots or epoch in base.snapshots}
        self._jobs[part.job_id] = part
        return part


def job_service(*, slots: int | None = None, owner_timeout: float = 30.0, name: str = SERVICE_NAME):
    """The cluster's JobService, created by the first replica that asks (later ones get the
    same actor; their arguments are ignored). Detached: it outlives any one replica."""
    env = {"PYTHONPATH": REPO_DIR, "ARGAE_RUNS_DIR": str(runs_dir().resolve()),
           **{k: str(Path(os.environ[k]).resolve()) for k in FORWARDED_FOLDERS if k in os.environ}}
    return _remote_service().options(name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
                              runtime_env={"env_vars": env}).remote(slots, env["ARGAE_RUNS_DIR"], owner_timeout)


class ClusterJobManager:
    """JobManager's page API for one Streamlit replica, answered by the shared JobService.

    `liveness(owner)` as for JobManager; every `report_every` seconds the replica sends the
    service its verdict on each session it has seen, and forgets the ones that went away."""

    def __init__(self, service, *, liveness: Callable[[str], bool | None] | None = None,
                 report_every: float = 2.0):
        self._service = service
        self.max_jobs_per_owner = ray.get(service.limits.remote())["max_jobs_per_owner"]
        self._liveness, self._report_every = liveness, report_every
        self._owners: set[str] = set()
        self._mirror = JobMirror()
        self._closed = threading.Event()
        self._reporter = threading.Thread(target=self._report, daemon=True, name="argae-liveness")
        self._reporter.start()

    def submit(self, owner: str, config: TrainConfig, *, label: str = "", group: str | None = None,
               user: str | None = None) -> str:
        config.validate()
        self._owners.add(owner)
        job_id, refusal = ray.get(self._service.submit.remote(owner, config, label, group, user))
        if refusal:
            raise RuntimeError(refusal)
        return job_id

    def get(self, job_id, owner):
        if not job_id:
            return None
        base = self._mirror.held().get(job_id)
        return self._mirror.merge(ray.get(self._service.get.remote(job_id, owner, known_of(base))), base)

    def jobs_of(self, owner):
        bases = self._mirror.held()
        parts = ray.get(self._service.jobs_of.remote(owner, {job_id: known_of(job) for job_id, job in bases.items()}))
        return [self._mirror.merge(part, bases.get(part.job_id)) for part in parts]

    def control(self, job_id, owner, command):
        ray.get(self._service.control.remote(job_id, owner, command))

    def stop_run(self, run_id: str) -> bool:
        return ray.get(self._service.stop_run.remote(run_id))

    def steer(self, job_id, owner, change):
        from .steering import SteeringError
        checked, refusal = ray.get(self._service.steer.remote(job_id, owner, change))
        if refusal:
            raise SteeringError(refusal)
        return checked

    def touch(self, owner):
        self._owners.add(owner)
        self._service.touch.remote(owner)  # nothing to wait for

    def queue_status(self, job_id=None):
        return ray.get(self._service.queue_status.remote(job_id))

    def shutdown(self) -> None:
        """Stop reporting; the service and its trainings stay (other replicas use them)."""
        self._closed.set()
        self._reporter.join(timeout=5)

    def _report(self) -> None:
        while not self._closed.wait(self._report_every):
            verdicts = {owner: self._liveness(owner) for owner in list(self._owners)} if self._liveness else {}
            verdicts = {owner: alive for owner, alive in verdicts.items() if alive is not None}
            if verdicts:
                self._service.report.remote(verdicts)
            self._owners -= {owner for owner, alive in verdicts.items() if not alive}


def cluster_job_manager(address: str, *, liveness: Callable[[str], bool | None] | None = None) -> ClusterJobManager:
    """A replica's job manager on the cluster at `address`. The service's slots: ARGAE_MAX_JOBS
    when set, else one per CPU of the cluster."""
    connect(address)
    slots = os.environ.get("ARGAE_MAX_JOBS", "")
    return ClusterJobManager(job_service(slots=int(slots) if slots.isdigit() else None), liveness=liveness)
