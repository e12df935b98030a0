"""`python -m argae_core warm` fills numba's disk cache with umap's compiled code (issue 16:
the first UMAP picture of a fresh install then takes seconds), without importing torch."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_warm_fills_an_empty_numba_cache_and_a_second_process_loads_it(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "argae_core", "warm"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "compiled and cached" in done.stdout
    cached = {p.name.split("_")[0] for p in tmp_path.iterdir()}
    assert {"umap", "pynndescent"} <= cached, cached
    assert any(p.suffix == ".nbc" for p in tmp_path.rglob("*")), "no compiled code on disk"
    # A later process compiles nothing new: the cache's files stay as they are.
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nbc")}
    again = subprocess.run([sys.executable, "-m", "argae_core", "warm", "--quiet"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and again.stdout == ""
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.nbc")} == before


def test_warm_refuses_a_projection_device_that_is_not_there(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT), ARGAE_PROJECTION_DEVICE="gpu")
    done = subprocess.run([sys.executable, "-m", "argae_core", "warm"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == ("warm: projection device: unknown device 'gpu' (from ARGAE_PROJECTION_DEVICE); "
                                   "choose auto, cpu, cuda, torch-cpu")


def test_the_warm_command_imports_no_torch():
    script = "import sys, argae_core.warm; print('torch' in sys.modules or 'umap' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_warm_is_listed_by_the_cli_help():
    done = subprocess.run([sys.executable, "-m", "argae_core", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert "warm" in done.stdout and done.returncode == 0


def test_the_picture_process_draws_a_finished_runs_pictures_beside_it(tmp_path):
    """`warm --serve` as the server starts it: a run's end (the done hook) draws its pictures,
    a page's request is answered, and the process ends with the server."""
    import time

    from argae_core import ahead, pictures
    from argae_core.config import TrainConfig
    from argae_core.jobs import JobManager, ThreadExecutor
    manager = JobManager(ThreadExecutor(1, runs_root=str(tmp_path)), owner_timeout=600)
    manager.add_done_hook(lambda job: ahead.run_ended(job, tmp_path))
    try:
        job_id = manager.submit("me", TrainConfig(epochs=8, snapshot_interval=4), group="cmp-t")
        deadline = time.monotonic() + 300
        job = manager.get(job_id, "me")
        while (job.active or not (tmp_path / str(job.run_id) / "pictures").is_dir()
               or len(list((tmp_path / job.run_id / "pictures").iterdir())) < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
            job = manager.get(job_id, "me")
        keys = pictures.keys_ahead(job.run_id, "cmp-t", 0, tmp_path)
        assert [k.kind for k in keys] == ["final", "snapshot"]
        deadline_full = time.monotonic() + 120   # each is drawn quick, then in full
        while not all(pictures.load(k, tmp_path, full=True) for k in keys) and time.monotonic() < deadline_full:
            time.sleep(0.2)
        assert all(pictures.load(k, tmp_path, full=True) is not None for k in keys)
        asked = pictures.PictureKey(job.run_id, pictures.SNAPSHOT, 4, "umap", 7)
        assert ahead.request(asked, tmp_path, priority=ahead.NOW)
        while ahead.answer(asked, tmp_path) != "done" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ahead.answer(asked, tmp_path) == "done" and pictures.load(asked, tmp_path) is not None
        assert ahead.is_ready()
    finally:
        manager.shutdown()
        ahead.stop_ahead()


def test_the_live_picture_process_draws_a_training_runs_newest_snapshot_below_the_workers(tmp_path):
    """`warm --serve --live` (ahead.request_live): started on first use, below the workers'
    priority, it draws the snapshot asked for beside the run."""
    import time

    from argae_core import ahead, pictures
    from argae_core.config import TrainConfig
    from argae_core.jobs import JobManager, ThreadExecutor
    manager = JobManager(ThreadExecutor(1, runs_root=str(tmp_path)), owner_timeout=600)
    try:
        job_id = manager.submit("me", TrainConfig(epochs=8, snapshot_interval=4))
        deadline = time.monotonic() + 300
        while manager.get(job_id, "me").active and time.monotonic() < deadline:
            time.sleep(0.2)
        job = manager.get(job_id, "me")
        key = pictures.PictureKey(job.run_id, pictures.SNAPSHOT, job.snapshot_epochs[-1], "umap", 0)
        assert not ahead.live_ready()
        assert ahead.request_live(key, tmp_path)
        while ahead.answer(key, tmp_path, live=True) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ahead.answer(key, tmp_path, live=True) == "done" and pictures.load(key, tmp_path) is not None
        assert ahead.live_ready() and ahead.answer(key, tmp_path) is None   # not the other process's
        pid = ahead._LIVE.process.pid
        assert os.getpriority(os.PRIO_PROCESS, pid) >= min(19, os.getpriority(os.PRIO_PROCESS, 0) + ahead.LIVE_NICENESS)
        environ = Path(f"/proc/{pid}/environ")
        if environ.exists():   # its numeric libraries' thread pools: one thread each
            variables = dict(v.split("=", 1) for v in environ.read_text().split("\0") if "=" in v)
            assert all(variables.get(name) == "1" for name in ahead.ONE_THREAD), variables
    finally:
        manager.shutdown()
        ahead.stop_ahead()
    assert ahead._LIVE.process is None and not ahead.live_ready()


def _live_requests_recorded(monkeypatch):
    """ahead's two picture processes replaced by lists of the lines sent to each."""
    from argae_core import ahead
    live_sent, ahead_sent = [], []
    monkeypatch.setattr(ahead._LIVE, "send", lambda line, priority: live_sent.append(line) or True)
    monkeypatch.setattr(ahead._LIVE, "start", lambda *a: None)
    monkeypatch.setattr(ahead._AHEAD, "send", lambda line, priority: ahead_sent.append(line) or True)
    for process in (ahead._LIVE, ahead._AHEAD):
        monkeypatch.setattr(process, "answers", {})
        monkeypatch.setattr(process, "last_done", {})
    monkeypatch.setattr(ahead, "_LIVE_WAITING", {})
    monkeypatch.setattr(ahead._LIVE, "ready", threading.Event())   # _read_answers sets it at its end
    return live_sent, ahead_sent


def test_a_live_picture_unanswered_for_a_while_is_asked_of_the_other_process_too(monkeypatch):
    """On a busy machine the low-priority live process may get little CPU (or still be
    starting): after LIVE_PATIENCE s the other picture process is asked the same live request."""
    import json

    from argae_core import ahead, pictures
    key = pictures.PictureKey("run-1", pictures.SNAPSHOT, 40)
    live_sent, ahead_sent = _live_requests_recorded(monkeypatch)
    assert ahead.request_live(key, "/runs") and live_sent and not ahead_sent   # just asked: wait
    ahead._LIVE_WAITING["run-1"] = time.monotonic() - ahead.LIVE_PATIENCE - 0.1
    assert ahead.request_live(key, "/runs")
    assert len(ahead_sent) == 1 and json.loads(ahead_sent[0])["live"] is True
    assert json.loads(ahead_sent[0])["key"] == key.to_dict()
    assert ahead.answer(key, "/runs", live=True) is None
    ahead._AHEAD.answers[ahead_sent[0]] = ("done", time.time())
    assert ahead.answer(key, "/runs", live=True) == "done" and ahead.answer(key, "/runs") is None


def test_the_live_wait_is_the_runs_not_one_snapshots(monkeypatch):
    """A training makes a new snapshot every second or so and the page asks for the newest:
    no one request waits LIVE_PATIENCE, yet a run with no live picture for that long is handed
    to the other process (once per LIVE_PATIENCE); a picture of the run drawn meanwhile
    starts the wait again."""
    import json

    from argae_core import ahead, pictures
    live_sent, ahead_sent = _live_requests_recorded(monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr(ahead.time, "monotonic", lambda: clock[0])
    for epoch in range(10, 200, 10):   # a snapshot a second, each asked once
        assert ahead.request_live(pictures.PictureKey("run-1", pictures.SNAPSHOT, epoch), "/runs")
        clock[0] += 1.0
    asked = [json.loads(line)["key"]["epoch"] for line in ahead_sent]
    assert asked == [70, 130, 190], asked   # at 6 s, 12 s, 18 s of waiting: the newest each time
    ahead._LIVE._read_answers(types.SimpleNamespace(stdout=[f"done {live_sent[-1]}\n"]))   # a picture drawn
    assert ahead._LIVE.last_done == {"run-1": clock[0]}
    for epoch in range(200, 250, 10):   # 5 s more: under LIVE_PATIENCE since that picture
        ahead.request_live(pictures.PictureKey("run-1", pictures.SNAPSHOT, epoch), "/runs")
        clock[0] += 1.0
    assert len(ahead_sent) == 3
    ahead.request_live(pictures.PictureKey("run-2", pictures.SNAPSHOT, 10), "/runs")   # another run waits on its own
    assert len(ahead_sent) == 3


def _rests_of_this_thread(monkeypatch) -> list:
    """Record the rests (time.sleep calls) of the test's own thread, and only those: `time` is
    one module for the whole process, and a thread another test left running (a job manager's
    watcher sleeps 0.5 s in a loop) must neither land in the record nor spin on a no-op sleep."""
    rests, real_sleep, own = [], time.sleep, threading.get_ident()

    def sleep(seconds: float) -> None:
        if threading.get_ident() == own:
            rests.append(seconds)
        else:
            real_sleep(seconds)
    monkeypatch.setattr(time, "sleep", sleep)
    return rests


def test_the_live_process_rest_counts_the_cpu_of_all_its_threads(monkeypatch):
    """A picture's CPU may be spent in other threads (a thread pool's): the rest after it
    counts those too, so the live process keeps to its share of a core."""
    import io
    import json
    import threading

    from argae_core import frames, pictures, warm

    def burn(seconds: float = 0.1) -> None:
        start = time.process_time()
        while time.process_time() - start < seconds:
            pass

    def draw_elsewhere(*args, **kwargs):
        worker = threading.Thread(target=burn)
        worker.start()
        worker.join()
    monkeypatch.setattr(pictures, "neighbour", lambda *a, **k: None)
    monkeypatch.setattr(pictures, "draw", draw_elsewhere)
    rests = _rests_of_this_thread(monkeypatch)
    key = pictures.PictureKey("run-1", pictures.SNAPSHOT, 40, "umap", 0)
    line = "0\t" + json.dumps({"key": key.to_dict(), "root": "/runs"}) + "\n"
    answers = io.StringIO()
    warm.serve(io.StringIO(line), answers, live=True)
    assert "done " in answers.getvalue(), answers.getvalue()
    assert rests and rests[0] >= 0.1 * (1 / frames.CPU_SHARE - 1) * 0.9, rests


def test_only_the_live_process_rests_after_a_live_picture(monkeypatch):
    """The live process rests after each picture (a quarter of a core); the main picture
    process, serving a live request as the fallback, does not keep other pages waiting."""
    import io
    import json

    from argae_core import pictures, warm
    monkeypatch.setattr(pictures, "neighbour", lambda *a, **k: None)
    monkeypatch.setattr(pictures, "draw", lambda *a, **k: sum(i * i for i in range(200_000)))   # some CPU
    rests = _rests_of_this_thread(monkeypatch)
    key = pictures.PictureKey("run-1", pictures.SNAPSHOT, 40, "umap", 0)
    line = "0\t" + json.dumps({"key": key.to_dict(), "root": "/runs", "live": True}) + "\n"
    for live in (True, False):
        rests.clear()
        answers = io.StringIO()
        warm.serve(io.StringIO(line), answers, live=live)
        assert "done " in answers.getvalue(), answers.getvalue()
        assert bool(rests and rests[0] > 0) is live, (live, rests)


@pytest.mark.parametrize("live", [True, False])
def test_the_picture_processes_draw_under_the_drawing_lock(monkeypatch, tmp_path, live):
    """While either picture process draws, a training on this machine sees the lock held and
    runs a thread fewer (threads.Yielding); after the picture, the lock is free again."""
    import io
    import json

    from argae_core import pictures, threads, warm
    monkeypatch.setattr(threads, "DRAWING_LOCK", str(tmp_path / "drawing.lock"))
    training = threads.Yielding(2, lambda n: None)
    seen = []
    monkeypatch.setattr(pictures, "neighbour", lambda *a, **k: None)
    monkeypatch.setattr(pictures, "load_entry", lambda *a, **k: ("the quick one",) if seen else None)
    monkeypatch.setattr(pictures, "draw", lambda *a, **k: seen.append(training.busy()))
    _rests_of_this_thread(monkeypatch)
    key = pictures.PictureKey("run-1", pictures.SNAPSHOT, 40, "umap", 0)
    line = "0\t" + json.dumps({"key": key.to_dict(), "root": "/runs"}) + "\n"
    answers = io.StringIO()
    warm.serve(io.StringIO(line), answers, live=live)
    assert "done " in answers.getvalue(), answers.getvalue()
    assert seen == [True] * (1 if live else 2), seen   # the live picture; the quick then the full one
    assert not training.busy()
