"""Pictures drawn ahead of need (issue 16): the on-disk cache beside a run (key, staleness,
damaged files), the JobManager's on-done hook, the picture process's request loop, and the
live frame filler choosing the newest snapshot."""
from __future__ import annotations

import io
import json
import logging
import os
import time

import numpy as np
import pytest

from argae_core import ahead, pictures, projection, warm
from argae_core.config import TrainConfig
from argae_core.events import Done, Started
from argae_core.frames import FrameFiller
from argae_core.jobs import JobManager, ThreadExecutor
from waiting import wait  # noqa: E402



@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A finished KarateClub ARGVA run of a comparison, saved under its own runs root."""
    root = tmp_path_factory.mktemp("runs")
    manager = JobManager(ThreadExecutor(1, runs_root=str(root)), owner_timeout=600)
    try:
        job_id = manager.submit("me", TrainConfig(model="argva", epochs=20, snapshot_interval=5), group="cmp-test")
        wait(lambda: not manager.get(job_id, "me").active)
        job = manager.get(job_id, "me")
        assert job.state == "finished", job.message
    finally:
        manager.shutdown()
    return root, job


@pytest.fixture(scope="module")
def umap_warm():
    projection.warm_up(background=False)


def final_key(saved_run, seed=0):
    root, job = saved_run
    from argae_core import runs
    epoch = runs.load_run(job.run_id, root).final_embedding()[0]
    return pictures.PictureKey(job.run_id, pictures.FINAL, epoch, "umap", seed)


# ------------------------------------------------------------------ the key
def test_the_key_names_run_kind_epoch_method_seed_and_cap_and_round_trips():
    key = pictures.PictureKey("run-1", pictures.SNAPSHOT, 40, "umap", 3, 500)
    assert key.filename == "snapshot-e00040-umap-s3-c500.npz"
    assert pictures.PictureKey.from_dict(json.loads(json.dumps(key.to_dict()))) == key
    assert pictures.PictureKey("run-1", pictures.FINAL, 40).filename != key.filename
    with pytest.raises(ValueError, match="kind"):
        pictures.PictureKey("run-1", "middle", 40)
    with pytest.raises(Exception, match="not a run id"):
        pictures.PictureKey("../etc", pictures.FINAL, 1)


# ------------------------------------------------------------------ the cache
def test_a_picture_is_drawn_once_then_read_back_from_beside_the_run(saved_run, umap_warm, monkeypatch):
    root, _ = saved_run
    key = final_key(saved_run, seed=11)
    assert pictures.load(key, root) is None
    drawn = pictures.draw(key, root)
    assert pictures.cache_path(key, root).is_file() and drawn.method == "umap"
    # a second draw reads the file: projecting again would fail here
    monkeypatch.setattr(projection, "project", lambda *a, **k: pytest.fail("projected twice"))
    again = pictures.draw(key, root)
    np.testing.assert_array_equal(again.z_xy, drawn.z_xy)
    np.testing.assert_array_equal(again.prior_xy, drawn.prior_xy)


def test_a_quick_layout_is_kept_until_the_full_one_replaces_it(saved_run, umap_warm):
    root, _ = saved_run
    key = final_key(saved_run, seed=13)
    quick = pictures.draw(key, root, layout_epochs=pictures.QUICK_LAYOUT_EPOCHS)
    frame, epochs = pictures.load_entry(key, root)
    assert epochs == pictures.QUICK_LAYOUT_EPOCHS and pictures.is_quick(key, epochs)
    np.testing.assert_array_equal(frame.z_xy, quick.z_xy)
    assert pictures.load(key, root) is not None and pictures.load(key, root, full=True) is None
    # asking for the quick one again reads it; asking for the full one draws it
    np.testing.assert_array_equal(pictures.draw(key, root, layout_epochs=10).z_xy, quick.z_xy)
    full = pictures.draw(key, root)
    assert pictures.load_entry(key, root)[1] == pictures.FULL_LAYOUT_EPOCHS
    assert not np.array_equal(full.z_xy, quick.z_xy)
    np.testing.assert_array_equal(pictures.load(key, root, full=True).z_xy, full.z_xy)


def test_the_picture_is_the_one_the_page_would_draw(saved_run, umap_warm):
    """Same Z, same prior draw, same seed: the cached picture equals projecting in the page."""
    root, job = saved_run
    from argae_core import runs
    key = final_key(saved_run, seed=5)
    z = runs.load_run(job.run_id, root).final_embedding()[1]
    expected = projection.project(z, projection.prior_samples(len(z), z.shape[1], 5), "umap", seed=5)
    np.testing.assert_allclose(pictures.draw(key, root).z_xy, expected.z_xy, atol=1e-5)


def test_a_rewritten_z_file_or_new_layout_settings_make_the_picture_stale(saved_run, umap_warm, monkeypatch):
    root, job = saved_run
    from argae_core import runs
    epoch = runs.load_run(job.run_id, root).snapshot_epochs[-1]
    key = pictures.PictureKey(job.run_id, pictures.SNAPSHOT, epoch, "umap", 2)
    pictures.draw(key, root)
    assert pictures.load(key, root) is not None
    monkeypatch.setattr(pictures, "VERSION", pictures.VERSION + "-other")
    assert pictures.load(key, root) is None
    monkeypatch.undo()
    source = pictures.source_path(key, root)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))   # the snapshot was written again
    assert pictures.load(key, root) is None
    assert pictures.draw(key, root) is not None and pictures.load(key, root) is not None


def test_a_picture_keeps_what_computed_it_and_the_device_comes_from_the_environment(saved_run, monkeypatch):
    """The picture process's projections follow ARGAE_PROJECTION_DEVICE (or draw's `device`), and
    the file says which backend drew it (older files, without it, read as unknown)."""
    root, job = saved_run
    from argae_core import runs
    epoch = runs.load_run(job.run_id, root).snapshot_epochs[0]
    key = pictures.PictureKey(job.run_id, pictures.SNAPSHOT, epoch, "pca", 31)
    monkeypatch.setenv("ARGAE_PROJECTION_DEVICE", "torch-cpu")
    assert pictures.draw(key, root).backend == "torch PCA on cpu"
    assert pictures.load(key, root).backend == "torch PCA on cpu"
    other = pictures.PictureKey(job.run_id, pictures.SNAPSHOT, epoch, "pca", 32)
    assert pictures.draw(other, root, device="cpu").backend == projection.SKLEARN_PCA == pictures.load(other, root).backend
    monkeypatch.setenv("ARGAE_PROJECTION_DEVICE", "tpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pictures.draw(pictures.PictureKey(job.run_id, pictures.SNAPSHOT, epoch, "pca", 33), root)
    asked = json.dumps({"key": pictures.PictureKey(job.run_id, pictures.SNAPSHOT, epoch, "umap", 34).to_dict(),
                        "root": str(root)})
    answers = io.StringIO()
    warm.serve(io.StringIO(f"{ahead.NOW}\t{asked}\n"), answers)   # the picture process says why, per request
    assert answers.getvalue().splitlines()[1] == (f"failed {asked}\tprojection device: unknown device 'tpu' "
                                                  "(from ARGAE_PROJECTION_DEVICE); choose auto, cpu, cuda, torch-cpu")
    path = pictures.cache_path(key, root)
    with np.load(path) as arrays:
        older = {name: arrays[name] for name in arrays.files if name != "backend"}
    np.savez(path, **older)
    assert pictures.load(key, root).backend == ""


@pytest.mark.parametrize("damage", [b"", b"not a zip file at all", "truncate"])
def test_a_damaged_picture_file_is_logged_and_ignored_then_drawn_again(saved_run, umap_warm, caplog, damage):
    root, _ = saved_run
    key = final_key(saved_run, seed=21)
    pictures.draw(key, root)
    path = pictures.cache_path(key, root)
    path.write_bytes(path.read_bytes()[:200] if damage == "truncate" else damage)
    with caplog.at_level(logging.WARNING, logger="argae_core.pictures"):
        assert pictures.load(key, root) is None
    assert any("damaged picture cache" in r.getMessage() for r in caplog.records)
    assert pictures.draw(key, root) is not None and pictures.load(key, root) is not None


def test_a_missing_run_or_epoch_is_a_clear_error_not_a_traceback(saved_run):
    root, job = saved_run
    from argae_core import runs
    with pytest.raises(runs.RunError, match="no snapshot at epoch 3"):
        pictures.draw(pictures.PictureKey(job.run_id, pictures.SNAPSHOT, 3), root)
    assert pictures.load(pictures.PictureKey("no-such-run", pictures.FINAL, 1), root) is None


def test_keys_ahead_are_the_scored_z_for_a_comparison_and_the_newest_snapshot(saved_run):
    root, job = saved_run
    from argae_core import runs
    run = runs.load_run(job.run_id, root)
    keys = pictures.keys_ahead(job.run_id, "cmp-x", 4, root)
    assert [(k.kind, k.epoch, k.seed) for k in keys] == [
        (pictures.FINAL, run.final_embedding()[0], 4), (pictures.SNAPSHOT, run.snapshot_epochs[-1], 0)]
    assert [k.kind for k in pictures.keys_ahead(job.run_id, None, 4, root)] == [pictures.SNAPSHOT]
    assert pictures.keys_ahead("no-such-run", "cmp-x", 0, root) == []


# ------------------------------------------------------------------ the picture process
def test_the_serve_loop_draws_what_is_asked_most_urgent_first_and_says_so(saved_run, umap_warm):
    root, job = saved_run
    final = final_key(saved_run, seed=31)
    bad = {"key": {"run_id": "no-such-run", "kind": "final", "epoch": 1}, "root": str(root)}
    lines = [f"{ahead.LATER}\t" + json.dumps({"run": {"run_id": job.run_id, "group": None, "seed": 31},
                                              "root": str(root)}),
             f"{ahead.NOW}\t" + json.dumps({"key": final.to_dict(), "root": str(root)}),
             f"{ahead.NOW}\t" + json.dumps(bad), "oops\tnot json"]
    answers = io.StringIO()
    warm.serve(io.StringIO("\n".join(lines) + "\n"), answers)
    said = answers.getvalue().splitlines()
    assert said[0] == "ready"
    assert pictures.load(final, root) is not None
    snapshot_keys = pictures.keys_ahead(job.run_id, None, 0, root)
    assert snapshot_keys and pictures.load(snapshot_keys[0], root) is not None   # the run's newest snapshot
    assert sum(s.startswith("failed") for s in said) == 2
    assert any(s.startswith("failed") and "no-such-run" in s for s in said)
    quick = [s for s in said if s.startswith("quick")]
    assert json.loads(quick[0][6:])["key"] == final.to_dict()   # NOW before LATER, though asked second
    drawn = [s for s in said if s.startswith("done") and '"key"' in s]
    assert len(quick) == 2 and len(drawn) == 2   # each picture quick, then in full (and the run's line done)
    # each picture was drawn quick first, then in full
    assert [s.split(" ", 1)[0] for s in said if "final" in s and str(final.seed) in s][:2] == ["quick", "done"]
    assert pictures.load(final, root, full=True) is not None


def test_an_older_snapshot_starts_from_its_drawn_neighbour_and_skips_the_quick_layout(saved_run, umap_warm,
                                                                                       monkeypatch):
    """The newest snapshot is drawn when a run ends; a user then scrubbing back asks for an
    older one: it is warm-started from the nearest full picture (a quarter of a cold layout's
    CPU), counts as full, keeps the layout's quality, and the serve loop sends no quick one."""
    from sklearn.manifold import trustworthiness
    from argae_core import runs
    root, job = saved_run
    epochs = runs.load_run(job.run_id, root).snapshot_epochs
    keys = [pictures.PictureKey(job.run_id, pictures.SNAPSHOT, e, "umap", 41) for e in epochs]
    assert pictures.neighbour(keys[0], root) is None   # nothing drawn yet: a cold layout
    pictures.draw(keys[-1], root)
    assert pictures.neighbour(keys[0], root) is not None
    assert pictures.neighbour(pictures.PictureKey(job.run_id, pictures.SNAPSHOT, epochs[0], "umap", 42), root) is None
    starts = []
    real = projection.project
    monkeypatch.setattr(projection, "project", lambda *a, **k: starts.append(k.get("init")) or real(*a, **k))
    answers = io.StringIO()
    warm.serve(io.StringIO(f"{ahead.NOW}\t" + json.dumps({"key": keys[0].to_dict(), "root": str(root)}) + "\n"),
               answers)
    said = answers.getvalue().splitlines()
    assert not any(s.startswith("quick") for s in said) and any(s.startswith("done") for s in said), said
    assert len(starts) == 1 and starts[0] is not None   # one layout, warm-started
    warm_frame, layout = pictures.load_entry(keys[0], root)
    assert not pictures.is_quick(keys[0], layout)
    z = runs.load_run(job.run_id, root).snapshot(epochs[0])[0]
    points = np.vstack([z, pictures.prior_for(keys[0], z)])
    cold = real(z, pictures.prior_for(keys[0], z), "umap", seed=41)
    kept = trustworthiness(points, np.vstack([warm_frame.z_xy, warm_frame.prior_xy]), n_neighbors=5)
    assert kept >= trustworthiness(points, cold.xy, n_neighbors=5) - 0.05, kept


