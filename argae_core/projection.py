"""2-D (or 3-D) pictures of the latent cloud Z together with samples of the N(0, I) prior.

Both clouds are projected jointly (one fit on the stacked array), so a distance on screen
means the same thing inside Z, inside the prior and between them. Two methods:

- PCA (scikit-learn): instant, linear, the picture shown first.
- UMAP (umap-learn): the neighbourhood picture. Choices, each measured on Cora Z on this
  2-core machine under load from other work (benchmarks/bench_projection.py prints them):
  * The 15-nearest-neighbour graph is computed exactly by scikit-learn and handed to UMAP
    (`precomputed_knn`). That skips pynndescent, whose JIT compilation was most of umap's
    first-call cost (about 70 of 85 s), and gives one code path for every size, so a tiny
    warm-up fit compiles everything a Cora-sized frame needs.
  * A fixed `random_state` makes a frame a function of (Z, prior, seed): reproducible and
    cacheable. umap then runs its layout on one thread; on this 2-core shared machine the
    threaded layout was slower anyway (2.8 s against 1.7 s per frame).
  * Stable frames: a frame starts from the previous frame's layout with fewer layout epochs
    and a lower learning rate (a learning rate of 1 throws the good start away), then is
    aligned onto it by an orthogonal Procrustes fit (rotation, reflection, scale, shift:
    the transforms a UMAP picture does not define). Motion on screen is then change in Z.
    AlignedUMAP was not used: it needs every snapshot up front and refits all of them when
    a new one arrives, while a live run adds snapshots one by one.
  * numba's disk cache is switched on for umap's compiled functions (umap does not ask for
    it), so only the first process on a machine pays the compilation; later processes load
    it in well under a second.

On a GPU (projection_device.py: `device`, auto by default, or ARGAE_PROJECTION_DEVICE) the
neighbour graph is computed exactly with torch on the GPU, UMAP's layout by RAPIDS cuML when it
is installed (else umap-learn's on the CPU, from that graph), and PCA, when the GPU is named,
with torch there. Each frame says what computed it (`Projection.backend`). Never run on a GPU here.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
# metrics first: it imports scikit-learn, whose package imports itself in a cycle
# (sklearn/__init__ <-> sklearn.base). This module is imported by the server's warm-up thread
# while a page's thread imports metrics; both entering sklearn at once left one of them with a
# partially initialised sklearn.base (ImportError, seen once under load). Through metrics, the
# module lock of argae_core.metrics lets one thread import scikit-learn while the other waits.
from . import metrics  # noqa: I001
from . import projection_device
from scipy import stats
from scipy.linalg import orthogonal_procrustes
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

log = logging.getLogger(__name__)

METHODS = ("umap", "pca")
COMPONENTS = (2, 3)          # a flat picture, or one to turn (every frame is one or the other)
DEFAULT_CAP = 5000           # points per cloud; larger clouds are projected as a seeded subsample
UMAP_NEIGHBORS = 15          # umap's default
UMAP_MIN_POINTS = 4          # umap's spectral start fails below this many points
# Layout settings measured on Cora Z snapshots (5,416 points, 15-NN preservation on screen):
COLD_LAYOUT_EPOCHS = 200     # 0.251, against 0.260 at umap's default 500 for 2.5x the time
WARM_LAYOUT_EPOCHS = 30      # from the previous frame at lr 0.1: 0.244, a 2%-noised Z moves
WARM_LEARNING_RATE = 0.1     # 0.08 radii (cold + aligned: 0.43); at lr 1: 0.182 and 0.16
QUICK_LAYOUT_EPOCHS = 60     # a first picture in a third of the time (Cora ARGVA Z, 15-NN kept / CPU s:
                             # 50 epochs 0.189 / 0.62, 100 0.214 / 1.10, 200 0.238 / 2.29)
# What computed a frame (Projection.backend); the torch ones name the device (cuda, cpu)
SKLEARN_PCA = "scikit-learn PCA (CPU)"
TORCH_PCA = "torch PCA on {device}"
UMAP_LEARN = "umap-learn (CPU)"
TORCH_KNN_UMAP_LEARN = "kNN on {device} (torch) + umap-learn layout (CPU)"
CUML = "cuML (GPU; kNN on {device} by torch)"
CPU_BACKENDS = ("", SKLEARN_PCA, UMAP_LEARN)   # the CPU path's (and unknown): pages name only the others
CURVE_MMD_SAMPLE = 500       # points per cloud for the MMD curve: Cora Z 14 ms, against 100 ms at 1000
                             # (0.128 against 0.129; the final metrics use metrics.MMD_SAMPLE)


@dataclass(frozen=True, eq=False)
class Projection:
    """One 2-D or 3-D frame: rows of `z_xy` are the Z rows `z_index` (all rows when None),
    rows of `prior_xy` the prior rows `prior_index`; a column per picture axis."""
    z_xy: np.ndarray
    prior_xy: np.ndarray
    z_index: np.ndarray | None
    prior_index: np.ndarray | None
    method: str
    warm_started: bool = False   # UMAP started from a previous frame
    seconds: float = 0.0
    backend: str = ""            # what computed it (SKLEARN_PCA, UMAP_LEARN, CUML, ...); "" unknown

    @property
    def xy(self) -> np.ndarray:
        """Both clouds stacked, Z first: the layout a next frame starts from."""
        return np.vstack([self.z_xy, self.prior_xy])

    @property
    def components(self) -> int:
        """2 or 3: the picture's axes."""
        return self.z_xy.shape[1]

    @property
    def subsampled(self) -> bool:
        return self.z_index is not None or self.prior_index is not None


