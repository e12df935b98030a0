"""The job layer: queue, ownership, controls, step mode, vanished sessions."""
from __future__ import annotations

import time

import pytest

from argae_core.compare import MAX_SEEDS
from argae_core.config import MODEL_KINDS, TrainConfig
from argae_core.jobs import Job, JobManager, ThreadExecutor
from argae_core.jobs.manager import PHASES_IN_MEMORY
from argae_core.training import Trainer
from waiting import wait  # noqa: E402



@pytest.fixture
def manager():
    m = JobManager(ThreadExecutor(slots=1), owner_timeout=60)
    yield m
    m.shutdown()


def test_a_job_trains_and_reports_metrics(manager):
    job_id = manager.submit("alice", TrainConfig(epochs=15))
    wait(lambda: not manager.get(job_id, "alice").active)
    job = manager.get(job_id, "alice")
    assert job.state == "finished" and job.epochs_done == 15
    assert 0 <= job.metrics["test_auc"] <= 1 and job.run_id


def test_sessions_never_see_or_stop_each_others_jobs(manager):
    job_id = manager.submit("alice", TrainConfig(epochs=2000))
    assert manager.get(job_id, "bob") is None
    manager.control(job_id, "bob", "stop")
    wait(lambda: manager.get(job_id, "alice").epochs_done >= 3)
    assert manager.get(job_id, "alice").active
    manager.control(job_id, "alice", "stop")
    wait(lambda: not manager.get(job_id, "alice").active)
    assert manager.get(job_id, "alice").state == "stopped"


def test_the_queue_is_bounded_and_visible(manager):
    first = manager.submit("alice", TrainConfig(epochs=2000))
    second = manager.submit("bob", TrainConfig(epochs=5))
    assert manager.get(second, "bob").state == "queued"
    assert manager.queue_status(second) == {"position": 1, "waiting": 1, "running": 1, "slots": 1}
    manager.control(first, "alice", "stop")
    wait(lambda: manager.get(second, "bob").state == "finished")


def test_the_queue_is_fair_between_users(manager):
    """Alice queues a pile of runs before Bob asks for one: Bob's is next, not last."""
    alice = [manager.submit("alice", TrainConfig(epochs=5000)) for _ in range(4)]
    bob = manager.submit("bob", TrainConfig(epochs=5000))
    wait(lambda: manager.get(alice[0], "alice").state == "running")
    assert [manager.queue_status(j)["position"] for j in (bob, *alice[1:])] == [1, 2, 3, 4]
    manager.control(alice[0], "alice", "stop")
    wait(lambda: manager.get(bob, "bob").state == "running")
    assert [manager.get(j, "alice").state for j in alice[1:]] == ["queued"] * 3
    manager.control(bob, "bob", "stop")
    wait(lambda: manager.get(alice[1], "alice").state == "running")  # then Alice's, oldest first
    assert [manager.queue_status(j)["position"] for j in alice[2:]] == [1, 2]
    for job_id in alice:
        manager.control(job_id, "alice", "stop")
    wait(lambda: not any(manager.get(j, "alice").active for j in alice))


def test_a_full_comparison_fits_the_per_user_limit_and_one_more_run_is_refused(manager):
    runs = len(MODEL_KINDS) * MAX_SEEDS
    jobs = [manager.submit("alice", TrainConfig(epochs=5000)) for _ in range(runs)]
    with pytest.raises(RuntimeError, match=f"already have {runs} runs"):
        manager.submit("alice", TrainConfig(epochs=5))
    bob = manager.submit("bob", TrainConfig(epochs=5))  # the limit is per user
    for job_id in jobs:
        manager.control(job_id, "alice", "stop")
    wait(lambda: manager.get(bob, "bob").state == "finished")
    assert not any(manager.get(j, "alice").active for j in jobs)


def test_step_on_a_running_job_pauses_it_and_says_so(manager):
    job_id = manager.submit("alice", TrainConfig(epochs=5000))
    wait(lambda: manager.get(job_id, "alice").epochs_done >= 3)
    manager.control(job_id, "alice", "step")
    wait(lambda: manager.get(job_id, "alice").state == "paused")
    held = manager.get(job_id, "alice").epochs_done
    manager.control(job_id, "alice", "step")
    wait(lambda: manager.get(job_id, "alice").epochs_done == held + 1)
    time.sleep(0.5)
    assert manager.get(job_id, "alice").epochs_done == held + 1  # one epoch per step, then paused
    assert manager.get(job_id, "alice").state == "paused"
    manager.control(job_id, "alice", "stop")
    wait(lambda: not manager.get(job_id, "alice").active)


