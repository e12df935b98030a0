"""Where a latent picture is computed (issue 18, projection on the GPU): the device choice, the
torch path run on the CPU device ("torch-cpu", the GPU's code where there is no GPU) against
scikit-learn, and the cuML branch with a fake `cuml` module. No GPU is needed: CUDA is faked
where a test needs torch to see one, and no test computes on it."""
from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from argae_core import projection as P
from argae_core import projection_device as D
from argae_core.config import ConfigError

PROJECT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore:precomputed_knn")


def cloud(rows: int, dim: int, seed: int = 0, scale: float = 3.0, shift: float = 5.0) -> np.ndarray:
    """Continuous random points, off the origin (no ties among distances)."""
    return (scale * np.random.default_rng(seed).standard_normal((rows, dim)) + shift).astype(np.float32)


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv(D.ENV, raising=False)


class FakeUmapModule:
    """Stands in for umap-learn (or cuML's module): records each UMAP's arguments, lays the
    points out on a seeded random plane (no numba, no GPU)."""

    def __init__(self, fail: Exception | None = None):
        self.calls: list[dict] = []
        self.fail = fail
        module = self

        class UMAP:
            def __init__(self, **kwargs):
                module.calls.append(kwargs)
                self.kwargs = kwargs

            def fit_transform(self, points):
                if module.fail is not None:
                    raise module.fail
                rng = np.random.default_rng(self.kwargs["random_state"])
                return rng.standard_normal((len(points), self.kwargs["n_components"]))
        self.UMAP = UMAP


# ------------------------------------------------------------------ the kNN
@pytest.mark.parametrize("dim", [5, 24, 64])   # scikit-learn's tree (<= 15 dimensions) and brute force
def test_the_torch_knn_gives_scikit_learns_neighbours_and_distances(dim):
    points = cloud(700, dim, seed=dim)
    distances, indices = NearestNeighbors(n_neighbors=15).fit(points).kneighbors(points)
    # a small chunk budget: 7 rows per chunk, the last chunk shorter
    ours_i, ours_d = D.knn(points, 15, "cpu", chunk_elements=5000)
    assert ours_i.dtype == np.int32 and ours_d.dtype == np.float32
    assert ours_i.shape == ours_d.shape == (700, 15)
    np.testing.assert_array_equal(ours_i, indices)
    np.testing.assert_allclose(ours_d, distances, rtol=0, atol=1e-5)
    assert np.array_equal(ours_i[:, 0], np.arange(700)) and np.all(ours_d[:, 0] == 0)   # itself first
    assert np.all(np.diff(ours_d, axis=1) >= 0)


def test_the_torch_knn_puts_each_point_first_even_beside_a_duplicate_and_far_from_the_origin():
    points = cloud(200, 32, seed=3, scale=1.0, shift=1000.0)   # |x|^2 ~ 3e7: the expanded form cancels
    points[10] = points[11]                                    # a duplicate: two neighbours at 0
    distances, indices = NearestNeighbors(n_neighbors=6).fit(points).kneighbors(points)
    ours_i, ours_d = D.knn(points, 6, "cpu", chunk_elements=1000)
    assert np.array_equal(ours_i[:, 0], np.arange(200))
    assert set(ours_i[10, :2]) == {10, 11} and set(ours_i[11, :2]) == {10, 11}
    rest = np.setdiff1d(np.arange(200), [10, 11])   # the others: the same, the twins either way round
    np.testing.assert_array_equal(np.where(ours_i == 11, 10, ours_i)[rest], np.where(indices == 11, 10, indices)[rest])
    np.testing.assert_allclose(ours_d, distances, rtol=0, atol=1e-4)


def test_the_torch_knn_is_exact_in_tight_clusters_far_from_the_centre():
    """Two clusters 0.01 wide, 2,000 apart: a float32 expanded form (|a|^2 ~ 3e7, a neighbour's
    d^2 ~ 1e-3) would rank the neighbours at random; the ground truth is every difference."""
    rng = np.random.default_rng(4)
    points = (np.repeat([[1000.0], [-1000.0]], 100, axis=0) + 0.01 * rng.standard_normal((200, 32))).astype(np.float32)
    wide = points.astype(np.float64)
    truth = np.linalg.norm(wide[:, None, :] - wide[None, :, :], axis=2)
    truth_i = np.argsort(truth, axis=1, kind="stable")[:, :10]
    ours_i, ours_d = D.knn(points, 10, "cpu", chunk_elements=4000)
    np.testing.assert_array_equal(ours_i, truth_i)
    np.testing.assert_allclose(ours_d, np.take_along_axis(truth, truth_i, axis=1), rtol=1e-6, atol=0)