# ------------------------------------------------------------------- inputs
def prior_samples(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """`n` seeded samples of N(0, I) in `dim` dimensions, float32 like Z."""
    if n < 0 or dim < 1:
        raise ValueError(f"prior_samples needs n >= 0 and dim >= 1, got n={n}, dim={dim}")
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def subsample(n: int, cap: int = DEFAULT_CAP, seed: int = 0) -> np.ndarray | None:
    """Sorted seeded row indices, `cap` of `n`; None when all `n` rows fit under the cap."""
    if cap < 1:
        raise ValueError(f"the subsample cap must be at least 1, got {cap}")
    if n <= cap:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


DIVERGED_HINT = "; the run probably diverged at this epoch: pick an earlier one"


def _checked(name: str, values: np.ndarray, hint: str = "") -> np.ndarray:
    """`values` as a float32 [rows, dim] array, or a ValueError that says what is wrong."""
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty [rows, dimensions] array, got shape "
                         f"{array.shape}")
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if len(bad_rows):
        raise ValueError(f"{name} has NaN or infinite values in {len(bad_rows)} of "
                         f"{len(array)} rows (first: row {bad_rows[0]}){hint}")
    return array


def _take(array: np.ndarray, index: np.ndarray | None) -> np.ndarray:
    return array if index is None else array[index]


# --------------------------------------------------------------- projection
def project(z: np.ndarray, prior: np.ndarray, method: str = "umap",
            init: Projection | np.ndarray | None = None, seed: int = 0,
            n_epochs: int | None = None, cap: int = DEFAULT_CAP,
            learning_rate: float | None = None, components: int = 2,
            device: str | None = None) -> Projection:
    """Project Z and prior samples jointly to `components` (2 or 3) dimensions.

    `init` is the previous frame (a `Projection`, or its stacked `xy`): UMAP starts from
    it, and either method's result is aligned onto it, so successive frames stay put.
    Its rows must be the same points (same sizes and `cap`, hence the same subsample).
    `n_epochs` / `learning_rate` default to the cold or warm-start settings above.
    `device`: auto, cpu, cuda or torch-cpu (projection_device.py); None: ARGAE_PROJECTION_DEVICE,
    else auto. ProjectionDeviceError (a ValueError) when it is unknown or not on this machine."""
    _check_choice(method, components)
    target = projection_device.resolve(device, method)
    z, prior = _checked("Z", z, DIVERGED_HINT), _checked("the prior sample", prior)
    if z.shape[1] != prior.shape[1]:
        raise ValueError(f"Z has {z.shape[1]} dimensions but the prior sample has "
                         f"{prior.shape[1]}: draw the prior in the latent size")
    start = time.perf_counter()
    z_index, prior_index = subsample(len(z), cap, seed), subsample(len(prior), cap, seed)
    points = np.vstack([_take(z, z_index), _take(prior, prior_index)])
    previous = _previous_layout(init, len(points), components)
    if method == "pca":
        xy, backend = _pca(points, components, target)
    else:
        xy, backend = _umap(points, previous, seed, n_epochs, learning_rate, components, target)
    if previous is not None:
        xy = align(xy, previous)
    n_z = len(z) if z_index is None else len(z_index)
    return Projection(z_xy=xy[:n_z], prior_xy=xy[n_z:], z_index=z_index, prior_index=prior_index,
                      method=method, warm_started=method == "umap" and previous is not None,
                      seconds=time.perf_counter() - start, backend=backend)


