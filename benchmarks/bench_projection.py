"""Latent projection speed and stability, on a Cora-sized cloud (2,708 x 32 Z + 2,708 prior).

Prints one table: on a server started --server-age s earlier (its picture process as the app
starts it, numba cache empty and filled), a 4-model Cora comparison: time from the runs' ends to
their UMAP pictures on disk (what the Compare page reads), and a page asking for a snapshot's
UMAP picture drawn ahead or on demand; time to
the first picture in fresh processes (numba cache empty, as on a
machine's first run, and filled), warm time per frame (PCA, cold UMAP, warm-started UMAP)
with ratios against the PCA frame of the same run, and what the frames look like: 15-NN
preservation on screen and how far points move between frames.

Z comes from ARGVA trained on Cora for --epochs epochs (snapshots every 5) when
ARGAE_DATA_DIR has Cora, else from a synthetic sequence of the same size (--synthetic forces
it). --aligned-umap N adds umap's AlignedUMAP on the last N snapshots, after the table
(slow: it compiles pynndescent and its own layout, then fits all N frames together).

    ARGAE_DATA_DIR=/work/shared/datasets PYTHONPATH=. python benchmarks/bench_projection.py

--projection-device (auto, cpu, cuda, torch-cpu; argae_core/projection_device.py) projects every
frame there, the fresh processes' and the servers' picture processes' too (through
ARGAE_PROJECTION_DEVICE); the header names what computed the frames (Projection.backend).
--knn times only the parts the device changes, at the projection's cap (projection.DEFAULT_CAP
Z rows + as many prior rows, --dim dimensions): the exact 15-NN graph UMAP is given and PCA, by
scikit-learn (the CPU path) and by torch on --projection-device (default torch-cpu here), with
how far they agree, then one cold UMAP frame on each:

    PYTHONPATH=. python benchmarks/bench_projection.py --knn --projection-device cuda
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Imports stay light at the top: the fresh-process runs re-enter this file with --child.
NOISE = 0.02  # "a slightly changed Z": Gaussian noise of 2% of Z's std


# ------------------------------------------------------------ fresh processes
def child(path: str, warm_up: bool) -> None:
    """Runs in a fresh process: time from here to the first PCA and UMAP pictures."""
    stamps = {"start": time.time()}
    from argae_core import projection
    stamps["imported"] = time.time()
    data = np.load(path)
    z, prior = data["z"], data["prior"]
    thread = projection.warm_up() if warm_up else None
    projection.project(z, prior, "pca")
    stamps["pca"] = time.time()
    if thread is not None:
        thread.join()
        stamps["warm"] = time.time()
        projection.project(z, prior, "umap")
        stamps["umap"] = time.time()
    print(json.dumps(stamps))


def server_child(age: float, epochs: int) -> None:
    """Runs in a fresh process as a server does: the picture process of a server start
    (`ahead.start_ahead`: `warm --serve`, niced), `age` seconds of nothing, then a comparison
    of the 4 models on Cora (`compare.start_comparison` on a JobManager with 2 worker
    processes, the on-done hook as pages.common registers it). Stamps: each run's end, when
    each final UMAP picture is readable beside its run (as the Compare page reads it), then a
    page asking for the newest snapshot's UMAP picture (drawn ahead: a disk read) and for an
    older snapshot's, at the page's seed (drawn on demand, warm-started from the newest) and at
    another seed (no picture to start from: a cold layout, quick then full)."""
    from argae_core import ahead, compare, pictures, runs
    from argae_core.config import TrainConfig
    from argae_core.jobs import JobManager, ProcessExecutor
    root = tempfile.mkdtemp(prefix="bench-server-runs-")
    ahead.start_ahead()
    manager = JobManager(ProcessExecutor(2, runs_root=root), owner_timeout=3600)
    ended: dict[str, float] = {}
    manager.add_done_hook(lambda job: (ended.setdefault(job.job_id, time.time()), ahead.run_ended(job, root)))
    time.sleep(age)
    started = compare.start_comparison(manager, "bench", TrainConfig(dataset="cora", epochs=epochs),
                                       ["gae", "vgae", "arga", "argva"], 1, label=lambda c: c.model)
    shown: dict[str, float] = {}
    keys: dict[str, pictures.PictureKey] = {}
    deadline = time.time() + 1800
    while len(shown) < len(started.jobs) and time.time() < deadline:
        manager.touch("bench")
        for job_id in started.jobs:
            job = manager.get(job_id, "bench")
            if job_id in shown or job.active or not job.run_id:
                continue
            if job_id not in keys:
                final = runs.load_run(job.run_id, root).final_embedding()
                keys[job_id] = pictures.PictureKey(job.run_id, pictures.FINAL, final[0], "umap", 0)
            if pictures.load(keys[job_id], root) is not None:
                shown[job_id] = time.time()
        time.sleep(0.1)
    full = {}
    while len(full) < len(keys) and time.time() < deadline:
        for job_id, key in keys.items():
            if job_id not in full and pictures.load(key, root, full=True) is not None:
                full[job_id] = time.time()
        time.sleep(0.1)
    run = runs.load_run(manager.get(started.jobs[-1], "bench").run_id, root)
    newest = pictures.PictureKey(run.run_id, pictures.SNAPSHOT, run.snapshot_epochs[-1], "umap", 0)
    while pictures.load(newest, root) is None and time.time() < deadline:
        time.sleep(0.05)
    newest_there = time.time()
    read = time.perf_counter()
    pictures.load(newest, root)   # a page asking for it now: a read
    read = time.perf_counter() - read
    def on_demand(key) -> tuple[float, float]:
        """ask -> the first picture readable, ask -> its full layout"""
        asked = time.time()
        ahead.request(key, root, priority=ahead.NOW)
        while pictures.load(key, root) is None and time.time() < deadline:
            time.sleep(0.05)
        first = time.time() - asked
        while pictures.load(key, root, full=True) is None and time.time() < deadline:
            time.sleep(0.05)
        return first, time.time() - asked
    # the picture process idle: every run's pictures ahead are drawn in full (a request waits
    # for the picture being drawn: umap's layout is not interrupted)
    for job_id in started.jobs:
        for key in pictures.keys_ahead(manager.get(job_id, "bench").run_id, None, 0, root):
            while pictures.load(key, root, full=True) is None and time.time() < deadline:
                time.sleep(0.05)
    # the page's default seed: warm-started from the newest snapshot's picture drawn ahead
    older, older_full = on_demand(pictures.PictureKey(run.run_id, pictures.SNAPSHOT, run.snapshot_epochs[0], "umap", 0))
    # another seed (another prior sample and subsample): no picture to start from, a cold layout
    cold, cold_full = on_demand(pictures.PictureKey(run.run_id, pictures.SNAPSHOT, run.snapshot_epochs[1], "umap", 1))
    print(json.dumps({"ended": sorted(ended.values()), "shown": sorted(shown.values()),
                      "full": sorted(full.values()), "newest_there": newest_there, "read": read,
                      "older": older, "older_full": older_full, "cold": cold, "cold_full": cold_full}))
    manager.shutdown()
    ahead.stop_ahead()
    shutil.rmtree(root, ignore_errors=True)


def fresh_server(numba_cache: Path, age: float, epochs: int) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache))
    command = [sys.executable, __file__, "--server-child", "--server-age", str(age), "--server-epochs", str(epochs)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    stamps = json.loads(out.stdout.strip().splitlines()[-1])
    last_end = max(stamps["ended"])
    return {"first": stamps["shown"][0] - min(stamps["ended"]), "four": max(stamps["shown"]) - last_end,
            "four_full": max(stamps["full"]) - last_end, "newest_there": stamps["newest_there"] - last_end,
            "newest": stamps["read"], "older": stamps["older"], "older_full": stamps["older_full"],
            "cold": stamps["cold"], "cold_full": stamps["cold_full"]}


def fresh_process(path: Path, numba_cache: Path, warm_up: bool) -> dict:
    """Seconds from launching Python to each stamp of `child`."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache))
    command = [sys.executable, __file__, "--child", str(path)] + ([] if warm_up else ["--no-warm-up"])
    launched = time.time()
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    stamps = json.loads(out.stdout.strip().splitlines()[-1])
    return {name: stamp - launched for name, stamp in stamps.items()}


