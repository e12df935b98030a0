"""Background trainings for the dashboard: a queue, a bounded number of workers, and
per-job controls (pause, resume, step, stop) that only the job's owner may use.

    JobManager  - what pages talk to: submit, control, read progress, see the queue
    Executor    - where trainings run: `ProcessExecutor` (warm worker processes, the
                  default), `ThreadExecutor` (in-process; tests) or `RayExecutor` (a Ray
                  cluster, in `ray_jobs`, with the queue shared by every server replica).

A worker runs `run_job` for each task: it trains through `runs.record_run` (so every
epoch is saved on disk as it happens) and streams events back on a queue. Controls go
the other way on a per-worker control queue, checked between epochs.

One part a module: `worker` (run_job, the warm worker loop), `executors` (the Executor
protocol, threads, processes), `manager` (Job, JobManager: the queue and the progress).
"""
from ..status import ACTIVE
from .executors import Executor, ProcessExecutor, ThreadExecutor, default_slots
from .manager import MAX_JOBS_PER_OWNER, PHASES_IN_MEMORY, SNAPSHOTS_IN_MEMORY, Job, JobManager
from .worker import addressed, run_job

__all__ = ["ACTIVE", "MAX_JOBS_PER_OWNER", "PHASES_IN_MEMORY", "SNAPSHOTS_IN_MEMORY", "Executor",
           "Job", "JobManager", "ProcessExecutor", "ThreadExecutor", "default_slots", "addressed",
           "run_job"]
