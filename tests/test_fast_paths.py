"""The engine's hand-written fast paths give what the PyG code they replace gives.

GCN layers on a fixed sparse adjacency (vs PyG's GCNConv), the chunked pair decoder (vs PyG's
InnerProductDecoder), their backward passes (gradcheck), the trainer's negative sampler, and
the discriminator update written out (vs autograd on the plain loss)."""
import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GCNConv
from torch_geometric.nn.models.autoencoder import InnerProductDecoder

from argae_core import dense, models
from argae_core.config import TrainConfig
from argae_core.models import ChunkedDecoder, Discriminator, FixedSparse, GCNEncoder, feature_matrix
from argae_core.training import NegativeSampler, Trainer, one_direction


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


def plain_discriminator_loss(discriminator, real, fake):
    """The autograd version: one batch, BCE with logits on both halves (real first)."""
    logits = discriminator(torch.cat([real, fake])).squeeze(-1)
    n = real.size(0)
    targets = torch.cat([logits.new_ones(n), logits.new_zeros(n)])
    return 2 * F.binary_cross_entropy_with_logits(logits, targets), torch.sigmoid(logits)


def test_written_out_discriminator_gradients_equal_autograd():
    torch.manual_seed(0)
    discriminator = Discriminator(latent=6, hidden=10)
    real, fake = torch.randn(40, 6), torch.randn(40, 6) * 3 + 1
    loss, prob = plain_discriminator_loss(discriminator, real, fake)
    loss.backward()
    expected = {name: p.grad.clone() for name, p in discriminator.named_parameters()}
    fast_loss, fast_prob = discriminator.update_gradients(real, fake)
    assert torch.allclose(fast_loss, loss.detach(), rtol=1e-6)
    assert torch.allclose(fast_prob, prob.detach(), rtol=1e-6)
    for name, p in discriminator.named_parameters():
        assert torch.allclose(p.grad, expected[name], rtol=1e-5, atol=1e-7), name


def test_trainer_with_written_out_discriminator_trains_as_with_autograd(monkeypatch):
    """Same seed, 5 D steps per epoch: the same Z after a few epochs (to float rounding)."""
    config = TrainConfig(dataset="karate", model="argva", epochs=4, discriminator_steps=5,
                         reg_weight=1.0, device="cpu")
    fast = Trainer(config)
    for _ in fast:
        pass

    def plain_step(self, z):
        real = torch.randn_like(z)
        loss, prob = plain_discriminator_loss(self.model.discriminator, real, z.detach())
        self.discriminator_optimizer.zero_grad()
        loss.backward()
        self.discriminator_optimizer.step()
        n, prob = z.size(0), prob.detach()
        return float(loss.detach()), float(prob[:n].mean()), float(prob[n:].mean())
    monkeypatch.setattr(Trainer, "discriminator_step", plain_step)
    plain = Trainer(config)
    for _ in plain:
        pass
    assert torch.allclose(fast.embed(), plain.embed(), atol=1e-5)
    for a, b in zip(fast.history, plain.history):
        assert a["discriminator_loss"] == pytest.approx(b["discriminator_loss"], rel=1e-5)


def test_negative_sampler_table_and_binary_search_draw_the_same_pairs():
    edges = ring(30)
    table, search = NegativeSampler(edges, 30), NegativeSampler(edges, 30, table_limit=0)
    assert table.table is not None and search.table is None
    for seed in range(5):
        torch.manual_seed(seed)
        a = table()
        torch.manual_seed(seed)
        assert torch.equal(a, search())


def test_discriminator_batch_follows_the_z_it_is_given():
    """The kept [prior; z] batch takes each new z (and a z changed in place) before an update."""
    trainer = Trainer(TrainConfig(dataset="karate", model="argva", epochs=3, device="cpu"))
    n = trainer.graph.num_nodes
    z1 = torch.randn(n, trainer.config.latent_size)
    trainer.discriminator_step(z1)
    assert torch.equal(trainer._d_batch[2][n:], z1)
    z2 = torch.randn_like(z1)
    trainer.discriminator_step(z2)
    assert torch.equal(trainer._d_batch[2][n:], z2)
    z2.mul_(3)
    trainer.discriminator_step(z2)
    assert torch.equal(trainer._d_batch[2][n:], z2)