def test_the_live_loop_refines_each_newest_snapshot_from_the_one_before_and_skips_superseded_ones(
        saved_run, umap_warm, monkeypatch):
    """`warm --serve --live`: the first snapshot is a quick layout, each next one starts from
    the picture before it (quick or not), and a snapshot asked while a newer one of its run
    waits is skipped."""
    from argae_core import runs
    root, job = saved_run
    epochs = runs.load_run(job.run_id, root).snapshot_epochs
    keys = [pictures.PictureKey(job.run_id, pictures.SNAPSHOT, e, "umap", 51) for e in epochs]
    starts = []
    real = projection.project
    monkeypatch.setattr(projection, "project", lambda *a, **k: starts.append(k.get("init")) or real(*a, **k))
    for key in keys[:2]:   # one at a time, as a training writes them
        answers = io.StringIO()
        warm.serve(io.StringIO(f"{ahead.NOW}\t" + json.dumps({"key": key.to_dict(), "root": str(root)}) + "\n"),
                   answers, live=True)
        assert any(s.startswith("done") for s in answers.getvalue().splitlines())
    assert starts[0] is None and starts[1] is not None   # cold, then from the one before
    assert pictures.is_quick(keys[0], pictures.load_entry(keys[0], root)[1])
    assert not pictures.is_quick(keys[1], pictures.load_entry(keys[1], root)[1])
    assert warm._supersedes(json.dumps({"key": keys[2].to_dict()}), keys[1])
    assert not warm._supersedes(json.dumps({"key": keys[1].to_dict()}), keys[2])
    other_seed = pictures.PictureKey(job.run_id, pictures.SNAPSHOT, epochs[-1], "umap", 52)
    assert not warm._supersedes(json.dumps({"key": other_seed.to_dict()}), keys[1])
    assert not warm._supersedes("not json", keys[1])


