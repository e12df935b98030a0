"""GAE / VGAE / ARGA / ARGVA from `torch_geometric.nn`, with the tutorial's GCN encoder and
3-layer MLP discriminator.

    encoder:        H = relu(GCN(X, A));  mu = GCN_mu(H, A);  logstd = GCN_logstd(H, A)
    decoder:        p(A_ij = 1 | z) = sigmoid(z_i . z_j)             (inner product)
    discriminator:  D(z) = sigmoid(MLP(z)),  "real" = sample of N(0, I), "fake" = node embedding
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import ARGA, ARGVA, GAE, VGAE, GCNConv

from .config import TrainConfig


class GCNEncoder(nn.Module):
    """Two GCN layers; the variational kind has a second head for log std."""

    def __init__(self, in_channels: int, hidden: int, latent: int, variational: bool):
        super().__init__()
        self.conv1 = GCNConv(in_channels, hidden, cached=True)
        self.conv_mu = GCNConv(hidden, latent, cached=True)
        self.conv_logstd = GCNConv(hidden, latent, cached=True) if variational else None

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor):
        h = F.relu(self.conv1(x, edge_index))
        mu = self.conv_mu(h, edge_index)
        if self.conv_logstd is None:
            return mu
        return mu, self.conv_logstd(h, edge_index)


class Discriminator(nn.Module):
    """The tutorial's MLP: latent -> hidden -> hidden -> 1 logit."""

    def __init__(self, latent: int, hidden: int):
        super().__init__()
        self.lin1 = nn.Linear(latent, hidden)
        self.lin2 = nn.Linear(hidden, hidden)
        self.lin3 = nn.Linear(hidden, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.lin3(F.relu(self.lin2(F.relu(self.lin1(z)))))


def build_model(config: TrainConfig, num_features: int) -> GAE:
    """The PyG autoencoder a config names (ARGVA / ARGA carry `.discriminator`)."""
    encoder = GCNEncoder(num_features, config.encoder_hidden, config.latent_size, config.variational)
    if not config.adversarial:
        return (VGAE if config.variational else GAE)(encoder)
    discriminator = Discriminator(config.latent_size, config.discriminator_hidden)
    return (ARGVA if config.variational else ARGA)(encoder, discriminator)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but no GPU is available; use auto or cpu")
    return torch.device(name)
