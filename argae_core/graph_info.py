"""A graph's summary (name, nodes, edges, features, classes, notes) without importing torch.

Loading a graph needs torch and PyTorch Geometric, whose first import takes 5-25 s on a
freshly started server. The Train page only shows a graph's numbers and its notes, so it
asks this helper: a summary comes from one small spawned process (below the pages in CPU
priority) that imports the engine once and loads graphs there. The page process stays
torch-free, draws at once, and adds the caption when the answer comes.

    SummaryService.get(config) -> ("ready", summary) | ("error", message) | ("pending", None)
"""
from __future__ import annotations

import concurrent.futures as futures
import multiprocessing as mp
import threading

from .config import FIELDS, ConfigError, TrainConfig
from .threads import lower_priority

NICENESS = 5   # below the page process: its answers are seconds of work, a page's run is not


def data_part(config: TrainConfig) -> TrainConfig:
    """The settings a config's graph depends on (the rest at their defaults): the key of
    its graph in every cache."""
    return TrainConfig(**{k: v for k, v in config.to_dict().items()
                          if FIELDS[k].metadata["group"] in ("data", "planted")
                          or (k == "seed" and config.dataset == "planted")})


def _start_worker() -> None:
    lower_priority(NICENESS)
    from . import data  # noqa: F401  (the slow import, once, before the first question)


def summarise(config_json: str) -> tuple[str, dict | str]:
    """In the helper process: ("ready", summary) or ("error", a message for the user)."""
    from .data import DatasetUnavailable, load_graph, summary
    try:
        return "ready", summary(load_graph(TrainConfig.from_json(config_json)))
    except (DatasetUnavailable, ConfigError, ValueError) as exc:
        return "error", str(exc)
    except Exception as exc:  # anything else: a message, never a traceback on a page
        return "error", f"The graph could not be read ({type(exc).__name__}: {exc})."


class SummaryService:
    """Summaries computed once per data setting in one helper process; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pool: futures.ProcessPoolExecutor | None = None
        self._answers: dict[str, futures.Future] = {}

    def start(self) -> None:
        """Start the helper now (its engine import then overlaps the first page's run)."""
        with self._lock:
            self._ensure_pool()

    def _ensure_pool(self) -> futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = futures.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"),
                                                     initializer=_start_worker)
        return self._pool

    def get(self, config: TrainConfig) -> tuple[str, dict | str | None]:
        key = data_part(config).to_json()
        with self._lock:
            answer = self._answers.get(key)
            if answer is None:
                from .jobs.executors import _plain_main_module  # spawning under Streamlit: see there
                with _plain_main_module():   # the pool spawns its process on the first submit
                    answer = self._answers[key] = self._ensure_pool().submit(summarise, key)
        if not answer.done():
            return "pending", None
        try:
            return answer.result()
        except futures.process.BrokenProcessPool:  # the helper died (memory?): ask again next time
            with self._lock:
                self._answers.pop(key, None)
                self._pool = None
            return "error", "The process reading graphs stopped; reload the page to try again."

    def wait(self, config: TrainConfig, timeout: float | None = None) -> tuple[str, dict | str | None]:
        """`get`, blocking until the answer is there (tests, scripts)."""
        self.get(config)
        with self._lock:
            answer = self._answers[data_part(config).to_json()]
        futures.wait([answer], timeout=timeout)
        return self.get(config)

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
