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
    assert choose_threads() == (3, "3 thread(s): 3 of 4 cores free (load 1.2)")


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
