"""umap compiled ahead of need, so the first UMAP picture does not wait for numba.

umap-learn and pynndescent compile their numba code on first use: on a fresh install about
30 s of CPU on this machine (16 s of it in `import umap`), and pages asked for a picture
waited that long. `projection` switches numba's disk cache on for umap's functions, so the
compilation can be paid once, out of the way:

    python -m argae_core warm            # once at install time (the README's command)
    start_ahead()                        # on server start: `warm --serve` in a lower-priority
                                         # process that then stays up and draws the pictures
                                         # asked for ahead of need (argae_core.pictures)

numba's disk cache lives in NUMBA_CACHE_DIR when set, else beside the packages (umap's and
pynndescent's __pycache__) or in the user's cache folder; an empty NUMBA_CACHE_DIR is a fresh
install (benchmarks/bench_projection.py measures it so). Light on import: no torch, no umap.

The pictures are computed where ARGAE_PROJECTION_DEVICE says (argae_core/projection_device.py;
unset: auto, the GPU where torch sees one): the server's picture processes inherit it. A value
that cannot be used is said once on stderr (`warm` alone exits with 2) and in each failed answer.
"""
from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import sys
import threading
import time

from .ahead import FINAL, LATER, NICENESS, REFINE, start_ahead, stop_ahead, wait_ahead  # noqa: F401  (the server's side)
from .frames import CPU_SHARE, MAX_REST
from .threads import drawing, lower_priority


def main(argv: list[str] | None = None) -> int:
    """`python -m argae_core warm [--nice N]`: compile umap into numba's disk cache."""
    parser = argparse.ArgumentParser(prog="python -m argae_core warm",
                                     description="Compile umap's code into numba's disk cache, so "
                                                 "the dashboard's first UMAP picture takes seconds.")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority by N [0]")
    parser.add_argument("--compile-nice", type=int, default=0,
                        help="lower the compiling thread's priority by N more [0]: with --serve, "
                             "pictures are drawn at --nice, the compilation below it")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--serve", action="store_true",
                        help="then stay up: draw the pictures asked for on stdin (argae_core.ahead)")
    parser.add_argument("--live", action="store_true",
                        help="with --serve: a live run's pictures, each newest snapshot warm-started from the "
                             "one before, resting after each so that it takes at most a quarter of a core")
    args = parser.parse_args(argv)
    lower_priority(args.nice)
    started = time.perf_counter()

    refused: list[str] = []

    def compile_umap() -> None:
        lower_priority(args.compile_nice, this_thread=True)   # Linux keeps a niceness per thread
        from . import projection   # its imports (scikit-learn, scipy) at that priority too
        try:
            projection.warm_up(background=False)
        except projection.projection_device.ProjectionDeviceError as exc:   # ARGAE_PROJECTION_DEVICE
            refused.append(str(exc))
    compiling = threading.Thread(target=compile_umap, name="compile")
    compiling.start()
    compiling.join()
    if refused:
        print(f"warm: {refused[0]}", file=sys.stderr, flush=True)
        if not args.serve:
            return 2
    elif not args.quiet:
        print(f"umap compiled and cached in {time.perf_counter() - started:.1f} s "
              f"(numba cache: {os.environ.get('NUMBA_CACHE_DIR') or 'beside the packages'}; "
              f"projection device: {os.environ.get('ARGAE_PROJECTION_DEVICE') or 'auto'})")
    if args.serve:
        serve(sys.stdin, sys.stdout, live=args.live)
    return 0