# ------------------------------------------------------------ the device's parts
def knn_rows(device: str, dim: int, repeats: int) -> None:
    """Neighbour graph, PCA and a cold UMAP frame at the cap, CPU path against `device`."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    from argae_core import projection as P
    from argae_core import projection_device as D
    target = D.resolve(device)
    if not target.uses_torch:
        raise SystemExit(f"--knn compares the torch path with the CPU path: give --projection-device cuda or "
                         f"torch-cpu, not {device}")
    import torch
    sync = torch.cuda.synchronize if target.gpu else (lambda: None)
    z = synthetic_snapshots(50, n=P.DEFAULT_CAP, dim=dim)[50]
    points = np.vstack([z, P.prior_samples(len(z), dim, seed=0)])
    k = P.UMAP_NEIGHBORS

    def sklearn_knn():
        return NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points)

    def torch_knn():
        result = D.knn(points, k, target.torch_device)   # numpy back: the copy and the GPU's work included
        sync()
        return result

    def times(function):
        function()   # first call: imports, a GPU's context and kernels
        return median_clock(function, repeats)
    (distances, indices), (ours_i, ours_d) = sklearn_knn(), torch_knn()
    same = float((ours_i == indices).mean())
    gap = float(np.abs(ours_d - distances).max())
    cpu_knn, torch_knn_s = times(sklearn_knn), times(torch_knn)
    cpu_pca = times(lambda: PCA(n_components=2, svd_solver="covariance_eigh").fit_transform(points))
    torch_pca = times(lambda: (D.pca(points, 2, target.torch_device), sync()))
    print(f"{len(points):,} points x {dim} dims (projection cap {P.DEFAULT_CAP:,} Z + as many prior); torch "
          f"{torch.__version__}, {torch.get_num_threads()} torch thread(s); device {target.name}"
          f"{' (' + torch.cuda.get_device_name(target.torch_device) + ')' if target.gpu else ''}; "
          f"median of {repeats}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rows = [("", "wall", "CPU", "ratio"),
            ("15-NN graph, scikit-learn NearestNeighbors", f"{cpu_knn[0]:.3f} s", f"{cpu_knn[1]:.3f} s", "1.00x"),
            (f"15-NN graph, torch on {target.torch_device}", f"{torch_knn_s[0]:.3f} s", f"{torch_knn_s[1]:.3f} s",
             f"{torch_knn_s[0] / cpu_knn[0]:.2f}x"),
            ("PCA, scikit-learn (covariance eigh)", f"{cpu_pca[0]:.4f} s", f"{cpu_pca[1]:.4f} s", "1.00x"),
            (f"PCA, torch on {target.torch_device}", f"{torch_pca[0]:.4f} s", f"{torch_pca[1]:.4f} s",
             f"{torch_pca[0] / cpu_pca[0]:.2f}x")]
    print(table(rows))
    print(f"same neighbours: {same:.4%} of entries; largest distance difference {gap:.2e}")
    P.warm_up(background=False)
    z_frame, prior = z, P.prior_samples(len(z), dim, seed=0)
    for name in ("cpu", device):
        frame = P.project(z_frame, prior, "umap", device=name)   # the first on a device: its start
        frame, wall, cpu = clock(lambda: P.project(z_frame, prior, "umap", device=name))
        print(f"cold UMAP frame ({P.COLD_LAYOUT_EPOCHS} layout epochs), device {name}: {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU; {frame.backend}")


# ------------------------------------------------------------------ the data
def snapshots(epochs: int, synthetic: bool) -> tuple[dict[int, np.ndarray], str]:
    if not synthetic:
        from argae_core.config import TrainConfig
        from argae_core.data import DatasetUnavailable
        from argae_core.training import Trainer
        try:
            trainer = Trainer(TrainConfig(dataset="cora", model="argva", epochs=epochs,
                                          snapshot_interval=5))
        except DatasetUnavailable as exc:
            print(f"Cora unavailable ({exc}); using a synthetic sequence")
        else:
            start = time.perf_counter()
            found = {record.epoch: record.z for record in trainer if record.z is not None}
            return found, (f"Cora ARGVA Z, {epochs} epochs "
                           f"({time.perf_counter() - start:.0f} s to train)")
    return synthetic_snapshots(epochs), "synthetic Z (7 clusters drifting toward N(0, I))"


def synthetic_snapshots(epochs: int, n: int = 2708, dim: int = 32) -> dict[int, np.ndarray]:
    """Seven clusters that shrink toward N(0, I) as epochs pass, like a regularised Z."""
    rng = np.random.default_rng(0)
    centres, noise = 4.0 * rng.standard_normal((7, dim)), rng.standard_normal((n, dim))
    members = centres[np.arange(n) % 7]
    out = {}
    for epoch in [1] + list(range(5, epochs + 1, 5)):
        pull = epoch / epochs
        drift = 0.3 * rng.standard_normal((n, dim))
        out[epoch] = ((1 - 0.5 * pull) * members + noise + drift / (1 + epoch)).astype(np.float32)
    return out


# --------------------------------------------------------------- measurements
def neighbour_preservation(points: np.ndarray, xy: np.ndarray, k: int = 15) -> float:
    """Mean share of each point's k nearest neighbours in latent space kept on screen."""
    from sklearn.neighbors import NearestNeighbors
    high = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)[1][:, 1:]
    low = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy)[1][:, 1:]
    return float(np.mean([len(np.intersect1d(a, b)) for a, b in zip(high, low)]) / k)


