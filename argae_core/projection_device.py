"""Where a latent picture is computed: the projection's device, chosen like a run's (devices.py).

    auto       the GPU when torch sees CUDA, else the CPU path (scikit-learn + umap-learn, no torch)
    cpu        scikit-learn's exact neighbour graph and PCA, umap-learn's layout: no torch
    cuda       exact neighbour graph and PCA with torch on the GPU (also cuda:N); UMAP's layout by
               RAPIDS cuML (`cuml.manifold.UMAP`) when it is importable, else umap-learn's CPU
               layout from the GPU's neighbour graph
    torch-cpu  the torch path on the CPU device: the GPU code run where there is no GPU (tests,
               and to compare the two paths on one machine)

The choice is made per call: `projection.project(device=...)` first, else the environment
variable ARGAE_PROJECTION_DEVICE (the picture processes, `python -m argae_core warm --serve`,
inherit it from the server), else auto. Under auto a PCA picture stays on the CPU: it is a
[points x latent] covariance, milliseconds on the CPU (projection._pca), less than starting
CUDA or moving the points; a named device (cuda, torch-cpu) computes PCA there too.

Light on import: no torch. `auto` imports torch only on a machine that shows a GPU to the
system (an NVIDIA or AMD device node), so a CPU machine's page and picture processes never
import torch for a picture. Nothing here was run on a GPU: no machine with one was available.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import sys
from dataclasses import dataclass

from .config import ConfigError

ENV = "ARGAE_PROJECTION_DEVICE"
CHOICES = ("auto", "cpu", "cuda", "torch-cpu")


class ProjectionDeviceError(ConfigError):
    """The projection device asked for is unknown or not on this machine (a ValueError)."""

    def __init__(self, message: str):
        super().__init__({"projection device": message})


@dataclass(frozen=True)
class Target:
    """A resolved choice: `torch_device` None is the CPU path (scikit-learn, umap-learn)."""
    name: str                  # what was resolved: cpu, torch-cpu, cuda, cuda:1
    torch_device: str | None   # "cpu", "cuda", "cuda:1" for the torch path

    @property
    def uses_torch(self) -> bool:
        return self.torch_device is not None

    @property
    def gpu(self) -> bool:
        return self.torch_device is not None and self.torch_device.startswith("cuda")


CPU = Target("cpu", None)


def requested(name: str | None = None) -> str:
    """The choice in force: `name`, else ARGAE_PROJECTION_DEVICE, else auto."""
    if name is None:
        name = os.environ.get(ENV, "").strip() or "auto"
    return str(name).strip().lower()


def resolve(name: str | None = None, method: str = "umap") -> Target:
    """The Target for a choice (see `requested`), or ProjectionDeviceError saying what is missing.
    `method` "pca" under auto is the CPU path (see the module's note)."""
    choice = requested(name)
    if choice == "auto":
        if method == "pca" or not _torch_sees_cuda():
            return CPU
        return Target("cuda", "cuda")
    if choice == "cpu":
        return CPU
    if choice == "torch-cpu":
        _torch_or_refuse(choice)
        return Target("torch-cpu", "cpu")
    if choice == "cuda" or choice.startswith("cuda:"):
        return _cuda_target(choice)
    where = f" (from {ENV})" if name is None else ""
    raise ProjectionDeviceError(f"unknown device {choice!r}{where}; choose {', '.join(CHOICES)}")


def gpu_visible() -> bool:
    """Whether the system shows a GPU that a CUDA (or ROCm) build of torch could use: device
    nodes of NVIDIA's or AMD's driver, not hidden by CUDA_VISIBLE_DEVICES. No torch import."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return False
    return bool(glob.glob("/dev/nvidia[0-9]*") or glob.glob("/proc/driver/nvidia/gpus/*")
                or os.path.exists("/dev/kfd"))


def _torch_sees_cuda() -> bool:
    """auto's test: torch already imported here answers; else torch is imported only where
    the system shows a GPU (gpu_visible), and only when it is installed."""
    if "torch" not in sys.modules:
        if not gpu_visible() or importlib.util.find_spec("torch") is None:
            return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _torch_or_refuse(choice: str):
    try:
        import torch
    except ImportError as exc:
        raise ProjectionDeviceError(f"{choice!r} was asked for but torch is not installed ({exc}); "
                                    "use auto or cpu") from None
    return torch


def _cuda_target(choice: str) -> Target:
    torch = _torch_or_refuse(choice)
    if not torch.cuda.is_available():
        from .devices import no_cuda_reason   # torch is imported by now
        raise ProjectionDeviceError(f"{choice!r} was asked for but no GPU is available: {no_cuda_reason()}; "
                                    "use auto or cpu")
    if choice != "cuda":
        index = choice.partition(":")[2]
        count = torch.cuda.device_count()
        if not index.isdigit() or int(index) >= count:
            raise ProjectionDeviceError(f"{choice!r} was asked for but this machine has {count} GPU(s): "
                                        f"use cuda or cuda:0..cuda:{count - 1}")
    return Target(choice, choice)


# ------------------------------------------------------- the torch path (GPU, or torch-cpu)
CHUNK_ELEMENTS = 1 << 24   # squared distances held at once: 128 MB of float64 per chunk of rows
EXTRA_CANDIDATES = 8       # nearest candidates beyond k whose distances are computed again exactly


def knn(points, k: int, torch_device: str, chunk_elements: int = CHUNK_ELEMENTS):
    """The exact k nearest neighbours of every row of `points` among all rows (Euclidean), as
    scikit-learn's NearestNeighbors(k).fit(points).kneighbors(points) gives them: (indices int32,
    distances float32), each [rows, k], nearest first, each row's first neighbour itself at
    distance 0. On `torch_device`, in float64 (no TF32 or half-precision shortcut can reach it;
    a [10,000 x 64] cloud is about 13 GFLOP, milliseconds on a GPU) and in chunks of
    `chunk_elements` distances: the expanded form |a|^2 - 2 a.b + |b|^2 on centred points picks
    the k + EXTRA_CANDIDATES nearest, whose distances are computed again as |a - b| (the
    expanded form loses digits to cancellation in tight clusters far from the centre) and
    sorted. Ties aside the neighbours are scikit-learn's and the distances agree to about 1e-6
    (its brute-force search, used above 15 dimensions, rounds like a float32 expanded form; its
    trees, below, agree bit for bit). umap-learn's layout is sensitive to such last digits:
    the same data and seed give an equally good but not the same picture from the two graphs."""
    import numpy as np
    import torch
    rows = len(points)
    if not 1 <= k <= rows:
        raise ValueError(f"k must be between 1 and the {rows} points, got {k}")
    x = torch.as_tensor(np.asarray(points, dtype=np.float64), device=torch_device)
    x = x - x.mean(dim=0)   # centred: less cancellation in the expanded form
    squares = (x * x).sum(dim=1)
    wanted = min(rows, k + EXTRA_CANDIDATES)
    chunk = max(1, min(rows, chunk_elements // rows))
    indices = torch.empty((rows, k), dtype=torch.int64, device=torch_device)
    distances = torch.empty((rows, k), dtype=torch.float64, device=torch_device)
    for start in range(0, rows, chunk):
        query = x[start:start + chunk]
        own = torch.arange(len(query), device=torch_device)
        squared = squares[start:start + chunk, None] - 2.0 * (query @ x.T) + squares[None, :]
        squared[own, start + own] = -1.0   # each row's own point first, whatever the rounding
        candidates = torch.topk(squared, wanted, dim=1, largest=False, sorted=False).indices
        exact = (x[candidates] - query[:, None, :]).norm(dim=2)
        key = torch.where(candidates == (start + own)[:, None], torch.full_like(exact, -1.0), exact)
        order = torch.argsort(key, dim=1, stable=True)[:, :k]
        indices[start:start + chunk] = torch.gather(candidates, 1, order)
        distances[start:start + chunk] = torch.gather(exact, 1, order)
    return (indices.to(torch.int32).cpu().numpy(), distances.to(torch.float32).cpu().numpy())


def pca(points, components: int, torch_device: str):
    """The first `components` principal components of `points` (at most its columns), as
    scikit-learn's PCA(svd_solver="covariance_eigh").fit_transform gives them: the covariance's
    eigenvectors by torch.linalg.eigh on `torch_device` (float64), largest first, each
    component's sign such that its largest-magnitude loading is positive (sklearn's svd_flip).
    float32 [rows, components]."""
    import numpy as np
    import torch
    x = torch.as_tensor(np.asarray(points), device=torch_device).to(torch.float64)
    centred = x - x.mean(dim=0)
    covariance = centred.T @ centred / max(1, len(x) - 1)
    _, vectors = torch.linalg.eigh(covariance)             # ascending eigenvalues
    basis = vectors.flip(dims=(1,))[:, :components]        # [dim, components], largest first
    biggest = basis.abs().argmax(dim=0)
    signs = torch.sign(basis[biggest, torch.arange(basis.shape[1], device=basis.device)])
    basis = basis * torch.where(signs == 0, torch.ones_like(signs), signs)
    return (centred @ basis).to(torch.float32).cpu().numpy()
