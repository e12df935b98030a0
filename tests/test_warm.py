"""`python -m argae_core warm` fills numba's disk cache with umap's compiled code (issue 16:
the first UMAP picture of a fresh install then takes seconds), without importing torch."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_the_warm_command_imports_no_torch():
    script = "import sys, argae_core.warm; print('torch' in sys.modules or 'umap' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_warm_is_listed_by_the_cli_help():
    done = subprocess.run([sys.executable, "-m", "argae_core", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert "warm" in done.stdout and done.returncode == 0