def serve(requests, answers, live: bool = False) -> None:
    """Say `ready`, then draw the pictures asked for, one at a time, most urgent first (lines
    `<priority>\t{"key": PictureKey dict, "root": runs root or null}`; a lower priority
    number goes first, then the oldest), answering `done <request>` or `failed <request>\t<why>`,
    until `requests` ends (the server went away). A UMAP picture not on disk yet is drawn
    first with a short layout (pictures.QUICK_LAYOUT_EPOCHS, `quick <request>`), and the full
    one after every quick one asked for: Compare's 4 pictures turn UMAP in a few seconds, and
    the Latent page's first picture of each run is there soon after.
    `{"run": {"run_id", "group", "seed"}}` asks for the pictures of a run that ended.
    `live`: a training run's newest snapshots; one superseded by a newer snapshot of its run
    asked meanwhile is skipped, and each picture starts from the run's previous one (quick or
    not; the first is a quick layout), as the Latent page's own live frames did. A request
    with `"live": true` is served so by any picture process (ahead.request_live's fallback)."""
    from . import pictures, runs
    print("ready", file=answers, flush=True)
    waiting: list[tuple[int, int, str]] = []
    order = itertools.count()   # among equal priorities, first asked first drawn
    arrived = threading.Condition()
    ended = threading.Event()

    def read() -> None:
        for line in requests:
            priority, _, request = line.rstrip("\n").partition("\t")
            with arrived:
                try:
                    heapq.heappush(waiting, (int(priority), next(order), request))
                except ValueError:
                    print(f"failed {line.strip()}\tnot a request", file=answers, flush=True)
                arrived.notify()
        with arrived:
            ended.set()
            arrived.notify()

    threading.Thread(target=read, name="requests", daemon=True).start()
    drawn: set[str] = set()
    while True:
        with arrived:
            while not waiting and not ended.is_set():
                arrived.wait()
            if not waiting:
                return
            priority, _, request = heapq.heappop(waiting)
        if request in drawn:
            continue
        try:
            asked = json.loads(request)
            if "run" in asked:   # a training ended: its pictures worth drawing ahead
                run = asked["run"]
                for key in pictures.keys_ahead(run["run_id"], run.get("group"), int(run.get("seed", 0)),
                                               asked.get("root")):
                    line = json.dumps({"key": key.to_dict(), "root": asked.get("root")}, sort_keys=True)
                    with arrived:
                        heapq.heappush(waiting, (FINAL if key.kind == pictures.FINAL else LATER, next(order), line))
            else:
                key, root = pictures.PictureKey.from_dict(asked["key"]), asked.get("root")
                if live or asked.get("live"):
                    with arrived:
                        newer = any(_supersedes(line, key) for _, _, line in waiting)
                    if newer:
                        print(f"failed {request}\tskipped: a newer snapshot was asked", file=answers, flush=True)
                        continue
                    cpu = time.process_time()   # all its threads: the numeric libraries' too
                    with drawing():
                        if pictures.neighbour(key, root, quick_ok=True) is None:
                            pictures.draw(key, root, layout_epochs=pictures.QUICK_LAYOUT_EPOCHS)
                        else:
                            pictures.draw(key, root, start_from_quick=True)
                    drawn.add(request)
                    print(f"done {request}", file=answers, flush=True)
                    # the live process: at most CPU_SHARE of a core, as the page's frame filler (the
                    # training keeps the rest); the main one serving it as a fallback goes straight on
                    # to the next page's request
                    if live:
                        time.sleep(min(MAX_REST, (time.process_time() - cpu) * (1 / CPU_SHARE - 1)))
                    continue
                entry = pictures.load_entry(key, root)
                if entry is None and key.method == "umap" and pictures.neighbour(key, root) is None:
                    # a quick layout first, the full one later (a neighbour's warm start is quick already)
                    with drawing():
                        pictures.draw(key, root, layout_epochs=pictures.QUICK_LAYOUT_EPOCHS)
                    print(f"quick {request}", file=answers, flush=True)
                    with arrived:
                        heapq.heappush(waiting, (max(priority, REFINE), next(order), request))
                    continue
                with drawing():
                    pictures.draw(key, root)
        except (runs.RunError, ValueError, KeyError, TypeError, OSError) as exc:
            print(f"failed {request}\t{exc}", file=answers, flush=True)
        except Exception as exc:  # anything else from umap: say so, keep serving
            print(f"failed {request}\tthe projection failed ({type(exc).__name__}: {exc})", file=answers, flush=True)
        else:
            drawn.add(request)
            print(f"done {request}", file=answers, flush=True)


def _supersedes(line: str, key) -> bool:
    """Whether request `line` asks for a later snapshot of `key`'s run, seed and cap."""
    try:
        other = json.loads(line)["key"]
    except (ValueError, KeyError, TypeError):
        return False
    return (other.get("run_id") == key.run_id and other.get("kind") == key.kind
            and int(other.get("seed", 0)) == key.seed and int(other.get("cap", key.cap)) == key.cap
            and int(other.get("epoch", -1)) > key.epoch)