def _check_choice(method: str, components: int) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown projection method {method!r}; choose one of {', '.join(METHODS)}")
    if components not in COMPONENTS:
        raise ValueError(f"a picture has 2 or 3 dimensions, got {components!r}")


def _previous_layout(init: Projection | np.ndarray | None, rows: int, components: int = 2) -> np.ndarray | None:
    if init is None:
        return None
    layout = init.xy if isinstance(init, Projection) else np.asarray(init, dtype=np.float32)
    if layout.shape != (rows, components):
        raise ValueError(f"the previous frame has shape {layout.shape} but this frame projects "
                         f"{rows} points to {components}-D: frames of one sequence need the same Z "
                         "size, prior size, cap and number of dimensions")
    return layout


def _pca(points: np.ndarray, components: int = 2,
         target: projection_device.Target = projection_device.CPU) -> tuple[np.ndarray, str]:
    """(First two (or three) principal components, what computed them); a latent size below
    that gives zeros in the missing axes. The solver works on the small dim x dim covariance:
    under CPU contention a full SVD of the stacked cloud took 0.2-0.9 s (threaded BLAS waiting
    for cores), this takes ~5 ms. On a torch device the same covariance's eigh runs there."""
    kept = min(components, points.shape[1])
    if target.uses_torch:
        xy = projection_device.pca(points, kept, target.torch_device)
        backend = TORCH_PCA.format(device=target.torch_device)
    else:
        xy = PCA(n_components=kept, svd_solver="covariance_eigh").fit_transform(points)
        backend = SKLEARN_PCA
    if kept < components:
        xy = np.hstack([xy, np.zeros((len(xy), components - kept), dtype=xy.dtype)])
    return xy.astype(np.float32), backend


