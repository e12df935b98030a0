"""UMAP pictures of saved runs, computed ahead of need and kept on disk beside the run.

A Cora UMAP frame is about 2 s of CPU on this 2-core machine (the 200 layout epochs; the
spectral start and the neighbour graph are under 0.2 s), and the page process would first
have to import umap (about 1 s quiet, several under load, holding the interpreter's lock that
every page's run needs). So the pictures a user asks for first are drawn before they ask, in
the warm picture process (`python -m argae_core warm --serve`, started by the server at a
lower CPU priority, see argae_core.ahead): when a training ends (the JobManager's on-done
hook), the UMAP picture of its scored Z (the Compare page's) and of its newest snapshot
(the Latent page's first) are computed one after another, each first with a short layout
(QUICK_LAYOUT_EPOCHS, about a third of the CPU) and then in full, and written here:

    <run>/pictures/<kind>-e<epoch>-<method>-s<seed>-c<cap>.npz

The key is run id + kind (`final`: embedding.npz, the Z the metrics score; `snapshot`: a
snapshot file) + epoch + projection + seed + cap. A file also holds the size and modification
time of the Z file it was drawn from and the layout settings' version: a picture of an older
Z, or drawn with other settings, is not used (stale). A damaged file is logged and ignored,
and drawn again. Light on import: no torch, no umap (umap loads when a picture is drawn).

The four final pictures of a comparison are not warm-started from each other: each model's
Z is a different cloud, and a frame started from another model's layout with the short warm
schedule keeps that layout's shape (a picture of the wrong model). umap's `init="pca"` was
measured against the spectral start: 1.96 s against 2.00 s of CPU per Cora frame, no gain.
"""
from __future__ import annotations

import collections
import logging
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import projection, runs
from .storage import atomic_write, npz_bytes

log = logging.getLogger(__name__)

FINAL, SNAPSHOT = "final", "snapshot"
KINDS = (FINAL, SNAPSHOT)
FOLDER = "pictures"
# Bump when a change to projection's layout settings changes the pictures it draws.
VERSION = f"2-{projection.UMAP_NEIGHBORS}"
# A quick layout first (umap's layout epochs are nearly all of a frame's cost: see
# projection.QUICK_LAYOUT_EPOCHS), replaced by the full one (projection.COLD_LAYOUT_EPOCHS)
# when the picture process is free.
QUICK_LAYOUT_EPOCHS = projection.QUICK_LAYOUT_EPOCHS
FULL_LAYOUT_EPOCHS = projection.COLD_LAYOUT_EPOCHS


@dataclass(frozen=True)
class PictureKey:
    """What a picture is a function of (with the Z file's contents, checked by fingerprint)."""
    run_id: str
    kind: str
    epoch: int
    method: str = "umap"
    seed: int = 0
    cap: int = projection.DEFAULT_CAP

    def __post_init__(self):
        runs.check_run_id(self.run_id)
        if self.kind not in KINDS:
            raise ValueError(f"unknown picture kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.method not in projection.METHODS:
            raise ValueError(f"unknown projection method {self.method!r}")

    @property
    def filename(self) -> str:
        return f"{self.kind}-e{int(self.epoch):05d}-{self.method}-s{int(self.seed)}-c{int(self.cap)}.npz"

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "kind": self.kind, "epoch": int(self.epoch), "method": self.method,
                "seed": int(self.seed), "cap": int(self.cap)}

    @classmethod
    def from_dict(cls, values: dict) -> "PictureKey":
        return cls(str(values["run_id"]), str(values["kind"]), int(values["epoch"]), str(values.get("method", "umap")),
                   int(values.get("seed", 0)), int(values.get("cap", projection.DEFAULT_CAP)))


def run_path(run_id: str, root: Path | str | None = None) -> Path:
    return (Path(root) if root is not None else runs.runs_dir()) / runs.check_run_id(run_id)


def cache_path(key: PictureKey, root: Path | str | None = None) -> Path:
    return run_path(key.run_id, root) / FOLDER / key.filename


def source_path(key: PictureKey, root: Path | str | None = None) -> Path:
    """The file holding the Z the picture is drawn from."""
    folder = run_path(key.run_id, root)
    return folder / "embedding.npz" if key.kind == FINAL else folder / "snapshots" / f"epoch_{int(key.epoch):05d}.npz"


def fingerprint(path: Path) -> np.ndarray:
    """(size, modification time in ns) of a file: a rewritten Z file gets a new one."""
    stat = path.stat()
    return np.array([stat.st_size, stat.st_mtime_ns], dtype=np.int64)


