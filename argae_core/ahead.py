"""The warm picture process: on server start, `python -m argae_core warm --serve` in a
lower-priority process. It compiles umap into numba's disk cache (or loads it), says `ready`,
then stays up and draws UMAP pictures asked for on its stdin (argae_core.pictures: written
beside the run, which the pages read). The page process itself never waits on umap's import
or a frame's 2 s of CPU for these pictures, and a page that needs umap in its own process
(the Latent page's frame filler) waits for `ready` rather than compile a second copy.

Apart from `warm` so that `projection` can wait without importing it (warm imports
projection to compile). Light on import: no torch, no umap."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

NICENESS = 4            # pictures are drawn below the pages and the trainings (workers: 3)
COMPILE_NICENESS = 6    # and umap's compilation on a fresh install further below (10 in all)
NOW, FINAL, LATER, REFINE = 0, 1, 2, 3   # request priorities: a page waiting, a comparison's picture,
                                         # the rest, then the full layout of a quick one

_lock = threading.Lock()
_process: subprocess.Popen | None = None
_thread: threading.Thread | None = None
_ready = threading.Event()
_answers: dict[str, tuple[str, float]] = {}   # request line -> ("done" | "failed: ...", when)
_sent: set[str] = set()


def start_ahead(niceness: int = NICENESS, compile_niceness: int = COMPILE_NICENESS) -> threading.Thread:
    """Server start, once (again if the process died): the picture process and the thread
    that reads its answers. Returns that thread."""
    global _process, _thread
    with _lock:
        if _process is None or _process.poll() is not None:
            _ready.clear()
            _sent.clear()
            _process = subprocess.Popen(
                [sys.executable, "-m", "argae_core", "warm", "--serve", "--quiet", "--nice", str(niceness),
                 "--compile-nice", str(compile_niceness)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
            _thread = threading.Thread(target=_read_answers, args=(_process,), name="pictures-ahead", daemon=True)
            _thread.start()
        return _thread


def _read_answers(process: subprocess.Popen) -> None:
    for line in process.stdout:
        word, _, rest = line.rstrip("\n").partition(" ")
        if word == "ready":
            _ready.set()
        elif word in ("quick", "done", "failed"):
            request, _, message = rest.partition("\t")
            _answers[request] = (f"failed: {message}" if word == "failed" else word, time.time())
    _ready.set()   # it ended: nobody may wait for it forever


def _line(key, root) -> str:
    return json.dumps({"key": key.to_dict(), "root": None if root is None else str(root)}, sort_keys=True)


def request(key, root=None, priority: int = LATER) -> bool:
    """Ask the picture process for `key` (a pictures.PictureKey) of the run under `root`;
    once per key and process (asking again is free). False when the process is gone."""
    return _send(_line(key, root), priority)


def run_ended(job, root=None) -> bool:
    """A JobManager done hook: the pictures of `job`'s run worth drawing before anyone asks
    (pictures.keys_ahead: its scored Z for a comparison's run, its newest snapshot)."""
    run = {"run_id": job.run_id, "group": job.group, "seed": int(job.config.seed)}
    return _send(json.dumps({"run": run, "root": None if root is None else str(root)}, sort_keys=True), FINAL)


def _send(line: str, priority: int) -> bool:
    start_ahead()
    with _lock:
        if line in _sent:
            return True
        try:
            _process.stdin.write(f"{priority}\t{line}\n")
            _process.stdin.flush()
        except (OSError, ValueError, AttributeError) as exc:   # it died: the next call starts another
            log.warning("the picture process is gone (%s)", exc)
            return False
        _sent.add(line)
        return True


def asked(key, root=None) -> bool:
    """Whether `key` was asked of the running picture process."""
    with _lock:
        return _line(key, root) in _sent


def answer(key, root=None) -> str | None:
    """"quick" (a short layout is on disk), "done", "failed: <why>" or None (not answered
    yet) for a request."""
    found = _answers.get(_line(key, root))
    return found[0] if found else None


def is_ready() -> bool:
    return _ready.is_set()


def wait_ahead(timeout: float | None = None) -> None:
    """Block while the picture process compiles umap (a page that needs umap now waits for
    it rather than compile a second copy beside it); returns at once if none was started."""
    with _lock:
        started = _process is not None
    if started:
        _ready.wait(timeout)


def stop_ahead() -> None:
    """End the picture process, if running (server shutdown, tests)."""
    global _process
    with _lock:
        process, _process = _process, None
    if process is not None and process.poll() is None:
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)