def _umap(points: np.ndarray, previous: np.ndarray | None, seed: int,
          n_epochs: int | None, learning_rate: float | None, components: int = 2,
          target: projection_device.Target = projection_device.CPU) -> tuple[np.ndarray, str]:
    """(The layout, what computed it): the exact neighbour graph (scikit-learn, or torch on
    the target's device), then the layout by umap-learn, or by cuML on a GPU where installed."""
    if len(points) < UMAP_MIN_POINTS:
        raise ValueError(f"UMAP needs at least {UMAP_MIN_POINTS} points (Z and prior together), "
                         f"got {len(points)}: use PCA")
    neighbors = min(UMAP_NEIGHBORS, len(points))
    if target.uses_torch:
        indices, distances = projection_device.knn(points, neighbors, target.torch_device)
    else:
        distances, indices = NearestNeighbors(n_neighbors=neighbors).fit(points).kneighbors(points)
        indices, distances = indices.astype(np.int32), distances.astype(np.float32)
    warm = previous is not None
    settings = dict(n_neighbors=neighbors, n_components=components, random_state=seed,
                    n_epochs=n_epochs or (WARM_LAYOUT_EPOCHS if warm else COLD_LAYOUT_EPOCHS),
                    learning_rate=learning_rate or (WARM_LEARNING_RATE if warm else 1.0),
                    init=previous if warm else "spectral")
    cuml_umap = _cuml_umap() if target.gpu else None
    if cuml_umap is not None:
        try:
            reducer = cuml_umap(**settings, precomputed_knn=(indices, distances), output_type="numpy")
            xy = np.asarray(reducer.fit_transform(points), dtype=np.float32)
            if xy.shape != (len(points), components) or not np.isfinite(xy).all():
                raise ValueError(f"a layout of shape {xy.shape} with finite values: {np.isfinite(xy).all()}")
        except Exception as exc:   # a cuML that does not take these arguments, a GPU out of memory
            log.warning("cuML's UMAP failed (%s: %s); umap-learn lays this frame out on the CPU",
                        type(exc).__name__, exc)
        else:
            _warm.set()
            return xy, CUML.format(device=target.torch_device)
    umap = _umap_module()
    reducer = umap.UMAP(**settings, n_jobs=1, precomputed_knn=(indices, distances, None))
    xy = reducer.fit_transform(points).astype(np.float32)
    _warm.set()
    return xy, (TORCH_KNN_UMAP_LEARN.format(device=target.torch_device) if target.uses_torch else UMAP_LEARN)


_cuml_broken: list[str] = []   # a cuML whose import failed once: not tried again in this process


def _cuml_umap():
    """RAPIDS cuML's UMAP class when cuML is importable, else None (checked without importing
    it when it is not installed; a failed import is logged once)."""
    module = sys.modules.get("cuml.manifold")
    if module is None:
        if _cuml_broken or "cuml" not in sys.modules and importlib.util.find_spec("cuml") is None:
            return None
        try:
            module = importlib.import_module("cuml.manifold")
        except Exception as exc:   # a broken install: CUDA libraries missing, a version clash
            _cuml_broken.append(f"{type(exc).__name__}: {exc}")
            log.warning("cuML is installed but does not import (%s); UMAP's layout runs on the CPU",
                        _cuml_broken[0])
            return None
    return getattr(module, "UMAP", None)


