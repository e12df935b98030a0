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