def test_the_torch_knn_takes_every_point_or_one_and_refuses_more():
    points = cloud(9, 3)
    indices, distances = D.knn(points, 9, "cpu")
    assert all(sorted(row) == list(range(9)) for row in indices.tolist())
    assert np.array_equal(D.knn(points, 1, "cpu")[0][:, 0], np.arange(9))
    with pytest.raises(ValueError, match="between 1 and the 9 points"):
        D.knn(points, 10, "cpu")


def test_umap_on_the_torch_path_gets_the_same_neighbour_graph(monkeypatch):
    fake = FakeUmapModule()
    monkeypatch.setattr(P, "_umap_module", lambda: fake)
    z, prior = cloud(150, 24, seed=1), P.prior_samples(150, 24, seed=2)
    cpu = P.project(z, prior, "umap", device="cpu", seed=4)
    torch_cpu = P.project(z, prior, "umap", device="torch-cpu", seed=4)
    assert cpu.backend == P.UMAP_LEARN == "umap-learn (CPU)"
    assert torch_cpu.backend == "kNN on cpu (torch) + umap-learn layout (CPU)"
    (ci, cd, _), (ti, td, _) = (call["precomputed_knn"] for call in fake.calls)
    assert ci.dtype == ti.dtype == np.int32 and cd.dtype == td.dtype == np.float32
    np.testing.assert_array_equal(ti, ci)
    np.testing.assert_allclose(td, cd, atol=1e-5)
    assert {k: v for k, v in fake.calls[0].items() if k != "precomputed_knn"} == \
           {k: v for k, v in fake.calls[1].items() if k != "precomputed_knn"}


# ------------------------------------------------------------------ PCA
@pytest.mark.parametrize("components", [2, 3])
def test_the_torch_pca_is_scikit_learns_up_to_a_sign_per_axis(components):
    points = cloud(500, 16, seed=5) * np.linspace(0.2, 3, 16, dtype=np.float32)   # distinct variances
    theirs = PCA(n_components=components, svd_solver="covariance_eigh").fit_transform(points)
    ours = D.pca(points, components, "cpu")
    assert ours.shape == (500, components) and ours.dtype == np.float32
    signs = np.sign((ours * theirs).sum(axis=0))
    np.testing.assert_allclose(ours, theirs * signs, rtol=0, atol=1e-3 * np.abs(theirs).max())
    assert np.all(signs == 1)   # and the same orientation: sklearn's svd_flip, largest loading positive


def test_pca_through_project_on_the_torch_path():
    z, prior = cloud(120, 1, seed=6), P.prior_samples(120, 1, seed=7)   # a 1-D latent: zeros beside
    cpu, ours = P.project(z, prior, "pca", device="cpu"), P.project(z, prior, "pca", device="torch-cpu")
    assert cpu.backend == P.SKLEARN_PCA and ours.backend == "torch PCA on cpu"
    np.testing.assert_allclose(ours.xy, cpu.xy, atol=1e-4)
    assert np.all(ours.xy[:, 1] == 0)
    frame = P.Projector("pca", components=3, device="torch-cpu").frame(1, cloud(80, 8))
    assert frame.backend == "torch PCA on cpu" and frame.components == 3
    frames = P.project_sequence({1: cloud(60, 4), 2: cloud(60, 4, seed=1)}, "pca", device="torch-cpu")
    assert {f.backend for f in frames.values()} == {"torch PCA on cpu"}