def align(current: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`current` rotated / reflected, scaled and shifted onto `reference` (orthogonal
    Procrustes), in the reference's coordinates so the axes stay put between frames."""
    current_mean, reference_mean = current.mean(axis=0), reference.mean(axis=0)
    centred = current.astype(np.float64) - current_mean
    rotation, singular_sum = orthogonal_procrustes(centred, reference - reference_mean)
    spread = float((centred ** 2).sum())
    scale = singular_sum / spread if spread > 0 else 1.0
    return (scale * centred @ rotation + reference_mean).astype(np.float32)


# ------------------------------------------------------------------ sequences
class Projector:
    """The frames of one run for one method and number of dimensions (a 2-D and a 3-D
    picture are two projectors, so neither overwrites the other's frames): each frame starts
    from, and is aligned onto, the frame of the nearest earlier epoch already computed. Feed
    epochs in order (`update` does); the page keeps one per run and calls `update` as
    snapshots arrive. `device`: project()'s, for every frame. Thread-safe."""

    def __init__(self, method: str = "umap", seed: int = 0, cap: int = DEFAULT_CAP, components: int = 2,
                 device: str | None = None):
        _check_choice(method, components)
        self.method, self.seed, self.cap, self.components = method, seed, cap, components
        self.device = device
        self.frames: dict[int, Projection] = {}
        self._prior: np.ndarray | None = None
        self._lock = threading.Lock()

    def prior(self, rows: int, dim: int) -> np.ndarray:
        """The run's prior sample: one draw, the same for every epoch, so only Z moves.
        As many rows as Z shows (an i.i.d. sample needs no subsampling)."""
        if self._prior is None or self._prior.shape != (rows, dim):
            self._prior = prior_samples(rows, dim, self.seed)
        return self._prior

    def frame(self, epoch: int, z: np.ndarray, previous: Projection | None = None,
              quick: bool = False) -> Projection:
        """The frame of `epoch` (computed once). `previous` overrides the earlier frame;
        `quick`: a cold UMAP frame with QUICK_LAYOUT_EPOCHS (a live run's first picture)."""
        with self._lock:
            if epoch in self.frames:
                return self.frames[epoch]
            if previous is None:
                earlier = [e for e in self.frames if e < epoch]
                previous = self.frames[max(earlier)] if earlier else None
            z = _checked("Z", z, DIVERGED_HINT)
            prior = self.prior(min(len(z), self.cap), z.shape[1])
            quick_epochs = QUICK_LAYOUT_EPOCHS if quick and previous is None and self.method == "umap" else None
            projection = project(z, prior, self.method, init=previous, seed=self.seed, cap=self.cap,
                                 n_epochs=quick_epochs, components=self.components, device=self.device)
            self.frames[epoch] = projection
            return projection

    def adopt(self, epoch: int, frame: Projection) -> Projection:
        """Keep a frame computed elsewhere (the picture process's, read from disk) as this
        epoch's, for the next frames to start from; the one already here wins."""
        with self._lock:
            return self.frames.setdefault(epoch, frame)

    def update(self, snapshots: dict[int, np.ndarray]) -> dict[int, Projection]:
        """Frames of every snapshot, computing the missing ones in epoch order."""
        for epoch in sorted(snapshots):
            self.frame(epoch, snapshots[epoch])
        return {epoch: self.frames[epoch] for epoch in sorted(snapshots)}


def project_sequence(snapshots: dict[int, np.ndarray], method: str = "umap", seed: int = 0,
                     cap: int = DEFAULT_CAP, components: int = 2,
                     device: str | None = None) -> dict[int, Projection]:
    """Frames of a finished run's snapshots {epoch: Z}, each aligned onto the one before."""
    return Projector(method, seed, cap, components, device).update(snapshots)


# -------------------------------------------------------------------- warm-up
_warm = threading.Event()
_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None
_umap_lock = threading.Lock()
_jit_cache_on = False


def _umap_module():
    """umap, imported on first use (it takes seconds) with numba's disk cache switched on
    for its compiled functions before anything compiles."""
    global _jit_cache_on
    with _umap_lock:
        import umap
        if not _jit_cache_on:
            _enable_jit_cache("umap")
            _jit_cache_on = True
            # we pass our own neighbour graph and never call transform(), which needs umap's
            warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
    return umap


def _enable_jit_cache(package: str) -> int:
    """Switch numba's on-disk cache on for every compiled function of `package` (umap's
    do not ask for it). numba stores it where it stores any `cache=True` function: in
    NUMBA_CACHE_DIR when set, else beside the package, or in the user's cache folder when
    the package is read-only. Functions compiled before this call are compiled again next
    time. Returns the number of functions switched on."""
    from numba.core.registry import CPUDispatcher
    switched = 0
    for name, module in list(sys.modules.items()):
        if name != package and not name.startswith(package + "."):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher):
                try:
                    value.enable_caching()
                    switched += 1
                except RuntimeError:  # numba found nowhere to write: compile as before
                    pass
    return switched


def warm_up(background: bool = True) -> threading.Thread | None:
    """Compile umap's code with a tiny fit (a cold and a warm-start frame of a few hundred
    random points), in a daemon thread unless `background` is False. Returns the thread
    (the running one when called again), or None when already warm or run inline."""
    global _warm_thread
    if _warm.is_set():
        return None
    if not background:
        _fit_tiny()
        return None
    with _warm_lock:
        if _warm_thread is None or not _warm_thread.is_alive():
            _warm_thread = threading.Thread(target=_fit_tiny, name="umap-warm-up", daemon=True)
            _warm_thread.start()
        return _warm_thread


def _fit_tiny() -> None:
    if _warm.is_set():
        return
    from .ahead import wait_ahead
    wait_ahead()  # a compilation ahead of need is running: load its result, not compile twice
    z, prior = prior_samples(150, 8, seed=1), prior_samples(150, 8, seed=2)
    first = project(z, prior, "umap", n_epochs=20)
    project(z + 0.01, prior, "umap", init=first)
    _warm.set()


