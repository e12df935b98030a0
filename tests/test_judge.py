"""The discriminator's view: D's verdict over a plane, exact in 2-D, a slice beyond."""
import numpy as np
import pytest
import torch

from argae_core.judge import discriminator_map
from argae_core.models import Discriminator


def weights_of(discriminator) -> dict:
    return {k: v.detach().numpy().copy() for k, v in discriminator.state_dict().items()}


def direct(discriminator, points) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(discriminator(torch.as_tensor(points, dtype=torch.float32))).squeeze(-1).numpy()


def test_in_two_dimensions_the_map_is_d_itself_on_the_latent_axes():
    torch.manual_seed(0)
    discriminator = Discriminator(2, 16)
    rng = np.random.default_rng(0)
    z, prior = 0.3 * rng.standard_normal((50, 2)), rng.standard_normal((50, 2))
    dmap = discriminator_map(weights_of(discriminator), 2, 16, z, prior, resolution=21)
    assert dmap.exact and dmap.prob.shape == (21, 21)
    grid = np.stack(np.meshgrid(dmap.xs, dmap.ys), axis=-1).reshape(-1, 2)
    assert np.allclose(dmap.prob.ravel(), direct(discriminator, grid), atol=1e-6)
    assert np.allclose(dmap.z_xy, z) and np.allclose(dmap.prior_xy, prior)  # no projection at all
    assert dmap.xs[0] < min(z[:, 0].min(), prior[:, 0].min()) and dmap.xs[-1] > prior[:, 0].max()


def test_a_linear_judge_s_half_contour_sits_where_its_logit_is_zero():
    """D's last layer reads one hidden unit that copies x0 - 1: D = 0.5 on the line x0 = 1."""
    discriminator = Discriminator(2, 4)
    with torch.no_grad():
        for layer in (discriminator.lin1, discriminator.lin2, discriminator.lin3):
            layer.weight.zero_()
            layer.bias.zero_()
        discriminator.lin1.weight[0, 0] = 1.0        # h1 = relu(x0)
        discriminator.lin2.weight[0, 0] = 1.0        # h2 = relu(h1)
        discriminator.lin3.weight[0, 0] = 5.0        # logit = 5 (h2 - 1)
        discriminator.lin3.bias[0] = -5.0
    rng = np.random.default_rng(1)
    dmap = discriminator_map(weights_of(discriminator), 2, 4, rng.uniform(-3, 3, (40, 2)),
                             rng.uniform(-3, 3, (40, 2)), resolution=61)
    column = dmap.prob[30]
    crossing = dmap.xs[np.argmin(np.abs(column - 0.5))]
    assert crossing == pytest.approx(1.0, abs=dmap.xs[1] - dmap.xs[0])
    assert column[0] < 0.01 and column[-1] > 0.99


def test_beyond_two_dimensions_the_map_is_a_slice_through_the_pca_plane():
    torch.manual_seed(1)
    discriminator = Discriminator(8, 16)
    rng = np.random.default_rng(2)
    z, prior = 0.2 * rng.standard_normal((60, 8)) + 1.0, rng.standard_normal((60, 8))
    dmap = discriminator_map(weights_of(discriminator), 8, 16, z, prior, resolution=15)
    assert not dmap.exact and dmap.z_xy.shape == (60, 2) and dmap.prior_xy.shape == (60, 2)
    assert ((dmap.prob >= 0) & (dmap.prob <= 1)).all()
    with pytest.raises(ValueError, match="8 columns"):
        discriminator_map(weights_of(discriminator), 8, 16, z[:, :4], prior)
