"""umap compiled ahead of need, so the first UMAP picture does not wait for numba.

umap-learn and pynndescent compile their numba code on first use: on a fresh install about
30 s of CPU on this machine (16 s of it in `import umap`), and pages asked for a picture
waited that long. `projection` switches numba's disk cache on for umap's functions, so the
compilation can be paid once, out of the way:

    python -m argae_core warm            # once at install time (the README's command)
    start_ahead()                        # on server start: the same in a lower-priority
                                         # process; a page that needs umap then loads it from
                                         # the disk cache in its own process (about 3 s)

numba's disk cache lives in NUMBA_CACHE_DIR when set, else beside the packages (umap's and
pynndescent's __pycache__) or in the user's cache folder; an empty NUMBA_CACHE_DIR is a fresh
install (benchmarks/bench_projection.py measures it so). Light on import: no torch, no umap.
"""
from __future__ import annotations

import argparse
import os
import time

from .ahead import NICENESS, start_ahead, stop_ahead, wait_ahead  # noqa: F401  (the server's side of it)
from .threads import lower_priority


def main(argv: list[str] | None = None) -> int:
    """`python -m argae_core warm [--nice N]`: compile umap into numba's disk cache."""
    parser = argparse.ArgumentParser(prog="python -m argae_core warm",
                                     description="Compile umap's code into numba's disk cache, so "
                                                 "the dashboard's first UMAP picture takes seconds.")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority by N [0]")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    lower_priority(args.nice)
    started = time.perf_counter()
    from . import projection
    projection.warm_up(background=False)
    if not args.quiet:
        print(f"umap compiled and cached in {time.perf_counter() - started:.1f} s "
              f"(numba cache: {os.environ.get('NUMBA_CACHE_DIR') or 'beside the packages'})")
    return 0