def is_warm() -> bool:
    """True once a UMAP frame has been computed (or warm-up finished) in this process."""
    return _warm.is_set()


# ------------------------------------------------------------ latent statistics
def dimension_stats(z: np.ndarray, bins: int = 30) -> dict:
    """Per-dimension summary of Z against N(0, 1), for small-multiple histograms.

    Every dimension shares the bin `edges` (covering [-4, 4] and Z's 0.5-99.5 percentile
    range), so the panels share an axis; `prior_counts` is the N(0, 1) count expected per
    bin for as many values; `outside` counts values beyond the edges; `ks` is the
    Kolmogorov-Smirnov distance to N(0, 1), to pick the dimensions worth showing."""
    z = _checked("Z", z, DIVERGED_HINT).astype(np.float64)
    low = min(-4.0, float(np.percentile(z, 0.5)))
    high = max(4.0, float(np.percentile(z, 99.5)))
    edges = np.linspace(low, high, bins + 1)
    counts = np.stack([np.histogram(column, edges)[0] for column in z.T])
    expected = len(z) * np.diff(stats.norm.cdf(edges))
    return {"edges": edges, "centers": (edges[:-1] + edges[1:]) / 2, "counts": counts,
            "prior_counts": expected, "outside": len(z) - counts.sum(axis=1),
            "mean": z.mean(axis=0), "std": z.std(axis=0),
            "ks": stats.ks_1samp(z, stats.norm.cdf, axis=0).statistic}


class PriorMatchCurve:
    """Prior-match measures of one run's snapshots, epoch by epoch, filled on demand within
    a time budget, so a page asking for them never waits long: spread of Z, norm ratio, MMD
    (CURVE_MMD_SAMPLE points) and the classifier test (metrics.prior_match, without the
    unit-spread pair). About 0.3-1 s per Cora snapshot on this 2-core machine, so they are
    computed beside the pictures, not in the training loop. The same seed draws the same
    prior sample at every epoch, so the curve follows Z only. Thread-safe; shared by sessions
    (a snapshot never changes, so neither do its measures).

    `load_z(epoch)` returns that snapshot's Z. An epoch whose Z cannot be measured (not
    finite, a missing or damaged file: the reader's RunError is a RuntimeError) is kept as
    None, with its message in `errors`, and not retried."""

    def __init__(self, load_z: Callable[[int], np.ndarray], seed: int = 0):
        self.load_z, self.seed = load_z, seed
        self.values: dict[int, dict | None] = {}
        self.errors: dict[int, str] = {}
        self._lock = threading.Lock()

    def measure(self, epoch: int) -> dict | None:
        with self._lock:
            if epoch in self.values:
                return self.values[epoch]
        try:
            z = _checked(f"Z at epoch {epoch}", self.load_z(epoch), DIVERGED_HINT)
            value = metrics.prior_match(z, seed=self.seed, shape=False, mmd_sample=CURVE_MMD_SAMPLE)
        except (ValueError, OSError, LookupError, RuntimeError) as exc:
            value = None
            self.errors[epoch] = str(exc)
        with self._lock:
            self.values[epoch] = value
        return value

    def fill(self, epochs: Sequence[int], first: int | None = None, budget_seconds: float = 1.0) -> int:
        """Measure `first`, then the other `epochs` in order, until `budget_seconds` are
        spent (at least one per call, so every call makes progress); returns how many of
        `epochs` are still to measure."""
        start = time.monotonic()
        for epoch in ([first] if first is not None else []) + list(epochs):
            if epoch in self.values:
                continue
            self.measure(epoch)
            if time.monotonic() - start >= budget_seconds:
                break
        return sum(e not in self.values for e in epochs)

    def points(self, epochs: Sequence[int]) -> list[tuple[int, dict]]:
        """[(epoch, measures)] of the `epochs` measured so far, in epoch order."""
        return [(e, self.values[e]) for e in sorted(epochs) if self.values.get(e) is not None]
