"""The worker side: `run_job` trains one config through `runs.record_run` and streams events
back; controls (pause, resume, step, update, stop) come the other way, checked between epochs."""
from __future__ import annotations

import os
import queue
import time
import traceback

from ..config import TrainConfig
from ..events import Done, Failed, Idle, Paused, Phase, Progress, Ready, Record, Started, SteerQueued
from ..status import Status
from ..threads import Yielding, asked_threads, choose_threads, lower_priority

WORKER_NICENESS = 3       # a worker's start (torch's import) and trainings yield to the pages
PROGRESS_SECONDS = 2.0    # a sampled epoch's progress is sent at most this often


def run_job(job_id: str, config_dict: dict, events, control, *, group: str | None = None,
            user: str | None = None, runs_root: str | None = None) -> None:
    """Train one config, sending `events` (Started, Record..., then Done or Failed); the run
    is saved under `runs_root` as part of comparison `group` (None: a single run), owned by
    the signed-in `user` (None: no sign-in).

    Runs in a worker (process or thread). Control messages: pause, resume, step, update, stop,
    and {"steer": change} (applied when the next epoch starts; the Record of the epoch it took
    effect at carries the history entry as `steered`)."""
    from ..data import load_graph
    from ..runs import RunWriter, record_run
    from ..training import Trainer

    try:
        config = TrainConfig.from_dict(config_dict).validate()
        graph = load_graph(config)
        trainer = Trainer(config, graph)
        writer = RunWriter(config, graph, root=runs_root, source="ui", group=group, owner=user)
    except Exception as exc:  # a message for the user, never a traceback on their page
        events.put(Failed(job_id, _describe(exc)))
        return
    events.put(Started(job_id, writer.run_id, graph.summary()))
    trainer.on_batch = _progress_sender(events, job_id)
    paused, steps_allowed = False, 0
    records = record_run(trainer, writer)
    yielding = _yielding()
    try:
        for record in records:
            yielding.check()
            steered = trainer.steering[-1] if trainer.steering and trainer.steering[-1]["epoch"] == record.epoch else None
            events.put(Record(job_id, record.row(), record.z, record.d_score, steered))
            paused, steps_allowed = _obey(control, trainer, paused, steps_allowed, events, job_id)
    except Exception as exc:
        events.put(Failed(job_id, _describe(exc)))
        return
    finally:
        records.close()
        yielding.close()
    events.put(Done(job_id, Status(writer.info["status"]), writer.final_metrics))


def _yielding() -> Yielding:
    """The run's torch threads, one fewer while a picture is drawn on this machine (threads.Yielding)."""
    import torch
    return Yielding(torch.get_num_threads(), torch.set_num_threads, asked=asked_threads() is not None)


def _progress_sender(events, job_id):
    """Sends a sampled epoch's progress (a 1M-node epoch is minutes), at most every PROGRESS_SECONDS."""
    last = [float("-inf")]

    def send(epoch: int, batch: int, batches: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_SECONDS or batch == batches:
            last[0] = now
            events.put(Progress(job_id, epoch, batch, batches))
    return send


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
        command = addressed(command, job_id)
        if command is None:   # left for an earlier run of this worker (a late Stop must not stop this one)
            continue
        if isinstance(command, dict) and "steer" in command:
            trainer.steer(command["steer"])  # checked by the manager already; queued for the next epoch
            events.put(SteerQueued(job_id, trainer.epoch + 1))
        elif command == "stop":
            trainer.stop()
            return False, 0
        if command == "pause":
            paused = True
            events.put(Paused(job_id, True))
        elif command == "resume":
            paused, steps_allowed = False, 0
            events.put(Paused(job_id, False))
        elif command in ("step", "update"):
            if not paused:  # Step / one update on a running job pauses it: say so, as Pause does
                events.put(Paused(job_id, True))
                paused = True
                if command == "step":  # where it stands (the epoch just done); the next Step moves one
                    continue
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
    z, d_score = trainer.step_snapshot()   # a big graph's kept nodes, as its snapshots
    events.put(Phase(job_id, {**phase, "z": z, "d_score": d_score}))
    if phase["phase"] == "encoder" and phase.get("ends_epoch", True):  # sampled: the epoch's last batch
        trainer.advance()  # completes the epoch's record (validation, snapshot)
        return True
    return False


def _describe(exc: BaseException) -> str:
    from ..config import ConfigError
    from ..data import DatasetUnavailable
    if isinstance(exc, (ConfigError, DatasetUnavailable)):
        return str(exc)
    return f"{type(exc).__name__}: {exc} (at {traceback.extract_tb(exc.__traceback__)[-1].name})" \
        if exc.__traceback__ else f"{type(exc).__name__}: {exc}"


def _worker_main(tasks, events, control, slots: int, runs_root: str | None) -> None:
    """A warm worker process: imports the heavy libraries once, then runs tasks forever, each
    with the threads free when it starts (one of `slots` workers: `threads.choose_threads`)."""
    lower_priority(WORKER_NICENESS)
    import torch
    from .. import data, runs, training  # noqa: F401  (warm the imports before the first task)
    events.put(Ready(os.getpid()))
    while True:
        task = tasks.get()
        if task is None:
            return
        job_id, config_dict, group, user = task
        torch.set_num_threads(choose_threads(slots)[0])
        run_job(job_id, config_dict, events, control, group=group, user=user, runs_root=runs_root)
        events.put(Idle(job_id, os.getpid()))


def addressed(message, job_id: str):
    """The control in `message` when it is meant for run `job_id`, else None. The manager
    addresses each control ({"job": id, "command": ...} or {"job": id, "steer": change}): a
    slot's controls queue is shared by its runs one after another, and a control sent while a
    worker still loads (importing torch) must reach the run it was sent to, not be dropped
    (a Pause pressed then was lost, and the run trained to its end). An unaddressed control
    (an executor's shutdown "stop") is for whichever run is there."""
    if not (isinstance(message, dict) and "job" in message):
        return message
    if message["job"] != job_id:
        return None
    return message["command"] if "command" in message else {"steer": message["steer"]}