# ------------------------------------------------------------------ the on-done hook
class FakeExecutor:
    slots = 1

    def __init__(self):
        import queue
        self.events = queue.Queue()
        self.started = []

    def start(self, slot, job_id, config, group, user):
        self.started.append(job_id)

    def control(self, slot, command):
        pass

    def alive(self, slot):
        return True

    def shutdown(self):
        pass


def test_the_done_hook_is_called_once_per_run_that_ended_with_a_saved_run():
    executor = FakeExecutor()
    manager = JobManager(executor, owner_timeout=600)
    told, broken = [], []
    manager.add_done_hook(told.append)
    manager.add_done_hook(lambda job: broken.append(job) or 1 / 0)   # a bug in one hook
    try:
        first = manager.submit("me", TrainConfig(epochs=5), group="g")
        second = manager.submit("me", TrainConfig(epochs=5))
        manager._apply(Started(first, "run-a", {}), manager._jobs[first])
        manager._apply(Done(first, "finished", {}), manager._jobs[first])
        manager._apply(Done(first, "finished", {}), manager._jobs[first])   # told twice: one call
        manager._apply(Done(second, "stopped", {}), manager._jobs[second])  # never started: no run
        assert [(j.job_id, j.run_id, j.group) for j in told] == [(first, "run-a", "g")]
        assert len(broken) == 1 and manager.get(first, "me").state == "finished"
    finally:
        manager.shutdown()