def test_discriminator_update_in_kept_buffers_repeats_exactly():
    """Two updates from the same weights and batch give the same loss and gradients (the
    buffers carry nothing over), equal to a fresh discriminator's."""
    torch.manual_seed(0)
    discriminator = Discriminator(latent=5, hidden=7)
    fresh = Discriminator(latent=5, hidden=7)
    fresh.load_state_dict(discriminator.state_dict())
    x = torch.randn(30, 5)
    first, _ = discriminator.batch_gradients(x, 15)
    grads = [p.grad.clone() for p in discriminator.parameters()]
    discriminator.batch_gradients(torch.randn(30, 5), 15)  # other numbers through the same buffers
    again, prob = discriminator.batch_gradients(x, 15)
    fresh_loss, fresh_prob = fresh.batch_gradients(x, 15)
    assert torch.equal(first, again) and torch.equal(again, fresh_loss) and torch.equal(prob, fresh_prob)
    for p, q, g in zip(discriminator.parameters(), fresh.parameters(), grads):
        assert torch.equal(p.grad, g) and torch.equal(q.grad, g)


def test_written_out_recon_loss_and_gradient_equal_pyg_with_autograd():
    from torch_geometric.nn import GAE
    torch.manual_seed(0)
    z = torch.randn(50, 6, requires_grad=True)
    positive = torch.randint(50, (2, 2 * models.pair_chunk(6) + 300))  # more than one chunk, stretched or not
    negative = torch.randint(50, (2, 700))
    expected = GAE(torch.nn.Identity(), ChunkedDecoder()).recon_loss(z, positive, negative)
    expected.backward()
    grad = torch.zeros(50, 6)
    loss = models.recon_loss_gradients(z.detach(), positive, negative, grad)
    assert torch.allclose(loss, expected.detach(), rtol=1e-6)
    assert torch.allclose(grad, z.grad, rtol=1e-5, atol=1e-8)


