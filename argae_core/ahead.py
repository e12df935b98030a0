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
import math
import os
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

NICENESS = 4            # pictures are drawn below the pages and the trainings (workers: 3)
COMPILE_NICENESS = 6    # and umap's compilation on a fresh install further below (10 in all)
LIVE_PATIENCE = 6.0     # s a live picture waits on the live process before the other draws it
NOW, FINAL, LATER, REFINE = 0, 1, 2, 3   # request priorities: a page waiting, a comparison's picture,
                                         # the rest, then the full layout of a quick one

class PictureProcess:
    """One `warm --serve` process and the thread that reads its answers (started on first
    use, again if it died)."""

    def __init__(self, name: str, extra: tuple[str, ...] = (), env: dict[str, str] | None = None):
        self.name, self.extra, self.env = name, extra, env
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.thread: threading.Thread | None = None
        self.ready = threading.Event()
        self.answers: dict[str, tuple[str, float]] = {}   # request line -> ("done" | "failed: ...", when)
        self.sent: dict[str, float] = {}   # request line -> when it was sent
        self.last_done: dict[str, float] = {}   # run id -> when (monotonic) a picture of it was last done

    def start(self, niceness: int = NICENESS, compile_niceness: int = COMPILE_NICENESS) -> threading.Thread:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self.ready.clear()
                self.sent.clear()
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "argae_core", "warm", "--serve", "--quiet", "--nice", str(niceness),
                     "--compile-nice", str(compile_niceness), *self.extra],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
                    env=None if self.env is None else {**os.environ, **self.env})
                self.thread = threading.Thread(target=self._read_answers, args=(self.process,), name=self.name,
                                               daemon=True)
                self.thread.start()
            return self.thread

    def _read_answers(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            word, _, rest = line.rstrip("\n").partition(" ")
            if word == "ready":
                self.ready.set()
            elif word in ("quick", "done", "failed"):
                request, _, message = rest.partition("\t")
                self.answers[request] = (f"failed: {message}" if word == "failed" else word, time.time())
                if word == "done":
                    run = _run_of(request)
                    if run is not None:
                        self.last_done[run] = time.monotonic()
        self.ready.set()   # it ended: nobody may wait for it forever

    def send(self, line: str, priority: int) -> bool:
        self.start()
        with self.lock:
            if line in self.sent:
                return True
            try:
                self.process.stdin.write(f"{priority}\t{line}\n")
                self.process.stdin.flush()
            except (OSError, ValueError, AttributeError) as exc:   # it died: the next call starts another
                log.warning("the %s process is gone (%s)", self.name, exc)
                return False
            self.sent[line] = time.monotonic()
            return True

    def stop(self) -> None:
        with self.lock:
            process, self.process = self.process, None
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


# The pictures ahead of need (finished runs, pages asking) and, apart, a live run's newest
# snapshot (`warm --serve --live`): below the trainings' priority and resting after each
# picture (at most a quarter of a core, as argae_core.frames' filler), so a training keeps
# its speed while a page watches it, and the page process never holds its interpreter lock
# inside umap (the in-page frame filler does). Its native thread pools (scikit-learn's
# neighbour search, BLAS, numba) run one thread each, and its rest after a picture counts the
# CPU of all its threads (warm.serve), so the quarter of a core is the whole process's: spread
# over both cores, those pools' bursts stalled a two-thread training at its barriers too
# (bench_live_umap.py, Cora ARGVA at 77-100 epochs/s alone: watched 0.67-0.97 of alone, mean
# 0.78 over 6 rounds, before; 0.70-0.88, mean 0.81 over 10 rounds, after). Both processes draw
# under threads.drawing(): meanwhile a training on this machine runs one thread fewer, so the
# picture has a core of its own instead of stalling the training's second thread (0.70-0.78
# of alone without, mean 0.91 over 14 rounds with; README, Measured).
LIVE_NICENESS = 5       # the workers' 3, + 2
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                     "NUMBA_NUM_THREADS")}
_AHEAD = PictureProcess("pictures-ahead")
_LIVE = PictureProcess("pictures-live", ("--live",), env=ONE_THREAD)