# ------------------------------------------------------------------ the choice
def test_auto_takes_the_gpu_for_umap_when_torch_sees_one_and_the_cpu_path_otherwise(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert D.resolve("auto") == D.Target("cuda", "cuda") and D.resolve("auto").gpu
    assert D.resolve("auto", "pca") == D.CPU   # PCA: milliseconds on the CPU, no GPU start
    assert D.resolve("cpu") == D.CPU           # an override beats the GPU
    assert D.resolve("cuda", "pca").torch_device == "cuda"
    monkeypatch.setenv(D.ENV, "cpu")
    assert D.resolve() == D.CPU and D.resolve(None, "umap") == D.CPU
    monkeypatch.setenv(D.ENV, "")
    assert D.resolve() == D.Target("cuda", "cuda")   # empty: auto
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert D.resolve("auto") == D.CPU and not D.CPU.uses_torch
    assert D.resolve("torch-cpu") == D.Target("torch-cpu", "cpu") and not D.resolve("torch-cpu").gpu


def test_auto_without_a_gpu_runs_the_cpu_path_without_importing_torch():
    script = textwrap.dedent("""
        import os, sys
        os.environ["CUDA_VISIBLE_DEVICES"] = ""      # no GPU shown, whatever this machine has
        os.environ.pop("ARGAE_PROJECTION_DEVICE", None)
        from argae_core import projection as P, projection_device as D
        assert not D.gpu_visible()
        assert D.resolve("auto") == D.CPU and D.resolve() == D.CPU
        z, prior = P.prior_samples(40, 6, 1) + 2, P.prior_samples(40, 6, 2)
        assert P.project(z, prior, "pca").backend == P.SKLEARN_PCA
        assert P.project(z, prior, "umap", n_epochs=5).backend == P.UMAP_LEARN
        assert "torch" not in sys.modules, "torch was imported"
        D.gpu_visible = lambda: True                 # a machine that shows a GPU: torch is asked
        import importlib.util
        if importlib.util.find_spec("torch") is not None:
            target = D.resolve("auto")
            import torch
            assert target == (D.Target("cuda", "cuda") if torch.cuda.is_available() else D.CPU), target
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "ok"


def test_auto_imports_torch_only_where_the_system_shows_a_gpu(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch")   # as in a process that never imported it
    monkeypatch.setattr(D, "gpu_visible", lambda: False)
    assert D._torch_sees_cuda() is False and "torch" not in sys.modules
    monkeypatch.undo()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert D.gpu_visible() is False
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert D.gpu_visible() is False


def test_asking_for_a_gpu_that_is_not_there_says_why(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    z, prior = cloud(30, 4), P.prior_samples(30, 4)
    refusal = r"projection device: 'cuda' was asked for but no GPU is available: this torch \(.*\) is built .*; use auto or cpu"
    with pytest.raises(D.ProjectionDeviceError, match=refusal) as caught:
        P.project(z, prior, "umap", device="cuda")
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, ValueError)
    assert caught.value.problems.keys() == {"projection device"}
    monkeypatch.setenv(D.ENV, "CUDA")
    with pytest.raises(ValueError, match="'cuda' was asked for but no GPU is available"):
        P.project(z, prior, "pca")                 # the variable names the GPU even for PCA
    monkeypatch.setenv(D.ENV, "tpu")
    with pytest.raises(ValueError, match=r"unknown device 'tpu' \(from ARGAE_PROJECTION_DEVICE\); "
                                         r"choose auto, cpu, cuda, torch-cpu"):
        P.project(z, prior, "pca")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert D.resolve("cuda:1") == D.Target("cuda:1", "cuda:1")
    with pytest.raises(ValueError, match=r"'cuda:2' was asked for but this machine has 2 GPU\(s\)"):
        D.resolve("cuda:2")


# ------------------------------------------------------------------ cuML
@pytest.fixture
def on_a_fake_gpu(monkeypatch):
    """resolve() answers cuda; the kNN it asks for runs on the CPU device; a fake cuML is
    importable; umap-learn must not be asked."""
    monkeypatch.setattr(D, "resolve", lambda name=None, method="umap": D.Target("cuda", "cuda"))
    knn = D.knn
    asked = []
    monkeypatch.setattr(D, "knn", lambda points, k, device: (asked.append(device), knn(points, k, "cpu"))[1])
    fake = FakeUmapModule()
    package = types.ModuleType("cuml")
    manifold = types.ModuleType("cuml.manifold")
    manifold.UMAP = fake.UMAP
    package.manifold = manifold
    monkeypatch.setitem(sys.modules, "cuml", package)
    monkeypatch.setitem(sys.modules, "cuml.manifold", manifold)
    umap_learn = FakeUmapModule()
    monkeypatch.setattr(P, "_umap_module", lambda: umap_learn)
    return fake, umap_learn, asked


def test_cuml_lays_umap_out_on_the_gpu_with_the_same_settings(on_a_fake_gpu):
    cuml, umap_learn, asked = on_a_fake_gpu
    z, prior = cloud(100, 12, seed=8), P.prior_samples(100, 12, seed=9)
    first = P.project(z, prior, "umap", seed=3, n_epochs=P.QUICK_LAYOUT_EPOCHS)
    assert first.backend == "cuML (GPU; kNN on cuda by torch)" and asked == ["cuda"]
    assert umap_learn.calls == []
    call = cuml.calls[0]
    assert (call["n_neighbors"], call["n_components"], call["random_state"], call["init"]) == (15, 2, 3, "spectral")
    assert (call["n_epochs"], call["learning_rate"], call["output_type"]) == (P.QUICK_LAYOUT_EPOCHS, 1.0, "numpy")
    indices, distances = call["precomputed_knn"]
    points = np.vstack([z, prior])
    theirs = NearestNeighbors(n_neighbors=15).fit(points).kneighbors(points)[1]
    np.testing.assert_array_equal(indices, theirs)
    # a warm start: the previous frame's layout as init, the warm schedule, 3-D
    flat = P.project(z, prior, "umap", seed=3, components=3)
    warm = P.project(z + 0.01, prior, "umap", seed=3, init=flat, components=3)
    call = cuml.calls[-1]
    assert warm.warm_started and call["n_components"] == 3
    np.testing.assert_array_equal(call["init"], flat.xy)
    assert (call["n_epochs"], call["learning_rate"]) == (P.WARM_LAYOUT_EPOCHS, P.WARM_LEARNING_RATE)
    assert warm.xy.shape == (200, 3) and warm.xy.dtype == np.float32


def test_a_failing_cuml_leaves_the_layout_to_umap_learn_and_says_so(on_a_fake_gpu, caplog):
    cuml, umap_learn, _ = on_a_fake_gpu
    cuml.fail = RuntimeError("out of memory")
    z, prior = cloud(60, 6), P.prior_samples(60, 6)
    with caplog.at_level(logging.WARNING, logger="argae_core.projection"):
        frame = P.project(z, prior, "umap", seed=1)
    assert frame.backend == "kNN on cuda (torch) + umap-learn layout (CPU)"
    assert len(cuml.calls) == 1 and len(umap_learn.calls) == 1
    assert "cuML's UMAP failed (RuntimeError: out of memory)" in caplog.text


def test_without_cuml_the_gpu_knn_feeds_umap_learn(on_a_fake_gpu, monkeypatch):
    _, umap_learn, asked = on_a_fake_gpu
    monkeypatch.delitem(sys.modules, "cuml")
    monkeypatch.delitem(sys.modules, "cuml.manifold")
    monkeypatch.setattr(P.importlib.util, "find_spec", lambda name: None)   # not installed
    frame = P.project(cloud(50, 6), P.prior_samples(50, 6), "umap")
    assert frame.backend == "kNN on cuda (torch) + umap-learn layout (CPU)" and asked == ["cuda"]
    assert umap_learn.calls[0]["precomputed_knn"][0].shape == (100, 15)


def test_cuml_is_not_used_off_the_gpu(monkeypatch):
    fake = FakeUmapModule()
    manifold = types.ModuleType("cuml.manifold")
    manifold.UMAP = fake.UMAP
    monkeypatch.setitem(sys.modules, "cuml.manifold", manifold)
    umap_learn = FakeUmapModule()
    monkeypatch.setattr(P, "_umap_module", lambda: umap_learn)
    for device in ("cpu", "torch-cpu"):
        P.project(cloud(40, 4), P.prior_samples(40, 4), "umap", device=device)
    assert fake.calls == [] and len(umap_learn.calls) == 2
