"""The tutorial's ARGVA training loop, written out as the speed and quality reference.

From ../shared/reference/argva-tutorial.md (PyG's ARGVA example): PyG's `ARGVA`, the
tutorial's `VEncoder` (three `GCNConv(cached=True)`), its `Discriminator(latent, 64, 1)`, and
per epoch

    z = model.encode(x, train_edges)
    5 x: discriminator_loss(z) on all nodes, backward(retain_graph=True), D step
    loss = reg_loss(z) + recon_loss(z, train_edges) + kl_loss() / N   (PyG negative sampling)
    encoder step

Sizes and learning rates come from a `TrainConfig` (latent size, encoder hidden width, which
the tutorial sets to 2 x latent, discriminator hidden width, encoder and discriminator learning
rates), so the comparison with the project's trainer at its defaults is like for like; the
algorithm stays the tutorial's: 5 discriminator updates, regulariser and KL weights 1 and 1/N.
The tutorial scores the last epoch (no model selection); so does `test_scores` here.
"""
from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch_geometric.nn import ARGVA, GCNConv

from argae_core.config import TrainConfig
from argae_core.data import Graph, Split


class VEncoder(torch.nn.Module):
    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = GCNConv(in_channels, hidden_channels, cached=True)
        self.conv_mu = GCNConv(hidden_channels, out_channels, cached=True)
        self.conv_logstd = GCNConv(hidden_channels, out_channels, cached=True)

    def forward(self, x, edge_index):
        x = F.relu(self.conv1(x, edge_index))
        return self.conv_mu(x, edge_index), self.conv_logstd(x, edge_index)


class Discriminator(torch.nn.Module):
    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int):
        super().__init__()
        self.lin1 = torch.nn.Linear(in_channels, hidden_channels)
        self.lin2 = torch.nn.Linear(hidden_channels, hidden_channels)
        self.lin3 = torch.nn.Linear(hidden_channels, out_channels)

    def forward(self, x):
        x = F.relu(self.lin1(x))
        x = F.relu(self.lin2(x))
        return self.lin3(x)


class TutorialARGVA:
    """The tutorial's model, optimisers and `train()`; `epoch()` is one call of `train()`."""

    def __init__(self, graph: Graph, split: Split, seed: int, config: TrainConfig = TrainConfig()):
        torch.manual_seed(seed)
        random.seed(seed)
        self.x = graph.x
        self.train_edges = split.train_edge_index
        self.split = split
        self.num_nodes = graph.num_nodes
        self.discriminator = Discriminator(config.latent_size, config.discriminator_hidden, 1)
        self.encoder = VEncoder(graph.num_features, config.encoder_hidden, config.latent_size)
        self.model = ARGVA(self.encoder, self.discriminator)
        self.encoder_optimizer = torch.optim.Adam(self.encoder.parameters(), lr=config.encoder_lr)
        self.discriminator_optimizer = torch.optim.Adam(self.discriminator.parameters(),
                                                        lr=config.discriminator_lr)

    def epoch(self) -> float:
        model = self.model
        model.train()
        self.encoder_optimizer.zero_grad()
        z = model.encode(self.x, self.train_edges)
        for _ in range(5):
            idx = range(self.num_nodes)
            self.discriminator.train()
            self.discriminator_optimizer.zero_grad()
            discriminator_loss = model.discriminator_loss(z[idx])
            discriminator_loss.backward(retain_graph=True)
            self.discriminator_optimizer.step()
        loss = 0
        loss = loss + model.reg_loss(z)
        loss = loss + model.recon_loss(z, self.train_edges)
        loss = loss + (1 / self.num_nodes) * model.kl_loss()
        loss.backward()
        self.encoder_optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def test_scores(self) -> tuple[float, float]:
        """Test AUC and AP of the current (last) epoch."""
        self.model.eval()
        z = self.model.encode(self.x, self.train_edges)
        auc, ap = self.model.test(z, self.split.test_pos, self.split.test_neg)
        return float(auc), float(ap)
