"""Trainings on Ray: the RayExecutor under a JobManager (same behaviour as the local
executors, and a training whose process dies), and the shared JobService that several
replicas' ClusterJobManagers use at once. One small private Ray instance for the module."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

ray = pytest.importorskip("ray")

from argae_core import runs  # noqa: E402
from argae_core.config import TrainConfig  # noqa: E402
from argae_core.jobs import JobManager  # noqa: E402
from argae_core.ray_jobs import ClusterJobManager, RayExecutor, connect, job_service  # noqa: E402
from test_jobs import wait  # noqa: E402

LONG = TrainConfig(epochs=10_000)  # KarateClub: runs until stopped
REPO_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    connect("local", num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture
def manager():
    m = JobManager(RayExecutor(slots=1), owner_timeout=120)
    yield m
    m.shutdown()


@pytest.fixture
def service():
    """A JobService of this test's own (one slot), killed afterwards."""
    actor = job_service(slots=1, owner_timeout=120, name=f"argae-jobs-test-{uuid.uuid4().hex[:8]}")
    yield actor
    ray.get(actor.shutdown.remote())
    ray.kill(actor)


def replicas(service, count=2, **kwargs):
    return [ClusterJobManager(service, **kwargs) for _ in range(count)]


# ------------------------------------------------------------------ the executor
def test_a_ray_job_trains_reports_metrics_and_saves_its_run(manager):
    job_id = manager.submit("alice", TrainConfig(epochs=15))
    wait(lambda: not manager.get(job_id, "alice").active)
    job = manager.get(job_id, "alice")
    assert job.state == "finished" and job.epochs_done == 15 and 0 <= job.metrics["test_auc"] <= 1
    assert runs.load_run(job.run_id).status == "finished"


def test_pause_step_resume_and_stop_reach_a_ray_task(manager):
    job_id = manager.submit("alice", LONG)
    wait(lambda: manager.get(job_id, "alice").epochs_done >= 3)
    manager.control(job_id, "alice", "pause")
    wait(lambda: manager.get(job_id, "alice").state == "paused")
    held = manager.get(job_id, "alice").epochs_done
    manager.control(job_id, "alice", "step")
    wait(lambda: manager.get(job_id, "alice").epochs_done == held + 1)
    manager.control(job_id, "alice", "resume")
    wait(lambda: manager.get(job_id, "alice").epochs_done > held + 3)
    manager.control(job_id, "alice", "stop")
    wait(lambda: not manager.get(job_id, "alice").active)
    assert manager.get(job_id, "alice").state == "stopped"


def test_steering_reaches_a_ray_task_and_a_replica_sees_it(service):
    """Issue 17: a change sent through a replica applies from the next epoch in the Ray task."""
    from argae_core.steering import SteeringError
    first, second = replicas(service, 2)
    job_id = first.submit("alice", LONG)
    wait(lambda: first.get(job_id, "alice").epochs_done >= 3)
    first.control(job_id, "alice", "pause")
    wait(lambda: first.get(job_id, "alice").state == "paused")
    held = first.get(job_id, "alice").epochs_done
    with pytest.raises(SteeringError, match="goes from"):
        first.steer(job_id, "alice", {"reg_weight": 1000})
    first.steer(job_id, "alice", {"adversary": "off"})
    wait(lambda: first.get(job_id, "alice").steer_from == held + 1)
    second.control(job_id, "alice", "step")
    wait(lambda: second.get(job_id, "alice").epochs_done == held + 1)
    job = second.get(job_id, "alice")
    assert job.steering == [{"epoch": held + 1, "changes": {"adversary": [True, False]}}]
    assert job.rows[held]["discriminator_loss"] is None and job.rows[held - 1]["discriminator_loss"] is not None
    second.control(job_id, "alice", "stop")
    wait(lambda: not second.get(job_id, "alice").active)
    assert runs.load_run(job.run_id).steering == job.steering
    for replica in (first, second):
        replica.shutdown()


def training_process(job_id: str) -> psutil.Process:
    """The Ray worker process running this job's task (Ray titles it after the task)."""
    for process in psutil.process_iter(["cmdline"]):
        if any(f"argae-train-{job_id}" in part for part in process.info["cmdline"] or ()):
            return process
    raise AssertionError(f"no process runs job {job_id}")


def test_a_training_whose_process_dies_fails_with_a_message_and_leaves_an_incomplete_run(manager):
    doomed = manager.submit("alice", LONG)
    after = manager.submit("bob", TrainConfig(epochs=5))
    wait(lambda: manager.get(doomed, "alice").epochs_done >= 3)
    training_process(doomed).send_signal(signal.SIGKILL)
    wait(lambda: not manager.get(doomed, "alice").active)
    job = manager.get(doomed, "alice")
    assert job.state == "failed" and "worker died" in job.message and "saved up to its last epoch" in job.message
    wait(lambda: runs.load_run(job.run_id).status == "incomplete", timeout=10)
    wait(lambda: manager.get(after, "bob").state == "finished")  # the slot is not lost


