"""Shared test setup: where data comes from, where tests may write, markers, Cora gate.

The environment is set at import time, before any test module imports `argae_core`:
- ARGAE_DATA_DIR -> ../shared/datasets when it exists (Cora's raw files live there), unless
  the caller already set it;
- ARGAE_CACHE_DIR and ARGAE_RUNS_DIR -> one temporary folder per test session, so tests never
  write into the repository, while all tests of a session share one processed copy of Cora.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO_DIR.parent / "shared" / "datasets"
CORA_RAW_FILES = [f"ind.cora.{suffix}"
                  for suffix in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")]

if "ARGAE_DATA_DIR" not in os.environ and SHARED_DATASETS.is_dir():
    os.environ["ARGAE_DATA_DIR"] = str(SHARED_DATASETS)
SESSION_DIR = Path(tempfile.mkdtemp(prefix="argae-tests-"))
os.environ["ARGAE_CACHE_DIR"] = str(SESSION_DIR / "cache")
os.environ["ARGAE_RUNS_DIR"] = str(SESSION_DIR / "runs")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains on a real dataset for a while (runs by default)")
    config.addinivalue_line("markers", "browser: drives the app in headless Chromium")


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


def cora_raw_dir() -> Path:
    return Path(os.environ.get("ARGAE_DATA_DIR", REPO_DIR / "data")) / "Planetoid" / "Cora" / "raw"


@pytest.fixture
def cora_available() -> Path:
    """Cora's raw folder; skips the test when the files are missing, but fails under CI
    (env CI set), where a missing dataset means a broken setup, not an optional extra."""
    raw = cora_raw_dir()
    missing = [f for f in CORA_RAW_FILES if not (raw / f).is_file()]
    if missing:
        reason = f"Cora raw files missing in {raw}: {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is an error)")
        pytest.skip(reason)
    return raw


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: small graphs train faster so, and far faster when other
    work shares the CPU (use it with `pytestmark = pytest.mark.usefixtures("one_thread")`)."""
    import torch  # here: collecting the tests needs no torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
