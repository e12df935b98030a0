"""The default thread count: the cores free now, shared among side-by-side trainings."""
import pytest

from argae_core import cli, threads
from argae_core.threads import choose_threads


@pytest.fixture(autouse=True)
def no_omp_setting(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


@pytest.mark.parametrize("cores, load, slots, expected", [
    (2, 0.1, 1, 2),   # quiet 2-core machine: both cores (26 ms vs 45 ms per Cora epoch)
    (2, 0.9, 1, 1),   # one core busy
    (2, 3.5, 1, 1),   # loaded: never below one, never more than free (2 threads were 5x slower)
    (8, 2.0, 1, 6),
    (8, 0.0, 2, 4),   # two workers side by side share the cores
    (2, 0.0, 2, 1),
    (8, 5.8, 2, 1),
    (1, 0.0, 1, 1),
])
def test_threads_follow_free_cores(cores, load, slots, expected):
    count, reason = choose_threads(slots=slots, cores=cores, load=load)
    assert count == expected
    assert f"of {cores} cores free (load {load:.1f})" in reason


def test_affinity_and_load_are_read_when_not_given(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    monkeypatch.setattr(threads, "busy_cores", lambda: None)  # no /proc/stat: the load average
    assert choose_threads() == (3, "3 thread(s): 3 of 4 cores free (load 1.2)")
    monkeypatch.setattr(threads, "busy_cores", lambda: 0.1)  # a quiet machine right after a burst
    assert choose_threads() == (4, "4 thread(s): 4 of 4 cores free (load 0.1)")


def readings(*snapshots):
    """A /proc/stat reader giving these {cpu: (all, idle)} snapshots in turn."""
    it = iter(snapshots)
    return lambda: next(it)


def test_busy_cores_counts_the_cpus_this_process_may_use(monkeypatch):
    before = {0: (1000, 900), 1: (1000, 900), 2: (1000, 900)}
    after = {0: (1100, 900), 1: (1100, 1000), 2: (1100, 950)}  # cpu 0 all busy, 1 idle, 2 half
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert threads.busy_cores(0, readings(before, after)) == pytest.approx(1.5)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {1, 2}, raising=False)
    assert threads.busy_cores(0, readings(before, after)) == pytest.approx(0.5)


def test_busy_cores_says_nothing_when_it_cannot_tell():
    def unreadable():
        raise OSError("no /proc here")
    assert threads.busy_cores(0, unreadable) is None
    same = {0: (1000, 900)}
    assert threads.busy_cores(0, readings(same, same)) is None  # no time passed in the counters


def test_busy_cores_reads_this_machine():
    busy = threads.busy_cores(0.05)
    if busy is None:
        pytest.skip("no /proc/stat here")
    assert 0 <= busy <= threads.usable_cores() + 1e-9


def test_omp_num_threads_wins(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert choose_threads(cores=2, load=9.0)[0] == 3


@pytest.mark.parametrize("argv, expected", [([], 1), (["--threads", "2"], 2)])
def test_cli_chooses_unless_told(monkeypatch, argv, expected):
    import torch
    monkeypatch.setattr(cli, "choose_threads", lambda: (1, "1 thread(s): 0 of 2 cores free (load 3.0)"))
    args = cli.build_parser().parse_args(["train", *argv])
    before = torch.get_num_threads()
    try:
        cli.set_threads(args)
        assert torch.get_num_threads() == expected
    finally:
        torch.set_num_threads(before)
    assert args.threads_note.startswith(f"{expected} thread(s)")


def test_lower_priority_of_one_thread_leaves_the_others_alone():
    import os
    import threading

    from argae_core.threads import lower_priority
    seen = {}

    def lowered():
        lower_priority(3, this_thread=True)
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    before = os.getpriority(os.PRIO_PROCESS, 0)
    worker = threading.Thread(target=lowered)
    worker.start()
    worker.join()
    assert seen["thread"] == min(before + 3, 19)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before


def test_a_training_runs_a_thread_fewer_while_a_picture_is_drawn(tmp_path):
    lock = str(tmp_path / "drawing.lock")
    applied = []
    yielding = threads.Yielding(2, applied.append, path=lock)
    assert yielding.check() == 2 and applied == []   # nobody draws: the threads it was given
    with threads.drawing(lock):
        assert yielding.busy()
        assert yielding.check() == 1 and applied == [1]
        assert yielding.check() == 1 and applied == [1]   # set once, not every epoch
    assert yielding.check() == 2 and applied == [1, 2]
    with threads.drawing(lock):
        yielding.check()
    yielding.close()   # the run ended while a picture was drawn: its threads back
    assert applied == [1, 2, 1, 2]


def test_a_one_thread_training_keeps_its_thread(tmp_path):
    lock = str(tmp_path / "drawing.lock")
    applied = []
    yielding = threads.Yielding(1, applied.append, path=lock)
    with threads.drawing(lock):
        assert yielding.check() == 1
    assert applied == []


def test_two_drawers_at_once_and_a_drawer_that_dies(tmp_path):
    """The lock is the machine's: held by another process, shared by two drawers, and let go
    when a drawer is killed mid-picture."""
    import subprocess
    import sys
    import time
    lock = str(tmp_path / "drawing.lock")
    hold = ("import sys, time; from argae_core import threads\n"
            "with threads.drawing(sys.argv[1]):\n    print('holding', flush=True); time.sleep(60)\n")
    drawers = [subprocess.Popen([sys.executable, "-c", hold, lock], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    try:
        for drawer in drawers:
            assert drawer.stdout.readline().strip() == "holding"   # the second is not kept waiting
        yielding = threads.Yielding(2, lambda n: None, path=lock)
        assert yielding.check() == 1
        drawers[0].kill()
        drawers[0].wait(10)
        assert yielding.check() == 1   # the other one still draws
        drawers[1].kill()
        drawers[1].wait(10)
        deadline = time.monotonic() + 10
        while yielding.check() != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert yielding.check() == 2
    finally:
        for drawer in drawers:
            drawer.kill()
            drawer.wait(10)


@pytest.mark.parametrize("argv, yields", [([], True), (["--threads", "2"], False)])
def test_a_cli_training_yields_a_chosen_thread_but_keeps_an_asked_one(monkeypatch, tmp_path, argv, yields):
    import torch
    monkeypatch.setattr(threads, "DRAWING_LOCK", str(tmp_path / "drawing.lock"))
    monkeypatch.setattr(cli, "choose_threads", lambda: (2, "2 thread(s): 2 of 2 cores free (load 0.0)"))
    applied = []
    monkeypatch.setattr(cli, "torch_threads", applied.append)
    before = torch.get_num_threads()
    try:
        with threads.drawing():
            assert cli.main(["train", "--epochs", "2", "--no-save", "--json", *argv]) == 0
    finally:
        torch.set_num_threads(before)
    assert applied == ([2, 1, 2] if yields else [2])