_LIVE_WAITING: dict[str, float] = {}   # run id -> when (monotonic) its page began waiting for a live picture


def _run_of(line: str) -> str | None:
    """The run id a request line asks a picture of (None for other lines)."""
    try:
        return str(json.loads(line)["key"]["run_id"])
    except (ValueError, KeyError, TypeError):
        return None


def start_ahead(niceness: int = NICENESS, compile_niceness: int = COMPILE_NICENESS) -> threading.Thread:
    """Server start, once (again if the process died): the picture process and the thread
    that reads its answers. Returns that thread."""
    return _AHEAD.start(niceness, compile_niceness)


def _line(key, root, live: bool = False) -> str:
    asked = {"key": key.to_dict(), "root": None if root is None else str(root)}
    return json.dumps(asked | {"live": True} if live else asked, sort_keys=True)


def request(key, root=None, priority: int = LATER) -> bool:
    """Ask the picture process for `key` (a pictures.PictureKey) of the run under `root`;
    once per key and process (asking again is free). False when the process is gone."""
    return _AHEAD.send(_line(key, root), priority)


def request_live(key, root=None) -> bool:
    """Ask the live picture process (started on first use) for a training run's newest
    snapshot `key`: drawn warm-started from that run's previous picture, and skipped when a
    newer snapshot of the run was asked meanwhile. When no live picture of the run has been
    drawn for LIVE_PATIENCE s (a live process starved on a busy machine, or still starting),
    the newest request goes to the picture process too, once per LIVE_PATIENCE: the first to
    draw it answers. The wait is the run's, not one request's: a training makes a new snapshot
    every second or so, so each request is new long before LIVE_PATIENCE has passed. False
    when the live process is gone."""
    line = _line(key, root)
    _LIVE.start(LIVE_NICENESS, 0)
    if not _LIVE.send(line, NOW):
        return False
    now = time.monotonic()
    with _LIVE.lock:
        since = max(_LIVE_WAITING.setdefault(key.run_id, now), _LIVE.last_done.get(key.run_id, -math.inf))
        late = now - since >= LIVE_PATIENCE and line not in _LIVE.answers
        if late:
            _LIVE_WAITING[key.run_id] = now   # the next hand-over after another LIVE_PATIENCE
    if late:
        _AHEAD.send(_line(key, root, live=True), NOW)
    return True


def run_ended(job, root=None) -> bool:
    """A JobManager done hook: the pictures of `job`'s run worth drawing before anyone asks
    (pictures.keys_ahead: its scored Z for a comparison's run, its newest snapshot)."""
    run = {"run_id": job.run_id, "group": job.group, "seed": int(job.config.seed)}
    return _AHEAD.send(json.dumps({"run": run, "root": None if root is None else str(root)}, sort_keys=True), FINAL)


def asked(key, root=None) -> bool:
    """Whether `key` was asked of the running picture process."""
    with _AHEAD.lock:
        return _line(key, root) in _AHEAD.sent


def answer(key, root=None, live: bool = False) -> str | None:
    """"quick" (a short layout is on disk), "done", "failed: <why>" or None (not answered
    yet) for a request (with `live`, the live request's: either process's answer)."""
    if live:
        found = _LIVE.answers.get(_line(key, root)) or _AHEAD.answers.get(_line(key, root, live=True))
    else:
        found = _AHEAD.answers.get(_line(key, root))
    return found[0] if found else None


def is_ready() -> bool:
    return _AHEAD.ready.is_set()


def live_ready() -> bool:
    """Whether the live picture process runs and has umap loaded (False before its first use)."""
    return _LIVE.process is not None and _LIVE.ready.is_set() and _LIVE.process.poll() is None


def wait_ahead(timeout: float | None = None) -> None:
    """Block while the picture process compiles umap (a page that needs umap now waits for
    it rather than compile a second copy beside it); returns at once if none was started."""
    with _AHEAD.lock:
        started = _AHEAD.process is not None
    if started:
        _AHEAD.ready.wait(timeout)


def stop_ahead() -> None:
    """End the picture processes, if running (server shutdown, tests)."""
    _AHEAD.stop()
    _LIVE.stop()