def test_step_mode_updates_match_plain_training(manager):
    config = TrainConfig(epochs=3, discriminator_steps=2)
    job_id = manager.submit("alice", config)
    manager.control(job_id, "alice", "pause")
    wait(lambda: manager.get(job_id, "alice").state == "paused")
    for _ in range(6):  # two epochs of 2 discriminator updates and 1 encoder update
        manager.control(job_id, "alice", "update")
    wait(lambda: len(manager.get(job_id, "alice").phases) == 6)
    job = manager.get(job_id, "alice")
    assert [p["phase"] for p in job.phases[-3:]] == ["discriminator", "discriminator", "encoder"]
    assert job.phases[-1]["z"].shape == (34, config.latent_size)
    assert "z" not in job.phases[0]  # only the newest update keeps its Z in memory
    manager.control(job_id, "alice", "resume")
    wait(lambda: not manager.get(job_id, "alice").active)
    plain = [r.row()["encoder_loss"] for r in Trainer(config)]
    assert [r["encoder_loss"] for r in manager.get(job_id, "alice").rows] == plain


def test_step_mode_walks_every_batch_of_a_sampled_epoch(manager):
    """Sampled: an epoch is one update pair per batch; each click is one update, none lost."""
    config = TrainConfig(dataset="planted", planted_nodes=400, epochs=30, sampling="sampled", batch_nodes=400)
    batches = len(Trainer(config).batches)
    assert 2 < batches and 2 * batches < PHASES_IN_MEMORY
    job_id = manager.submit("alice", config)
    manager.control(job_id, "alice", "pause")
    wait(lambda: manager.get(job_id, "alice").state == "paused")
    done = manager.get(job_id, "alice").epochs_done
    clicks = 2 * batches  # the rest of an epoch at least, whatever the pause left of it
    for _ in range(clicks):
        manager.control(job_id, "alice", "update")
    wait(lambda: len(manager.get(job_id, "alice").phases) == clicks)
    phases = manager.get(job_id, "alice").phases
    assert all(p["batches"] == batches for p in phases)
    steps = [(p["epoch"], p["batch"], p["phase"]) for p in phases]
    assert len(set(steps)) == clicks  # no update skipped or sent twice
    encoders = [p for p in phases if p["phase"] == "encoder"]
    assert [p["ends_epoch"] for p in encoders] == [p["batch"] == batches for p in encoders]
    assert manager.get(job_id, "alice").epochs_done <= done + 1
    manager.control(job_id, "alice", "resume")
    wait(lambda: not manager.get(job_id, "alice").active)
    plain = [r.row()["encoder_loss"] for r in Trainer(config)]
    assert [r["encoder_loss"] for r in manager.get(job_id, "alice").rows] == plain


def test_a_sampled_job_reports_its_batches_within_an_epoch(manager, monkeypatch):
    from argae_core.jobs import worker
    seen = []
    monkeypatch.setattr(worker, "PROGRESS_SECONDS", 0.0)
    original = worker.Progress
    monkeypatch.setattr(worker, "Progress", lambda *a: seen.append(a) or original(*a))
    config = TrainConfig(dataset="planted", planted_nodes=400, epochs=2, sampling="sampled", batch_nodes=400)
    batches = len(Trainer(config).batches)
    job_id = manager.submit("alice", config)
    wait(lambda: not manager.get(job_id, "alice").active)
    job = manager.get(job_id, "alice")
    assert job.state == "finished" and job.batch_progress == (2, batches, batches)
    assert [(e, b) for _, e, b, n in seen] == [(e, b) for e in (1, 2) for b in range(1, batches + 1)]
    # full-batch runs send none
    seen.clear()
    job_id = manager.submit("alice", TrainConfig(epochs=3))
    wait(lambda: not manager.get(job_id, "alice").active)
    assert seen == [] and manager.get(job_id, "alice").batch_progress is None