def motion(current: np.ndarray, previous: np.ndarray) -> float:
    """Mean point displacement between two frames, in RMS radii of the previous frame."""
    radius = np.sqrt(((previous - previous.mean(axis=0)) ** 2).sum(axis=1).mean())
    return float(np.linalg.norm(current - previous, axis=1).mean() / radius)


def clock(function) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds of this process). Under load from other work the
    wall time stretches; the CPU time is close to what an idle core would take (the UMAP
    layout runs on one thread)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def median_clock(function, repeats: int) -> tuple[float, float]:
    runs = [clock(function)[1:] for _ in range(repeats)]
    return float(np.median([r[0] for r in runs])), float(np.median([r[1] for r in runs]))


def sequence_rows(P, snaps: dict[int, np.ndarray], prior: np.ndarray) -> dict:
    """Cold and warm-started frames over the snapshots: time, preservation, motion."""
    epochs = sorted(snaps)
    projector = P.Projector("umap", seed=0)  # draws the same prior: seed 0, as many rows
    warm, cold, warm_times, cold_times = {}, {}, [], []
    for e in epochs:
        warm[e], *seconds = clock(lambda: projector.frame(e, snaps[e]))
        warm_times += [seconds] if e != epochs[0] else []
        cold[e], *seconds = clock(lambda: P.project(snaps[e], prior, "umap", seed=0))
        cold_times.append(seconds)
    pca = P.project_sequence(snaps, "pca")
    points = {e: np.vstack([snaps[e], prior]) for e in epochs}
    aligned, previous = {}, None
    for e in epochs:
        aligned[e] = cold[e].xy if previous is None else P.align(cold[e].xy, previous)
        previous = aligned[e]
    pairs = list(zip(epochs, epochs[1:]))
    return {
        "warm": np.median(warm_times, axis=0), "cold": np.median(cold_times, axis=0),
        "preservation": {name: float(np.mean([neighbour_preservation(points[e], frames[e])
                                              for e in epochs[1:]]))
                         for name, frames in (("pca", {e: pca[e].xy for e in epochs}),
                                              ("cold", {e: cold[e].xy for e in epochs}),
                                              ("warm", {e: warm[e].xy for e in epochs}))},
        "motion": {"cold": np.mean([motion(cold[b].xy, cold[a].xy) for a, b in pairs]),
                   "cold aligned": np.mean([motion(aligned[b], aligned[a]) for a, b in pairs]),
                   "warm": np.mean([motion(warm[b].xy, warm[a].xy) for a, b in pairs])},
    }