def test_a_real_training_end_reaches_the_hook_after_its_files_are_written(tmp_path):
    manager = JobManager(ThreadExecutor(1, runs_root=str(tmp_path)), owner_timeout=600)
    seen = []
    manager.add_done_hook(lambda job: seen.append((job.run_id, (tmp_path / job.run_id / "embedding.npz").exists())))
    try:
        job_id = manager.submit("me", TrainConfig(epochs=6, snapshot_interval=3))
        wait(lambda: not manager.get(job_id, "me").active)
        wait(lambda: seen)
        assert seen == [(manager.get(job_id, "me").run_id, True)]
    finally:
        manager.shutdown()


# ------------------------------------------------------------------ the live filler
def test_the_live_filler_draws_only_the_newest_snapshot_warm_started_from_the_last_frame():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((40, 6)).astype(np.float32)
    snapshots = {e: base + 0.01 * e for e in range(10, 110, 10)}
    loaded = []

    def load_z(epoch):
        loaded.append(epoch)
        return snapshots[epoch]
    projector = projection.Projector("pca", seed=0, cap=100)
    filler = FrameFiller(projector, load_z, cpu_share=1.0)
    filler.ask(30, [10, 20, 30], newest_only=True)
    wait(lambda: not filler.busy)
    filler.ask(100, list(snapshots), newest_only=True)   # behind: 40-90 arrived meanwhile
    wait(lambda: not filler.busy)
    assert loaded == [30, 100] and sorted(projector.frames) == [30, 100]
    # a scrub on a finished run fills the neighbours too
    filler.ask(50, list(snapshots))
    wait(lambda: not filler.busy)
    assert {40, 50, 60} <= set(projector.frames)


