"""Waiting in tests for something a background thread or process does."""
from __future__ import annotations

import time


def wait(predicate, timeout: float = 60.0) -> None:
    """Return once `predicate()` is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)