def test_written_out_regulariser_gradient_equals_pyg_with_autograd():
    from torch_geometric.nn import ARGA
    torch.manual_seed(0)
    discriminator = Discriminator(latent=6, hidden=10)
    z = (torch.randn(40, 6) * 2).requires_grad_()
    expected = 0.7 * ARGA(torch.nn.Identity(), discriminator).reg_loss(z)
    expected.backward()
    loss, grad = discriminator.regulariser_gradients(z.detach(), 0.7)
    assert torch.allclose(0.7 * loss, expected.detach(), rtol=1e-6)
    assert torch.allclose(grad, z.grad, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("model", ["argva", "arga", "vgae", "gae"])
def test_encoder_step_gradients_equal_autograd_on_pyg_losses(model):
    """The trainer's encoder update (losses' gradients written out, autograd only through the
    encoder) leaves in every encoder weight the gradient `loss.backward()` gives on PyG's
    recon + weight x reg + weight x KL, with the same noise and negative pairs."""
    config = TrainConfig(dataset="karate", model=model, epochs=3, device="cpu",
                         **({"reg_weight": 0.8} if model.startswith("arg") else {}))
    trainer = Trainer(config)
    trainer.step()
    plain = trainer.model  # the reference is run first, on the same weights and draws
    torch.manual_seed(5)
    z = plain.encode(trainer.x, trainer.train_edges)
    loss = plain.recon_loss(z, trainer.positive_edges, trainer.negative_edges())
    if config.adversarial:
        plain.discriminator.requires_grad_(False)
        loss = loss + trainer.reg_weight * plain.reg_loss(z)
        plain.discriminator.requires_grad_(True)
    if config.variational:
        loss = loss + trainer.kl_weight * plain.kl_loss()
    trainer.encoder_optimizer.zero_grad()
    loss.backward()
    expected = {name: p.grad.clone() for name, p in plain.encoder.named_parameters()}
    trainer.encoder_optimizer.zero_grad()
    torch.manual_seed(5)
    parts = trainer.encoder_step(trainer.encode())
    assert parts["encoder_loss"] == pytest.approx(float(loss.detach()), rel=1e-5)
    for name, p in trainer.model.encoder.named_parameters():
        assert torch.allclose(p.grad, expected[name], rtol=1e-4, atol=1e-7), name


def test_encoder_step_refuses_a_z_it_did_not_encode():
    trainer = Trainer(TrainConfig(dataset="karate", model="argva", epochs=2, device="cpu"))
    z = trainer.encode()
    with pytest.raises(ValueError, match="encode"):
        trainer.encoder_step(z.clone())


def test_kl_and_reparametrisation_gradient_equal_autograd_with_clamped_log_std():
    """Entries of log std above MAX_LOGSTD get no gradient (PyG clamps them), the others the
    reparametrisation's and the KL term's."""
    trainer = Trainer(TrainConfig(dataset="karate", model="argva", epochs=2, device="cpu"))
    torch.manual_seed(0)
    n, latent = 12, 4
    mu = torch.randn(n, latent, requires_grad=True)
    logstd = (torch.randn(n, latent) * 8).requires_grad_()    # some above MAX_LOGSTD = 10
    assert bool((logstd > models.MAX_LOGSTD).any())
    noise, grad_z = torch.randn(n, latent), torch.randn(n, latent)
    clamped = logstd.clamp(max=models.MAX_LOGSTD)
    z = mu + noise * torch.exp(clamped)
    kl = -0.5 * torch.mean(torch.sum(1 + 2 * clamped - mu ** 2 - clamped.exp() ** 2, dim=1))
    ((grad_z * z).sum() + trainer.kl_weight * kl).backward()
    encoded = {"mu": mu.detach(), "logstd": logstd.detach(), "clamped": clamped.detach(),
               "noise": noise, "scale": torch.exp(clamped.detach())}
    weighted_kl, grad_out = trainer._kl_and_output_gradient(encoded, grad_z)
    assert torch.allclose(weighted_kl, trainer.kl_weight * kl.detach(), rtol=1e-6)
    assert torch.allclose(grad_out[:, :latent], mu.grad, rtol=1e-5, atol=1e-7)
    assert torch.allclose(grad_out[:, latent:], logstd.grad, rtol=1e-5, atol=1e-7)


def test_direct_adam_step_updates_as_optimizer_step():
    """adam_step (the fused kernel called directly) leaves the same weights and state as
    `Adam(fused=True).step()`, from the first step (made by step() itself) on."""
    from argae_core.training import adam_step
    torch.manual_seed(0)
    weights = [torch.nn.Parameter(torch.randn(6, 4)), torch.nn.Parameter(torch.randn(4))]
    copies = [torch.nn.Parameter(w.detach().clone()) for w in weights]
    plain = torch.optim.Adam(weights, lr=0.01, fused=True)
    direct = torch.optim.Adam(copies, lr=0.01, fused=True)
    for step in range(6):
        for w, c in zip(weights, copies):
            w.grad = torch.randn_like(w)
            c.grad = w.grad.clone()
        if step == 3:  # a learning rate steered between steps
            for optimizer in (plain, direct):
                optimizer.param_groups[0]["lr"] = 0.003
        plain.step()
        adam_step(direct)
    for w, c in zip(weights, copies):
        assert torch.equal(w, c)
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(plain.state[w][key], direct.state[c][key])


def test_validation_scores_equal_pyg_test():
    trainer = Trainer(TrainConfig(dataset="karate", model="argva", epochs=3, device="cpu"))
    for _ in trainer:
        pass
    z = trainer.embed()
    auc, ap = trainer.model.test(z, *trainer.val_edges)
    assert trainer._validate(z) == (float(auc), float(ap))


@pytest.mark.parametrize("pairs, size, stretch, expected", [
    (4488, 4096, 1.25, [4488]), (8976, 4096, 1.25, [4488, 4488]), (8976, 8192, 1.25, [8976]),
    (8976, 4096, 1.0, [4096, 4096, 784]), (3 * 4096, 4096, 1.25, [4096] * 3), (0, 4096, 1.25, [])])
def test_stretched_chunks_cover_every_pair_once_in_order(pairs, size, stretch, expected):
    src, dst = torch.arange(pairs), torch.arange(pairs) + 1
    chunks = list(models._chunks(src, dst, size, stretch))
    assert [s.numel() for _, s, _ in chunks] == expected
    assert all(start == int(s[0]) for start, s, _ in chunks)
    if pairs:
        assert torch.equal(torch.cat([s for _, s, _ in chunks]), src)
        assert torch.equal(torch.cat([d for _, _, d in chunks]), dst)


@pytest.mark.parametrize("fused", [True, False])
def test_linear_relu_is_relu_of_the_linear_layer(monkeypatch, fused):
    """oneDNN's linear with the ReLU fused (CPU, no autograd) and the addmm fallback give
    relu(x W^T + b) to float rounding; with autograd on, the plain path (a graph to follow)."""
    monkeypatch.setattr(dense, "FUSE_LINEAR_RELU", fused)
    torch.manual_seed(0)
    layer = torch.nn.Linear(12, 9)
    x = torch.randn(300, 12)
    expected = F.relu(layer(x)).detach()
    with torch.no_grad():
        assert torch.allclose(dense.linear_relu(x, layer), expected, atol=1e-6)
        assert torch.allclose(dense.linear_relu(x, layer, torch.empty(300, 9)), expected, atol=1e-6)
    assert torch.allclose(dense.linear_relu(x, layer).detach(), expected, atol=1e-6)