# ---------------------------------------------------------------- the cache
READ_MEMO_SIZE = 64   # pictures read lately, kept in memory (a 5,000-point picture is ~80 KB)
_read_memo: collections.OrderedDict = collections.OrderedDict()  # path -> (fingerprints, entry)
_read_memo_lock = threading.Lock()


def load_entry(key: PictureKey, root: Path | str | None = None) -> tuple[projection.Projection, int] | None:
    """(the cached picture, its layout epochs), or None: not drawn yet, stale (its Z file or
    the settings changed since), or damaged (logged; it is drawn again).

    A picture read before comes from memory while neither its file nor its Z file has changed
    (two `stat`s instead of reading the file: pages ask on every rerun, while they wait)."""
    path = cache_path(key, root)
    try:
        drawn = path.stat()   # a picture is written to a new file renamed over the old: a new inode
        stamps = ((drawn.st_ino, drawn.st_size, drawn.st_mtime_ns),
                  fingerprint(source_path(key, root)).tobytes(), VERSION)
    except OSError:   # not drawn yet, or its run's Z file went away (a deleted run)
        return None
    with _read_memo_lock:
        known = _read_memo.get(str(path))
        if known is not None and known[0] == stamps:
            _read_memo.move_to_end(str(path))
            return known[1]
    entry = _read_entry(key, path, root)
    if entry is not None:
        with _read_memo_lock:
            _read_memo[str(path)] = (stamps, entry)
            while len(_read_memo) > READ_MEMO_SIZE:
                _read_memo.popitem(last=False)
    return entry


def _read_entry(key: PictureKey, path: Path, root) -> tuple[projection.Projection, int] | None:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            data = {name: arrays[name] for name in arrays.files}
        if str(data["version"]) != VERSION or not np.array_equal(data["source"], fingerprint(source_path(key, root))):
            log.info("picture %s is stale (its Z or the layout settings changed): drawing it again", path)
            return None
        z_xy, prior_xy = data["z_xy"].astype(np.float32), data["prior_xy"].astype(np.float32)
        if z_xy.ndim != 2 or z_xy.shape[1:] != (2,) or prior_xy.ndim != 2 or prior_xy.shape[1:] != (2,) \
                or not (np.isfinite(z_xy).all() and np.isfinite(prior_xy).all()):
            raise ValueError(f"coordinates of shapes {z_xy.shape} and {prior_xy.shape}")
        z_index = data["z_index"] if data["z_index"].size else None
        prior_index = data["prior_index"] if data["prior_index"].size else None
        for index, xy in ((z_index, z_xy), (prior_index, prior_xy)):
            if index is not None and (index.ndim != 1 or len(index) != len(xy)):
                raise ValueError("a subsample index does not match its coordinates")
        layout_epochs = int(data["layout_epochs"])
    except FileNotFoundError:   # the run's Z file went away (a deleted run)
        return None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        log.warning("ignoring the damaged picture cache %s (%s: %s); it is drawn again", path, type(exc).__name__, exc)
        return None
    frame = projection.Projection(z_xy=z_xy, prior_xy=prior_xy, z_index=z_index, prior_index=prior_index,
                                  method=key.method, seconds=float(data.get("seconds", 0.0)),
                                  backend=str(data.get("backend", "")))
    return frame, layout_epochs


def load(key: PictureKey, root: Path | str | None = None, full: bool = False) -> projection.Projection | None:
    """The cached picture (with `full`, only one of the full layout), or None."""
    entry = load_entry(key, root)
    if entry is None or (full and is_quick(key, entry[1])):
        return None
    return entry[0]


def is_quick(key: PictureKey, layout_epochs: int) -> bool:
    return key.method == "umap" and layout_epochs < FULL_LAYOUT_EPOCHS


def save(key: PictureKey, frame: projection.Projection, source: np.ndarray, root: Path | str | None = None,
         layout_epochs: int = FULL_LAYOUT_EPOCHS) -> Path:
    """Write `frame` (drawn from the Z file whose fingerprint is `source`) atomically."""
    path = cache_path(key, root)
    path.parent.mkdir(exist_ok=True)
    empty = np.zeros(0, dtype=np.int64)
    atomic_write(path, npz_bytes(
        z_xy=frame.z_xy, prior_xy=frame.prior_xy, version=np.array(VERSION), source=source,
        z_index=empty if frame.z_index is None else frame.z_index,
        prior_index=empty if frame.prior_index is None else frame.prior_index,
        seconds=np.array(frame.seconds), layout_epochs=np.array(int(layout_epochs)),
        backend=np.array(frame.backend)))
    return path