# ------------------------------------------------------------ the shared queue
def test_replicas_share_jobs_and_controls_but_sessions_stay_private(service):
    first, second = replicas(service)
    job_id = first.submit("alice", LONG)
    wait(lambda: second.get(job_id, "alice").epochs_done >= 2)
    assert second.get(job_id, "bob") is None and [j.job_id for j in second.jobs_of("alice")] == [job_id]
    second.control(job_id, "bob", "stop")       # not Bob's: nothing happens
    second.control(job_id, "alice", "stop")
    wait(lambda: not first.get(job_id, "alice").active)
    assert first.get(job_id, "alice").state == "stopped"


def test_replicas_share_one_fair_queue_and_one_per_user_cap(service):
    first, second = replicas(service)
    alice = [first.submit("alice", LONG) for _ in range(2)] + [second.submit("alice", LONG)]
    bob = second.submit("bob", TrainConfig(epochs=5))
    wait(lambda: first.get(alice[0], "alice").state == "running")
    assert first.queue_status(bob) == second.queue_status(bob) == \
        {"position": 1, "waiting": 3, "running": 1, "slots": 1}
    cap = first.max_jobs_per_owner
    alice += [(first, second)[i % 2].submit("alice", LONG) for i in range(cap - len(alice))]
    with pytest.raises(RuntimeError, match=f"already have {cap} runs"):
        second.submit("alice", LONG)
    first.control(alice[0], "alice", "stop")
    wait(lambda: second.get(bob, "bob").state == "finished")  # Bob's came before Alice's others
    assert [first.get(j, "alice").state for j in alice[2:]] == ["queued"] * (cap - 2)
    for job_id in alice:
        second.control(job_id, "alice", "stop")
    wait(lambda: not any(j.active for j in first.jobs_of("alice")))


def test_a_session_its_replica_reports_gone_has_its_jobs_stopped_and_the_service_outlives_the_replica(service):
    gone = {"ghost"}
    first, second = replicas(service, liveness=lambda owner: owner not in gone, report_every=0.2)
    ghost = first.submit("ghost", LONG)
    alive = first.submit("alice", TrainConfig(epochs=5))
    wait(lambda: not first.get(ghost, "ghost").active)
    assert "went away" in first.get(ghost, "ghost").message
    first.shutdown()
    wait(lambda: second.get(alive, "alice").state == "finished")


def test_the_signed_in_owner_reaches_the_run_and_another_replica_stops_it_by_run_id(service):
    first, second = replicas(service)
    job_id = first.submit("alice-session", LONG, user="alice@school.test")
    wait(lambda: first.get(job_id, "alice-session").epochs_done >= 2)
    job = first.get(job_id, "alice-session")
    assert job.user == "alice@school.test" and runs.load_run(job.run_id).info["owner"] == "alice@school.test"
    assert second.stop_run(job.run_id)            # a teacher on the other replica
    wait(lambda: not first.get(job_id, "alice-session").active)
    assert first.get(job_id, "alice-session").state == "stopped" and not second.stop_run(job.run_id)


# ------------------------------------------------------------------ no ray unless asked
def test_the_engine_and_the_pages_never_import_ray_without_a_cluster_address():
    code = ("import sys, argae_core, argae_core.jobs, argae_core.runs, pages.common; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    env = {k: v for k, v in os.environ.items() if k != "ARGAE_RAY_ADDRESS"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_app_runs_every_page_without_importing_ray_without_a_cluster_address(tmp_path):
    """The app itself, each page of its navigation run once (AppTest, the engine and a job
    manager with it), in a fresh interpreter: still no ray."""
    code = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120)
at.run()
for page in ("pages/train.py", "pages/compare.py", "pages/latent.py", "pages/runs.py", "pages/learn.py"):
    at.switch_page(page)
    at.run()
    assert not at.exception, (page, [e.value for e in at.exception])
assert 'ray' not in sys.modules, 'ray was imported'
"""
    env = {**{k: v for k, v in os.environ.items() if k != "ARGAE_RAY_ADDRESS"}, "ARGAE_EXECUTOR": "thread",
           "ARGAE_RUNS_DIR": str(tmp_path / "runs"), "ARGAE_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


# ------------------------------------------------------------ what a refresh carries
def test_a_replica_receives_only_new_rows_and_snapshots_and_rebuilds_the_whole_job():
    from argae_core.jobs import SNAPSHOTS_IN_MEMORY, Job
    from argae_core.ray_jobs import JobMirror, known_of, without_known

    def at(epochs: int) -> Job:   # the service's job after `epochs` epochs, a snapshot every 2
        done = range(1, epochs + 1, 2)
        return Job(job_id="j", owner="alice", config=TrainConfig(), rows=[{"epoch": e} for e in range(1, epochs + 1)],
                   snapshot_epochs=list(done), snapshots={e: (f"z{e}", f"d{e}") for e in list(done)[-SNAPSHOTS_IN_MEMORY:]})
    mirror, held = JobMirror(), None
    for epochs in (0, 3, 4, 11, 11, 20):
        part = without_known(at(epochs).copy(), known_of(held))
        assert len(part.rows) == epochs - len(held.rows if held else [])
        assert not set(part.snapshots) & set(held.snapshots if held else {})
        held = mirror.merge(part, held)
        assert (held.rows, held.snapshots) == (at(epochs).rows, at(epochs).snapshots)
