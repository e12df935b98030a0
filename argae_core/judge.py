"""The discriminator's view of the latent space, as GAN Lab draws it: D's probability of
"real" over a plane, with Z and prior samples on top.

With a latent size of 2 the plane *is* the latent space (its own two axes), so the map is
exactly D's verdict everywhere. With more dimensions the plane is the PCA plane of Z and the
prior samples together: every grid point x of the plane is mapped back into latent space as
mean + x @ components and judged there. That is a slice through D's d-dimensional verdict:
off the plane D may say otherwise, and the points drawn on it sit at their projections.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import metrics  # noqa: F401  imports scikit-learn first, in one thread (see projection.py)
from sklearn.decomposition import PCA  # noqa: E402

RESOLUTION = 60   # grid points per axis: 3,600 D evaluations, a few ms


@dataclass(frozen=True, eq=False)
class DiscriminatorMap:
    xs: np.ndarray          # [resolution] plane coordinates of the grid's columns
    ys: np.ndarray          # [resolution] ... of its rows
    prob: np.ndarray        # [resolution, resolution] D's probability of "real" (rows: ys)
    z_xy: np.ndarray        # Z on the plane
    prior_xy: np.ndarray    # the prior samples on the plane
    exact: bool             # the plane is the whole latent space (latent size <= 2)


def discriminator_map(weights: dict[str, np.ndarray], latent: int, hidden: int, z: np.ndarray,
                      prior: np.ndarray, resolution: int = RESOLUTION, margin: float = 0.1) -> DiscriminatorMap:
    """D (rebuilt from its saved parameters) over the plane that holds Z and `prior`, on a
    `resolution` x `resolution` grid covering both clouds plus `margin` of their extent."""
    import torch

    from .models import Discriminator
    z, prior = np.asarray(z, dtype=np.float32), np.asarray(prior, dtype=np.float32)
    if z.ndim != 2 or z.shape[1] != latent or prior.shape[1:] != (latent,):
        raise ValueError(f"Z and the prior sample must have {latent} columns, got {z.shape} and {prior.shape}")
    discriminator = Discriminator(latent, hidden)
    discriminator.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    discriminator.eval()
    points = np.vstack([z, prior])
    mean, components = _plane(points, latent)
    plane = (points - mean) @ components.T
    low, high = plane.min(axis=0), plane.max(axis=0)
    pad = margin * np.maximum(high - low, 1e-6)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution) if latent > 1 else np.linspace(-1, 1, resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    in_latent = mean + grid[:, :components.shape[0]] @ components
    with torch.no_grad():
        logits = discriminator(torch.as_tensor(in_latent, dtype=torch.float32)).squeeze(-1)
        prob = torch.sigmoid(logits).numpy().reshape(resolution, resolution)
    return DiscriminatorMap(xs, ys, prob, _on_plane(plane[:len(z)]), _on_plane(plane[len(z):]), exact=latent <= 2)


def _plane(points: np.ndarray, latent: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, components [k, latent]) of the plane: the latent axes themselves up to 2
    dimensions (the plane is the space; nothing is projected away), else PCA's first two."""
    if latent <= 2:
        return np.zeros(latent, dtype=np.float64), np.eye(latent)
    pca = PCA(n_components=2, svd_solver="covariance_eigh").fit(points)
    return pca.mean_, pca.components_


def _on_plane(xy: np.ndarray) -> np.ndarray:
    """Plane coordinates as [n, 2] (a 1-D latent space sits on the x axis)."""
    return xy if xy.shape[1] == 2 else np.hstack([xy, np.zeros_like(xy)])