def prior_for(key: PictureKey, z: np.ndarray) -> np.ndarray:
    """The prior sample the pages draw beside this Z: the Compare page as many as Z's rows,
    the Latent page's Projector as many as the picture shows (projection.Projector.prior)."""
    rows = len(z) if key.kind == FINAL else min(len(z), key.cap)
    return projection.prior_samples(rows, z.shape[1], key.seed)


def read_z(key: PictureKey, root: Path | str | None = None) -> np.ndarray:
    run = runs.load_run(key.run_id, root)
    if key.kind == SNAPSHOT:
        return run.snapshot(key.epoch)[0]
    final = run.final_embedding()
    if final is None:
        raise runs.RunError(f"run {key.run_id} saved no scored embedding")
    if final[0] != key.epoch:
        raise runs.RunError(f"run {key.run_id} scores the Z of epoch {final[0]}, not {key.epoch}")
    return final[1]


def neighbour(key: PictureKey, root: Path | str | None = None, quick_ok: bool = False) -> projection.Projection | None:
    """The full UMAP picture (with `quick_ok`, or a quick one) of this run's snapshot nearest
    to `key`'s epoch, drawn with the same seed and cap (a warm start for `key`'s picture), or
    None: not a snapshot's UMAP picture, or none of its run's other snapshots is drawn yet."""
    if key.kind != SNAPSHOT or key.method != "umap":
        return None
    folder = run_path(key.run_id, root) / FOLDER
    epochs = []
    for path in folder.glob(f"{SNAPSHOT}-e*-umap-s{int(key.seed)}-c{int(key.cap)}.npz"):
        try:
            epochs.append(int(path.name.split("-")[1][1:]))
        except ValueError:
            continue
    for epoch in sorted((e for e in epochs if e != key.epoch), key=lambda e: (abs(e - key.epoch), e)):
        other = PictureKey(key.run_id, SNAPSHOT, epoch, "umap", key.seed, key.cap)
        entry = load_entry(other, root)
        if entry is not None and (quick_ok or not is_quick(other, entry[1])):
            return entry[0]
    return None


def draw(key: PictureKey, root: Path | str | None = None, layout_epochs: int | None = None,
         start_from_quick: bool = False, device: str | None = None) -> projection.Projection:
    """The picture, from the cache (one of at least `layout_epochs`, default the full
    layout) or drawn now and cached. A snapshot's UMAP picture starts from the nearest
    snapshot's full picture where there is one (`neighbour`): the warm-start schedule, about
    a quarter of a cold layout's CPU, gives the layout the Latent page's own frames have
    (each warm-started from its neighbour, aligned onto it), so it counts as a full one.
    `start_from_quick`: a live run's pictures, each refining the one before, the first a quick one.
    `device`: projection.project's (None: ARGAE_PROJECTION_DEVICE, else auto; the file keeps
    what computed the picture, `Projection.backend`).
    RunError / ValueError when the run or its Z cannot be read or projected."""
    wanted = layout_epochs or FULL_LAYOUT_EPOCHS
    cached = load_entry(key, root)
    if cached is not None and (key.method != "umap" or cached[1] >= wanted):
        return cached[0]
    z = read_z(key, root)
    source = fingerprint(source_path(key, root))   # Z files are written once (atomically, by rename)
    start, prior = neighbour(key, root, quick_ok=start_from_quick), prior_for(key, z)
    rows = min(len(z), key.cap) + min(len(prior), key.cap)
    if start is not None and len(start.z_xy) + len(start.prior_xy) == rows:   # the same points: always, in a run
        frame = projection.project(z, prior, "umap", init=start, seed=key.seed, cap=key.cap, device=device)
        save(key, frame, source, root, FULL_LAYOUT_EPOCHS)
        return frame
    frame = projection.project(z, prior, key.method, seed=key.seed, cap=key.cap,
                               n_epochs=wanted if key.method == "umap" else None, device=device)
    save(key, frame, source, root, wanted)
    return frame


def keys_ahead(run_id: str, group: str | None, seed: int, root: Path | str | None = None) -> list[PictureKey]:
    """The pictures worth drawing when run `run_id` ends: its scored Z at the run's seed
    (the Compare page's, for a comparison's run) and its newest snapshot at the Latent
    page's default seed and cap (what that page shows first)."""
    keys = []
    try:
        run = runs.load_run(run_id, root)
        final = run.final_embedding() if group is not None else None
    except runs.RunError as exc:
        log.warning("no pictures ahead for run %s: %s", run_id, exc)
        return keys
    if final is not None:
        keys.append(PictureKey(run_id, FINAL, final[0], "umap", seed))
    if run.snapshot_epochs:
        keys.append(PictureKey(run_id, SNAPSHOT, run.snapshot_epochs[-1], "umap", 0))
    return keys
