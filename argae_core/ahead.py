"""On server start, `python -m argae_core warm` (argae_core.warm) in a lower-priority process,
and a way for a page that needs umap now to wait for it rather than compile a second copy
beside it. Apart from `warm` so that `projection` can wait without importing it (warm imports
projection to compile)."""
from __future__ import annotations

import subprocess
import sys
import threading

NICENESS = 10           # the compiling process yields to pages and trainings

_lock = threading.Lock()
_process: subprocess.Popen | None = None
_thread: threading.Thread | None = None


def start_ahead(niceness: int = NICENESS) -> threading.Thread:
    """Server start, once: `warm` in a lower-priority process. The page process itself loads
    umap only when a page first asks for a UMAP picture (`projection.warm_up`): its imports
    hold the interpreter's lock for seconds, which every page's run would feel meanwhile."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_ahead, args=(niceness,),
                                       name="umap-warm-ahead", daemon=True)
            _thread.start()
        return _thread


def _ahead(niceness: int) -> None:
    global _process
    with _lock:
        _process = subprocess.Popen([sys.executable, "-m", "argae_core", "warm", "--quiet", "--nice", str(niceness)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _process.wait()


def wait_ahead() -> None:
    """Block while the ahead-of-need compilation runs (a page that needs umap now waits for
    it rather than compile a second copy beside it)."""
    with _lock:
        process = _process
    if process is not None:
        process.wait()


def stop_ahead() -> None:
    """End the compiling process, if running (server shutdown, tests)."""
    with _lock:
        process = _process
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=10)
