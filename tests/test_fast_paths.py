"""The engine's hand-written fast paths give what the PyG code they replace gives.

GCN layers on a fixed sparse adjacency (vs PyG's GCNConv), the chunked pair decoder (vs PyG's
InnerProductDecoder), their backward passes (gradcheck), and the trainer's negative sampler."""
import pytest
import torch
from torch_geometric.nn import GCNConv
from torch_geometric.nn.models.autoencoder import InnerProductDecoder

from argae_core import models
from argae_core.models import ChunkedDecoder, FixedSparse, GCNEncoder, feature_matrix
from argae_core.training import NegativeSampler, one_direction


def ring(nodes=12):
    i = torch.arange(nodes)
    return torch.stack([torch.cat([i, (i + 1) % nodes]), torch.cat([(i + 1) % nodes, i])])


@pytest.mark.parametrize("density", [0.05, 1.0])  # sparse and dense feature paths
def test_encoder_matches_pyg_gcnconv(density):
    torch.manual_seed(0)
    x = torch.randn(12, 30) * (torch.rand(12, 30) < density)
    edges = ring()
    encoder = GCNEncoder(30, 8, 4, variational=True)
    convs = [GCNConv(layer.in_channels, layer.out_channels) for layer in
             (encoder.conv1, encoder.conv_mu, encoder.conv_logstd)]
    for conv, layer in zip(convs, (encoder.conv1, encoder.conv_mu, encoder.conv_logstd)):
        conv.load_state_dict(layer.state_dict())
    assert isinstance(feature_matrix(x), FixedSparse) == (density < models.SPARSE_FEATURES_BELOW)
    mu, logstd = encoder(x, edges)
    h = torch.relu(convs[0](x, edges))
    assert torch.allclose(mu, convs[1](h, edges), atol=1e-5)
    assert torch.allclose(logstd, convs[2](h, edges), atol=1e-5)
    (mu.sum() + logstd.square().sum()).backward()
    (convs[1](h, edges).sum() + convs[2](h, edges).square().sum()).backward()
    assert torch.allclose(encoder.conv1.lin.weight.grad, convs[0].lin.weight.grad, atol=1e-4)


def test_fixed_sparse_product_and_pair_scores_pass_gradcheck():
    torch.manual_seed(0)
    matrix = (torch.randn(7, 5, dtype=torch.float64) * (torch.rand(7, 5) < 0.4)).to_sparse_coo()
    fixed = FixedSparse(matrix)
    dense = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda d: fixed @ d, (dense,))
    z = torch.randn(9, 4, dtype=torch.float64, requires_grad=True)
    pairs = torch.randint(9, (2, 3 * models.PAIR_CHUNK // 2))  # more than one chunk
    assert torch.autograd.gradcheck(lambda t: ChunkedDecoder()(t, pairs, sigmoid=False), (z,))


def test_chunked_decoder_scores_like_pyg():
    z = torch.randn(20, 6)
    pairs = torch.randint(20, (2, 50))
    assert torch.allclose(ChunkedDecoder()(z, pairs), InnerProductDecoder()(z, pairs))


def test_negative_samples_are_non_edges_without_self_pairs():
    edges = ring(10)
    sampler = NegativeSampler(edges, 10)
    existing = set(map(tuple, edges.t().tolist()))
    for _ in range(20):
        negatives = sampler()
        assert 0 < negatives.size(1) <= edges.size(1)
        assert all(i != j and (i, j) not in existing for i, j in negatives.t().tolist())


def test_one_direction_halves_only_symmetric_edge_lists():
    edges = ring(10)
    half = one_direction(edges)
    assert half.size(1) == 10 and bool((half[0] < half[1]).all())
    directed = edges[:, :10]
    assert torch.equal(one_direction(directed), directed)
