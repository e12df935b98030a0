"""Helpers shared by the AppTest page tests: open a page, rerun until, find a button, save a run."""
from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("ARGAE_EXECUTOR", "thread")  # trainings in the test process: no worker spawn

from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(page: str, query: dict | None = None) -> AppTest:
    """The app with `query` in its URL, switched to `page`, rendered without an exception."""
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run_until(at: AppTest, done, timeout: float = 120.0, *, pause: float = 0.3, describe=None) -> AppTest:
    """Rerun the script (as the live fragment would) until `done(at)` or the timeout;
    `describe(at)` adds what the page says to the failure message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if done(at):
            return at
        time.sleep(pause)
    said = f"; the page says: {describe(at)}" if describe else ""
    raise AssertionError(f"condition not reached in {timeout} s{said}")


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def save_run(config, root=None, source: str = "test") -> str:
    """Train `config` to the end through the run writer; the saved run's id."""
    from argae_core import runs
    from argae_core.training import Trainer
    trainer = Trainer(config)
    writer = runs.RunWriter(config, trainer.graph, root=root, source=source)
    for _ in runs.record_run(trainer, writer):
        pass
    return writer.run_id
