"""Projections of Z with prior samples, on small synthetic clouds.

umap compiles its numba code once per process (seconds, or a minute on a machine whose numba
cache is empty): the module fixture `umap_warm` pays that once for every UMAP test here."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from argae_core import projection as P

# umap's note that transform() needs its own search index: we never call transform()
pytestmark = pytest.mark.filterwarnings("ignore:precomputed_knn")


def clustered(n: int = 150, dim: int = 8, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    """Three well separated Gaussian clusters, moved by `shift` along every axis."""
    rng = np.random.default_rng(seed)
    centres = 6.0 * rng.standard_normal((3, dim))
    return (centres[np.arange(n) % 3] + rng.standard_normal((n, dim)) + shift).astype(np.float32)


def moved(current: np.ndarray, previous: np.ndarray) -> float:
    """Mean displacement of the points between two frames, in units of the previous frame's
    RMS radius."""
    radius = np.sqrt(((previous - previous.mean(axis=0)) ** 2).sum(axis=1).mean())
    return float(np.linalg.norm(current - previous, axis=1).mean() / radius)


def neighbour_overlap(points: np.ndarray, xy: np.ndarray, k: int = 10) -> float:
    """Share of each point's k nearest neighbours in `points` that are also its k nearest
    on screen."""
    high = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)[1][:, 1:]
    low = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy)[1][:, 1:]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(high, low)]))


@pytest.fixture(scope="module")
def umap_warm():
    P.warm_up(background=False)
    assert P.is_warm()


# ------------------------------------------------------------------- inputs
def test_prior_samples_are_seeded_standard_normal():
    a, b, c = P.prior_samples(4000, 3, 7), P.prior_samples(4000, 3, 7), P.prior_samples(4000, 3, 8)
    assert a.shape == (4000, 3) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.allclose(a.mean(axis=0), 0, atol=0.1) and np.allclose(a.std(axis=0), 1, atol=0.1)
    with pytest.raises(ValueError, match="dim"):
        P.prior_samples(10, 0)


def test_subsample_respects_the_cap_and_the_seed():
    assert P.subsample(100, cap=100) is None
    index = P.subsample(1000, cap=100, seed=3)
    assert len(index) == 100 == len(np.unique(index))
    assert np.all(np.diff(index) > 0) and index.min() >= 0 and index.max() < 1000
    assert np.array_equal(index, P.subsample(1000, cap=100, seed=3))
    assert not np.array_equal(index, P.subsample(1000, cap=100, seed=4))
    with pytest.raises(ValueError, match="cap"):
        P.subsample(10, cap=0)


# --------------------------------------------------------------- projection
@pytest.mark.parametrize("method", P.METHODS)
def test_both_clouds_come_back_in_their_own_rows(method, request):
    if method == "umap":
        request.getfixturevalue("umap_warm")
    z, prior = clustered(120, shift=30.0), P.prior_samples(90, 8, seed=1)
    frame = P.project(z, prior, method)
    assert frame.method == method and not frame.subsampled
    assert frame.z_xy.shape == (120, 2) and frame.prior_xy.shape == (90, 2)
    assert np.isfinite(frame.xy).all()
    # Z sits far from the prior, so a split in the wrong place would mix the two clouds
    gap = np.linalg.norm(frame.z_xy.mean(axis=0) - frame.prior_xy.mean(axis=0))
    assert gap > 2 * frame.prior_xy.std(axis=0).max()


def test_umap_is_deterministic_under_a_seed(umap_warm):
    z, prior = clustered(), P.prior_samples(150, 8, seed=1)
    first = P.project(z, prior, "umap", seed=5)
    again = P.project(z, prior, "umap", seed=5)
    other = P.project(z, prior, "umap", seed=6)
    assert np.array_equal(first.xy, again.xy)
    assert not np.allclose(first.xy, other.xy)


def test_large_clouds_are_projected_as_a_seeded_subsample():
    z, prior = clustered(500), P.prior_samples(400, 8, seed=1)
    frame = P.project(z, prior, "pca", cap=100, seed=2)
    assert frame.subsampled
    assert frame.z_xy.shape == (100, 2) and frame.prior_xy.shape == (100, 2)
    assert np.array_equal(frame.z_index, P.subsample(500, 100, 2))
    assert np.array_equal(frame.prior_index, P.subsample(400, 100, 2))
    # the frame's rows are those Z rows: PCA of exactly them gives the same picture
    alone = P.project(z[frame.z_index], prior[frame.prior_index], "pca")
    assert np.allclose(alone.xy, frame.xy, atol=1e-4)


def test_pca_of_a_one_dimensional_latent_is_the_value_on_a_line():
    z, prior = clustered(50, dim=1), P.prior_samples(50, 1, seed=1)
    frame = P.project(z, prior, "pca")
    values = np.vstack([z, prior])[:, 0]
    assert np.all(frame.xy[:, 1] == 0)
    assert abs(np.corrcoef(frame.xy[:, 0], values)[0, 1]) == pytest.approx(1.0)


def test_pca_of_a_two_dimensional_latent_keeps_every_distance():
    z, prior = clustered(50, dim=2), P.prior_samples(50, 2, seed=1)
    frame = P.project(z, prior, "pca")
    points = np.vstack([z, prior])
    original = np.linalg.norm(points[:, None] - points[None], axis=-1)
    on_screen = np.linalg.norm(frame.xy[:, None] - frame.xy[None], axis=-1)
    assert np.allclose(original, on_screen, atol=1e-3)


def test_umap_handles_a_one_dimensional_latent(umap_warm):
    frame = P.project(clustered(40, dim=1), P.prior_samples(40, 1, seed=1), "umap")
    assert frame.xy.shape == (80, 2) and np.isfinite(frame.xy).all()


# ------------------------------------------------------------------ errors
def test_non_finite_values_are_refused_with_the_row():
    z = clustered(30)
    z[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"Z has NaN.*row 7.*diverged"):
        P.project(z, P.prior_samples(30, 8), "pca")
    prior = P.prior_samples(30, 8)
    prior[3, 0] = np.inf
    with pytest.raises(ValueError, match="prior sample has NaN"):
        P.project(clustered(30), prior, "pca")


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "tsne"}, "unknown projection method"),
    ({"prior": P.prior_samples(30, 4)}, "8 dimensions but the prior sample has 4"),
    ({"init": np.zeros((10, 2))}, "previous frame has shape"),
])
def test_bad_arguments_say_what_is_wrong(kwargs, message):
    arguments = {"z": clustered(30), "prior": P.prior_samples(30, 8), "method": "pca", **kwargs}
    with pytest.raises(ValueError, match=message):
        P.project(**arguments)


def test_umap_refuses_too_few_points():
    with pytest.raises(ValueError, match="at least 4 points"):
        P.project(clustered(1), P.prior_samples(2, 8), "umap")


# ------------------------------------------------------------ stable frames
def test_align_undoes_rotation_reflection_scale_and_shift():
    reference = P.prior_samples(60, 2, seed=4)
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    reflected = (3.0 * reference @ rotation) * np.array([1, -1]) + np.array([5.0, -2.0])
    assert np.allclose(P.align(reflected, reference), reference, atol=1e-4)


def test_a_slightly_changed_z_keeps_its_picture_when_warm_started(umap_warm):
    """The same small change to Z, projected three ways, against the frame before it:
    cold (UMAP's own placement), cold then aligned, and warm-started (then aligned)."""
    z, prior = clustered(300), P.prior_samples(300, 8, seed=1)
    changed = z + 0.02 * z.std() * np.random.default_rng(9).standard_normal(z.shape).astype(np.float32)
    cold_motion, aligned_motion, warm_motion = [], [], []
    for seed in range(3):  # one seed can be lucky: compare means
        before = P.project(z, prior, "umap", seed=seed)
        cold = P.project(changed, prior, "umap", seed=seed)
        warm = P.project(changed, prior, "umap", init=before, seed=seed)
        assert warm.warm_started and not cold.warm_started
        cold_motion.append(moved(cold.xy, before.xy))
        aligned_motion.append(moved(P.align(cold.xy, before.xy), before.xy))
        warm_motion.append(moved(warm.xy, before.xy))
    assert np.all(np.array(aligned_motion) <= cold_motion)
    # measured: cold 0.34-0.41, aligned 0.21-0.27, warm 0.10-0.11 radii (mean ratio 0.43; on
    # Cora 0.18); a warm start that ignored the previous frame would sit near 1
    assert np.mean(warm_motion) < 0.7 * np.mean(aligned_motion)


def test_a_warm_start_follows_a_real_change_in_z(umap_warm):
    """Warm-starting must not freeze the picture: when a third of the points jump to another
    cluster, the warm frame gains most of the neighbourhood agreement a fresh layout gains
    over the old frame (measured: 0.11 of 0.11)."""
    z, prior = clustered(), P.prior_samples(150, 8, seed=1)
    before = P.project(z, prior, "umap")
    jumped = z.copy()
    noise = 0.3 * np.random.default_rng(4).standard_normal((50, 8)).astype(np.float32)
    jumped[::3] = z[1::3] + noise  # cluster 0's points move into cluster 1
    warm = P.project(jumped, prior, "umap", init=before)
    cold = P.project(jumped, prior, "umap")
    points = np.vstack([jumped, prior])
    stale = neighbour_overlap(points, before.xy)
    assert neighbour_overlap(points, warm.xy) - stale > 0.5 * (neighbour_overlap(points, cold.xy) - stale)


def test_projector_starts_each_frame_from_the_one_before(umap_warm):
    rng = np.random.default_rng(2)
    base = clustered()
    snapshots = {epoch: base + 0.05 * epoch * rng.standard_normal(base.shape).astype(np.float32)
                 for epoch in (1, 5, 10)}
    projector = P.Projector("umap", seed=0)
    frames = projector.update({1: snapshots[1], 5: snapshots[5]})
    assert list(frames) == [1, 5]
    assert not frames[1].warm_started and frames[5].warm_started
    prior_before = projector.prior(150, 8).copy()
    frames = projector.update(snapshots)          # a new snapshot arrived
    assert frames[5] is projector.frames[5]       # computed once
    assert frames[10].warm_started
    assert np.array_equal(projector.prior(150, 8), prior_before)  # one prior for the whole run
    in_one_go = P.project_sequence(snapshots, "umap", seed=0)
    assert all(np.array_equal(in_one_go[e].xy, frames[e].xy) for e in snapshots)


def test_projector_draws_only_as_many_prior_points_as_it_shows():
    projector = P.Projector("pca", cap=50)
    frame = projector.frame(3, clustered(200))
    assert frame.z_xy.shape == (50, 2) and frame.prior_xy.shape == (50, 2)
    assert frame.prior_index is None and len(frame.z_index) == 50


# ------------------------------------------------------------------ 3-D pictures
@pytest.mark.parametrize("method", P.METHODS)
def test_a_3d_picture_has_three_axes_for_both_clouds(method, request):
    if method == "umap":
        request.getfixturevalue("umap_warm")
    z, prior = clustered(90), P.prior_samples(60, 8, seed=1)
    frame = P.project(z, prior, method, components=3)
    assert frame.z_xy.shape == (90, 3) and frame.prior_xy.shape == (60, 3) and frame.components == 3
    assert np.isfinite(frame.xy).all() and np.ptp(frame.xy, axis=0).min() > 0  # no flat axis
    # a 3-D UMAP still keeps neighbourhoods: the three clusters stay apart (measured 0.9 of 10 neighbours)
    assert neighbour_overlap(np.vstack([z, prior]), frame.xy) > 0.5


def test_the_3d_pca_adds_the_third_component_to_the_2d_one():
    """The same fit: the first two axes of the 3-D picture are the 2-D picture."""
    z, prior = clustered(120), P.prior_samples(120, 8, seed=1)
    flat, deep = P.project(z, prior, "pca"), P.project(z, prior, "pca", components=3)
    assert np.allclose(deep.xy[:, :2], flat.xy, atol=1e-4)
    low = P.project(z[:, :2], prior[:, :2], "pca", components=3)  # latent size 2: the plane, at height 0
    assert np.allclose(low.xy[:, 2], 0) and np.allclose(low.xy[:, :2], P.project(z[:, :2], prior[:, :2], "pca").xy)


def test_a_3d_umap_frame_warm_starts_from_the_3d_frame_before(umap_warm):
    z, prior = clustered(150), P.prior_samples(150, 8, seed=1)
    before = P.project(z, prior, "umap", components=3)
    after = P.project(z + 0.01, prior, "umap", init=before, components=3)
    assert after.warm_started and after.xy.shape == (300, 3)
    assert moved(after.xy, before.xy) < 0.3
    with pytest.raises(ValueError, match="to 2-D"):  # a 3-D frame cannot start a 2-D one
        P.project(z, prior, "umap", init=before)


@pytest.mark.parametrize("components", [1, 4, "3"])
def test_only_2d_and_3d_pictures_are_drawn(components):
    with pytest.raises(ValueError, match="2 or 3 dimensions"):
        P.project(clustered(30), P.prior_samples(30, 8), "pca", components=components)
    with pytest.raises(ValueError, match="2 or 3 dimensions"):
        P.Projector("pca", components=components)


def test_2d_and_3d_frames_of_one_run_are_kept_apart():
    """One projector per number of dimensions: computing the 3-D frame of an epoch leaves
    the 2-D frame of that epoch as it was, and each goes on from its own frames."""
    snapshots = {1: clustered(100), 5: clustered(100, shift=0.3)}
    flat, deep = P.Projector("pca", components=2), P.Projector("pca", components=3)
    first = flat.frame(1, snapshots[1])
    deep.update(snapshots)
    flat.frame(5, snapshots[5])
    assert flat.frames[1] is first and {f.components for f in flat.frames.values()} == {2}
    assert {f.components for f in deep.frames.values()} == {3}
    assert np.array_equal(flat.prior(100, 8), deep.prior(100, 8))  # the same prior draw in both


def test_warm_up_is_done_once(umap_warm):
    assert P.warm_up() is None and P.is_warm()


# ------------------------------------------------------ latent statistics
def test_dimension_stats_against_the_standard_normal():
    rng = np.random.default_rng(0)
    z = np.hstack([rng.standard_normal((3000, 1)), 3.0 + 0.5 * rng.standard_normal((3000, 1))])
    stats = P.dimension_stats(z, bins=40)
    assert stats["edges"][0] <= -4 and stats["edges"][-1] >= 4 and len(stats["edges"]) == 41
    assert stats["counts"].shape == (2, 40)
    assert np.array_equal(stats["counts"].sum(axis=1) + stats["outside"], [3000, 3000])
    assert stats["prior_counts"].sum() == pytest.approx(3000 * 0.99994, rel=1e-3)
    assert np.allclose(stats["mean"], [0, 3], atol=0.1) and np.allclose(stats["std"], [1, 0.5], atol=0.1)
    assert stats["ks"][0] < 0.05 < 0.5 < stats["ks"][1]


def test_prior_match_curve_follows_z_toward_the_prior_within_its_budget():
    prior_like = P.prior_samples(400, 4, seed=3)
    snapshots = {10: 0.5 * prior_like + 2.0, 1: 0.2 * prior_like + 5.0, 20: prior_like,
                 30: np.full((400, 4), np.nan, dtype=np.float32)}
    curve = P.PriorMatchCurve(snapshots.__getitem__, seed=0)
    assert curve.fill([1, 10, 20, 30], budget_seconds=0.0) == 3  # one measured, then the budget is spent
    assert curve.fill([1, 10, 20, 30], first=20, budget_seconds=60) == 0
    points = curve.points([1, 10, 20, 30])
    assert [epoch for epoch, _ in points] == [1, 10, 20]  # the NaN snapshot has no point...
    assert "Z at epoch 30" in curve.errors[30]            # ...but a reason
    mmd = [m["mmd"] for _, m in points]
    spread = [m["z_std"] for _, m in points]
    c2st = [m["c2st"] for _, m in points]
    assert mmd[0] > mmd[1] > mmd[2]
    assert spread == pytest.approx([0.2, 0.5, 1.0], abs=0.06)
    assert c2st[0] > 0.9 and c2st[2] < 0.6