def noise_rows(P, z: np.ndarray, prior: np.ndarray) -> dict:
    """The same Z plus 2% noise: how far each strategy moves the picture (UMAP randomness)."""
    changed = z + NOISE * z.std() * np.random.default_rng(1).standard_normal(z.shape).astype(np.float32)
    before = P.project(z, prior, "umap")
    cold = P.project(changed, prior, "umap")
    warm = P.project(changed, prior, "umap", init=before)
    return {"cold": motion(cold.xy, before.xy),
            "cold aligned": motion(P.align(cold.xy, before.xy), before.xy),
            "warm": motion(warm.xy, before.xy)}


def aligned_umap_rows(P, snaps: dict[int, np.ndarray], prior: np.ndarray, frames: int) -> dict:
    """umap's AlignedUMAP on the last `frames` snapshots at once (it cannot add one frame
    at a time: a new snapshot means a new fit of all of them)."""
    import umap
    epochs = sorted(snaps)[-frames:]
    data = [np.vstack([snaps[e], prior]) for e in epochs]
    identity = {i: i for i in range(len(data[0]))}
    start = time.perf_counter()
    layouts = umap.AlignedUMAP(random_state=0, n_epochs=P.COLD_LAYOUT_EPOCHS).fit(
        data, relations=[identity] * (len(data) - 1)).embeddings_
    return {"seconds": time.perf_counter() - start, "frames": len(data),
            "preservation": float(np.mean([neighbour_preservation(p, f)
                                           for p, f in zip(data[1:], layouts[1:])])),
            "motion": float(np.mean([motion(b, a) for a, b in zip(layouts, layouts[1:])]))}