def test_a_vanished_session_has_its_job_stopped():
    m = JobManager(ThreadExecutor(slots=1), owner_timeout=1.0)
    try:
        job_id = m.submit("ghost", TrainConfig(epochs=10_000))
        wait(lambda: not m.get(job_id, "ghost").active, timeout=30)
        job = m.get(job_id, "ghost")
        assert job.state == "stopped" and "went away" in job.message
    finally:
        m.shutdown()


def test_a_failing_dataset_fails_the_job_with_its_message(manager, monkeypatch, tmp_path):
    monkeypatch.setenv("ARGAE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ARGAE_CACHE_DIR", str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")
    monkeypatch.setattr("torch_geometric.datasets.Planetoid.__init__", offline)
    job_id = manager.submit("alice", TrainConfig(dataset="citeseer", epochs=5))
    wait(lambda: not manager.get(job_id, "alice").active)
    job = manager.get(job_id, "alice")
    assert job.state == "failed" and "CiteSeer could not be loaded" in job.message


def test_time_left_follows_the_recent_pace_not_the_wall_clock():
    job = Job(job_id="j", owner="alice", config=TrainConfig(epochs=100), state="running")
    assert job.seconds_left() is None                      # no epoch yet
    job.started = time.time() - 3600                       # an hour of start-up and pauses...
    job.rows = [{"seconds": 0.5}] * 5 + [{"seconds": 0.01}] * 15
    assert job.seconds_left() == pytest.approx(0.01 * 80)  # ...do not count; the slow start neither
    job.state = "finished"
    assert job.seconds_left() is None


def test_a_control_left_for_an_earlier_run_of_the_slot_does_not_reach_the_next():
    """A slot's controls queue serves its runs one after another: a late Stop addressed to the
    run before must not stop this one (it trains all its epochs)."""
    import queue
    from argae_core.events import Done, Record
    from argae_core.jobs import run_job
    control, events = queue.Queue(), queue.Queue()
    control.put({"job": "the-run-before", "command": "stop"})
    control.put({"job": "the-run-before", "steer": {"reg_weight": 3.0}})
    run_job("this-run", TrainConfig(epochs=6).to_dict(), events, control)
    got = []
    while not events.empty():
        got.append(events.get())
    assert sum(isinstance(e, Record) for e in got) == 6
    assert isinstance(got[-1], Done) and got[-1].status == "finished"


def test_a_pause_pressed_while_a_worker_still_loads_reaches_its_run(tmp_path):
    """A fresh worker process imports torch for seconds before it takes its first run; a
    Pause sent meanwhile was dropped with the slot's old controls, and the run trained to
    its end. Now it pauses the run (at its first epoch's end)."""
    from argae_core.jobs import ProcessExecutor
    m = JobManager(ProcessExecutor(slots=1, runs_root=str(tmp_path)), owner_timeout=120)
    try:
        job_id = m.submit("alice", TrainConfig(epochs=3000))
        m.control(job_id, "alice", "pause")            # the worker is still importing torch
        wait(lambda: m.get(job_id, "alice").state == "paused", timeout=120)
        held = m.get(job_id, "alice").epochs_done
        time.sleep(1.0)
        assert m.get(job_id, "alice").epochs_done == held < 3000
        m.control(job_id, "alice", "stop")
        wait(lambda: not m.get(job_id, "alice").active, timeout=60)
    finally:
        m.shutdown()


def test_a_run_gives_a_thread_back_while_a_picture_is_drawn_and_takes_it_again(monkeypatch, tmp_path):
    import queue

    from argae_core import threads
    from argae_core.events import Done
    from argae_core.jobs import worker
    lock = str(tmp_path / "drawing.lock")
    applied = []
    monkeypatch.setattr(worker, "_yielding", lambda: threads.Yielding(2, applied.append, path=lock))
    events, control = queue.Queue(), queue.Queue()
    with threads.drawing(lock):   # a picture drawn all through the run
        worker.run_job("job-1", TrainConfig(epochs=3).to_dict(), events, control, runs_root=str(tmp_path / "runs"))
    sent = [events.get_nowait() for _ in range(events.qsize())]
    assert isinstance(sent[-1], Done), sent[-1]
    assert applied == [1, 2]   # one thread fewer from the first epoch, the run's two back at its end