def test_the_filler_rests_after_a_frame_to_stay_under_its_cpu_share():
    def slow_z(epoch):
        spent = time.thread_time()
        while time.thread_time() - spent < 0.1:   # 0.1 s of this thread's CPU
            pass
        return np.ones((20, 3), dtype=np.float32) * epoch + np.arange(60, dtype=np.float32).reshape(20, 3)
    filler = FrameFiller(projection.Projector("pca", seed=0, cap=100), slow_z, cpu_share=0.25)
    started = time.monotonic()
    filler.ask(1, [1], newest_only=True)
    wait(lambda: not filler.busy)
    assert time.monotonic() - started >= 0.1 * 4 * 0.9   # 0.1 s of work, then about 0.3 s of rest
    with pytest.raises(ValueError, match="cpu_share"):
        FrameFiller(projection.Projector("pca"), slow_z, cpu_share=0)


def test_a_picture_read_again_comes_from_memory_until_its_file_changes(saved_run, umap_warm, monkeypatch):
    root, _ = saved_run
    key = final_key(saved_run, seed=23)
    pictures.draw(key, root)
    reads = []
    real_read = pictures._read_entry
    monkeypatch.setattr(pictures, "_read_entry", lambda *a: reads.append(1) or real_read(*a))
    first = pictures.load(key, root)
    assert pictures.load(key, root) is first and len(reads) <= 1     # no second read of the file
    # a new picture file (as the full layout replaces a quick one) is read
    pictures.save(key, first, pictures.fingerprint(pictures.source_path(key, root)), root, layout_epochs=7)
    entry = pictures.load_entry(key, root)
    assert entry is not None and entry[1] == 7 and len(reads) == 2
    pictures.cache_path(key, root).unlink()
    assert pictures.load(key, root) is None


@pytest.mark.parametrize("method, held", [("umap", True), ("pca", False)])
def test_the_pages_own_filler_draws_a_umap_frame_under_the_drawing_lock(monkeypatch, tmp_path, method, held):
    """A training on this machine runs a thread fewer while the page's filler lays out a UMAP
    frame (threads.Yielding); a PCA frame is instant and leaves it alone."""
    from argae_core import threads
    monkeypatch.setattr(threads, "DRAWING_LOCK", str(tmp_path / "drawing.lock"))
    monkeypatch.setattr(projection, "warm_up", lambda background=True: None)
    training = threads.Yielding(2, lambda n: None)
    seen = []

    class Projector:
        frames: dict = {}

        def __init__(self):
            self.method = method

        def frame(self, epoch, z, previous, quick=False):
            seen.append(training.busy())
            self.frames[epoch] = z
    filler = FrameFiller(Projector(), lambda epoch: np.zeros((4, 2)), cpu_share=1.0)
    filler.ask(10, [10], newest_only=True)
    wait(lambda: not filler.busy)
    assert seen == [held] and not training.busy()