# -------------------------------------------------------------------- output
def table(rows: list[tuple[str, str, str, str]]) -> str:
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b:>9}  {c:>7}  {d:>6}" for a, b, c, d in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--aligned-umap", type=int, default=0, metavar="N")
    parser.add_argument("--projection-device", default=None,
                        help="auto, cpu, cuda or torch-cpu [ARGAE_PROJECTION_DEVICE, else auto; with --knn torch-cpu]")
    parser.add_argument("--knn", action="store_true",
                        help="only the neighbour graph, PCA and a cold UMAP frame at the cap, CPU path vs the device")
    parser.add_argument("--dim", type=int, default=64, help="with --knn: latent dimensions [64, the default latent size]")
    parser.add_argument("--repeats", type=int, default=5, help="with --knn: timed calls per measure [5]")
    parser.add_argument("--child")
    parser.add_argument("--no-warm-up", action="store_true")
    parser.add_argument("--server-child", action="store_true")
    parser.add_argument("--server-age", type=float, default=60.0,
                        help="seconds a fresh server has been up when a page asks for UMAP [60]")
    parser.add_argument("--server-epochs", type=int, default=100,
                        help="epochs of each of the 4 Cora runs of the server's comparison [100]")
    args = parser.parse_args()
    if args.projection_device is not None:   # every frame, in this process and the ones it starts
        os.environ["ARGAE_PROJECTION_DEVICE"] = args.projection_device
    if args.knn:
        return knn_rows(args.projection_device or "torch-cpu", args.dim, args.repeats)
    if args.child:
        return child(args.child, warm_up=not args.no_warm_up)
    if args.server_child:
        return server_child(args.server_age, args.server_epochs)

    from argae_core import projection as P
    snaps, source = snapshots(args.epochs, args.synthetic)
    z = snaps[max(snaps)]
    prior = P.prior_samples(len(z), z.shape[1], seed=0)
    print(f"{source}; {len(snaps)} snapshots; frames of {len(z)} + {len(prior)} points, "
          f"{z.shape[1]} dims; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")

    with tempfile.TemporaryDirectory(prefix="bench-projection-") as folder:
        path = Path(folder) / "cloud.npz"
        last = sorted(snaps)[-4:]
        np.savez(path, z=z, prior=prior, **{f"z{i}": snaps[e] for i, e in enumerate(last)})
        server_cache = Path(folder) / "numba-server"
        servers = {"empty": fresh_server(server_cache, args.server_age, args.server_epochs),   # fills it
                   "filled": fresh_server(server_cache, args.server_age, args.server_epochs)}
        cache = Path(folder) / "numba"
        empty = fresh_process(path, cache, warm_up=True)     # fills the cache
        filled = fresh_process(path, cache, warm_up=True)
        alone = fresh_process(path, cache, warm_up=False)

    P.warm_up(background=False)
    print(f"projection device {P.projection_device.requested()}: PCA by {P.project(z, prior, 'pca').backend}, "
          f"UMAP by {P.project(z[:100], prior[:100], 'umap', n_epochs=5).backend}\n")
    pca_frame, pca_cpu = median_clock(lambda: P.project(z, prior, "pca"), 5)
    sequence = sequence_rows(P, snaps, prior)
    noise = noise_rows(P, z, prior)

    def timed(name, seconds):
        wall, cpu = seconds
        return (name, f"{wall:.3f} s", f"{cpu:.3f} s", f"{wall / pca_frame:.0f}x")

    def plain(name, seconds):
        return (name, f"{seconds:.2f} s", "", "")

    # a server imports the engine when it starts; "asking" is a page run after that
    rows = [("fresh process", "wall", "", "")]
    for label, run in (("numba cache empty (first run on a machine)", empty),
                       ("numba cache filled", filled)):
        rows += [(f" {label}", "", "", ""),
                 plain("   launch Python -> argae_core.projection imported", run["imported"]),
                 plain("   ask -> first PCA picture (UMAP warming in a thread)", run["pca"] - run["imported"]),
                 plain("   ask -> warm-up done", run["warm"] - run["imported"]),
                 plain("   ask -> first UMAP picture", run["umap"] - run["imported"])]
    rows += [plain(" ask -> first PCA picture, no warm-up thread", alone["pca"] - alone["imported"]),
             (f"server started {args.server_age:.0f} s before a 4-model Cora comparison "
              f"({args.server_epochs} epochs; its picture process: argae_core.ahead)", "wall", "", "")]
    for label, run in (("numba cache empty (fresh install)", servers["empty"]),
                       ("numba cache filled (python -m argae_core warm, or an earlier server)", servers["filled"])):
        rows += [(f" {label}", "", "", ""),
                 plain("   first run's end -> a UMAP picture on disk", run["first"]),
                 plain("   last run's end -> all 4 Compare pictures UMAP (quick layout)", run["four"]),
                 plain("   last run's end -> all 4 in their full layout", run["four_full"]),
                 plain("   last run's end -> its newest snapshot's UMAP picture on disk", run["newest_there"]),
                 ("   ask -> that picture on the page (drawn ahead: a read)", f"{run['newest']:.3f} s", "", ""),
                 plain("   ask -> an older snapshot's UMAP picture (on demand, warm-started from the newest; process idle)",
                       run["older"]),
                 plain("   ask -> another seed's older snapshot (on demand, cold: quick layout)", run["cold"]),
                 plain("   ask -> the same in its full layout", run["cold_full"])]
    rows += [
             ("warm process, per frame (median)", "wall", "CPU", "x PCA"),
             timed(" PCA", (pca_frame, pca_cpu)),
             timed(" UMAP cold (spectral start, 200 layout epochs)", sequence["cold"]),
             timed(" UMAP warm-started (previous frame, 30 epochs)", sequence["warm"]),
             ("15-NN preservation on screen (mean over frames)", "", "", "")]
    rows += [(f" {name}", f"{value:.3f}", "", "") for name, value in sequence["preservation"].items()]
    rows += [("motion between snapshots (RMS radii)", "", "", "")]
    rows += [(f" UMAP {name}", f"{value:.3f}", "", "") for name, value in sequence["motion"].items()]
    rows += [(f"motion for the same Z + {NOISE:.0%} noise (RMS radii)", "", "", "")]
    rows += [(f" UMAP {name}", f"{value:.3f}", "", "") for name, value in noise.items()]
    print(table(rows))
    warm_frame, warm_cpu = sequence["warm"]
    asked = max(run["pca"] - run["imported"] for run in (empty, filled))
    filled_first = min(servers["filled"]["newest"], servers["filled"]["older"])
    print(f"\ntargets (issue 16): a server started {args.server_age:.0f} s earlier draws the first Cora "
          f"UMAP within 15 s on a fresh install: on demand {servers['empty']['older']:.1f} s, drawn ahead "
          f"{servers['empty']['newest']:.2f} s -> {'met' if servers['empty']['older'] <= 15 else 'MISSED'}; "
          f"within 2 s on a warm server: drawn ahead {servers['filled']['newest']:.2f} s, on demand "
          f"{servers['filled']['older']:.1f} s (a cold one, another seed: {servers['filled']['cold']:.1f} s) -> {'met' if servers['filled']['older'] <= 2 else 'met only when drawn ahead' if filled_first <= 2 else 'MISSED'}; "
          f"Compare's 4 pictures within 15 s of the last run's end: {servers['filled']['four']:.1f} s "
          f"(fresh install {servers['empty']['four']:.1f} s) -> "
          f"{'met' if max(servers['filled']['four'], servers['empty']['four']) <= 15 else 'MISSED'}")
    print(f"targets: first picture within 5 s of asking on a fresh server: PCA after {asked:.2f} s "
          f"-> {'met' if asked <= 5 else 'MISSED'} (from launching Python, imports included: "
          f"{filled['pca']:.1f} s, {empty['pca']:.1f} s with an empty numba cache); "
          f"warm Cora UMAP frame within 1 s: warm-started {warm_frame:.2f} s -> "
          f"{'met' if warm_frame <= 1 else 'MISSED'} ({warm_cpu:.2f} s of CPU; cold {sequence['cold'][0]:.2f} s); "
          f"load average now {os.getloadavg()[0]:.1f}", flush=True)
    if args.aligned_umap:
        aligned = aligned_umap_rows(P, snaps, prior, args.aligned_umap)
        print(table([(f"AlignedUMAP, last {aligned['frames']} snapshots in one fit", "", "", ""),
                     plain(" whole fit, first use (includes compilation)", aligned["seconds"]),
                     (" 15-NN preservation", f"{aligned['preservation']:.3f}", "", ""),
                     (" motion between snapshots", f"{aligned['motion']:.3f}", "", "")]))

if __name__ == "__main__":
    main()
