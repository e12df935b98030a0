"""The dense products' two libraries (argae_core/dense.py): whichever computes them, the
trainer's written-out gradients still equal autograd's; choosing leaves the random stream
alone; a run records its choices and its exported script pins them."""
from __future__ import annotations

import contextlib

import pytest
import torch

from argae_core import dense
from argae_core.config import TrainConfig
from argae_core.models import Discriminator, GCNEncoder
from argae_core.training import Trainer

ROWS = dense.MIN_ROWS + 76  # products this tall are the ones the choice applies to
BOTH = [{"activation": "mkl", "weight": "mkl", "abT": "mkl"},
        {"activation": "onednn", "weight": "onednn", "abT": "onednn"},
        {"activation": "onednn", "weight": "mkl", "abT": "onednn"}]


@contextlib.contextmanager
def kinds_choose(chosen: dict[str, str]):
    """While inside, every product of a kind in `chosen` is chosen afresh (the choices made
    before are set aside, and put back after), with that library as the timing's verdict."""
    saved, real = dict(dense.CHOICES), dense._uses_onednn

    def verdict(kind, words, longest, x, race):
        return real(kind, words, longest, x, lambda: chosen[kind] == "onednn")
    dense.CHOICES.clear()
    dense._uses_onednn = verdict
    try:
        yield
    finally:
        dense._uses_onednn = real
        dense.CHOICES.clear()
        dense.CHOICES.update(saved)


@pytest.fixture
def fresh_choices(monkeypatch):
    """CHOICES as if no product had been computed yet in this process (restored after)."""
    monkeypatch.setattr(dense, "CHOICES", {})
    return dense.CHOICES


def needs_onednn(chosen: dict) -> None:
    if "onednn" in chosen.values() and dense._LINEAR_POINTWISE is None:
        pytest.skip("this torch build has no oneDNN")


@pytest.mark.parametrize("chosen", BOTH, ids=lambda c: "-".join(c.values()))
def test_both_libraries_compute_the_same_products(fresh_choices, chosen):
    needs_onednn(chosen)
    torch.manual_seed(0)
    x, grad = torch.randn(ROWS, 64), torch.randn(ROWS, 64)
    with torch.no_grad(), kinds_choose(chosen):
        small = torch.randn(48, 64)
        for a, b in ((small, x), (small, x.t().contiguous().t()),          # b row-major, b a transposed view
                     (grad.t().contiguous(), x.t().contiguous()), (grad.t().contiguous(), x[:, :40].t())):
            assert torch.allclose(dense.times_transposed(a, b), a @ b.t(), rtol=1e-4, atol=1e-3)
            out = torch.full((a.size(0), b.size(0)), float("nan"))
            dense.times_transposed(a, b, out)  # the product lands in `out`, whichever library
            assert torch.allclose(out, a @ b.t(), rtol=1e-4, atol=1e-3)
        # an `a` that is not contiguous is made so
        assert torch.allclose(dense.times_transposed(small[:, :8].t(), small[:, 8:16].t()),
                              small[:, :8].t() @ small[:, 8:16], rtol=1e-5, atol=1e-5)
        for weight in (torch.randn(64, 32), torch.randn(32, 64).t()):  # a weight and a transposed view
            assert torch.allclose(dense.times_weight(x, weight), x @ weight, rtol=1e-5, atol=1e-5)
            assert torch.allclose(dense.times_weight(x, weight, torch.empty(ROWS, 32)), x @ weight,
                                  rtol=1e-5, atol=1e-5)
        for inputs in (torch.randn(ROWS, 32), torch.randn(ROWS, 64), torch.randn(ROWS, 96)):  # q < p, = p, > p
            out = torch.full((64, inputs.size(1)), float("nan"))
            dense.weight_gradient(grad, inputs, out)
            assert torch.allclose(out, grad.t() @ inputs, rtol=1e-4, atol=1e-3)
        assert set(dense.in_use().values()) == set(chosen.values())
        assert {words.split()[0] for words in dense.in_use()} == set(chosen)


@pytest.mark.parametrize("chosen", BOTH, ids=lambda c: "-".join(c.values()))
def test_written_out_gradients_equal_autograd_whichever_library(fresh_choices, chosen):
    """The discriminator's update and regulariser gradients and the encoder's (dense
    features, so its first product is dense too) at a size where the choice applies."""
    needs_onednn(chosen)
    with kinds_choose(chosen):
        written_out_gradients_equal_autograd()
    assert dense.CHOICES == {}  # the choices were the verdict's, and set aside after


def written_out_gradients_equal_autograd():
    from torch_geometric.nn import ARGA
    torch.manual_seed(0)
    discriminator = Discriminator(latent=32, hidden=64)
    real, fake = torch.randn(ROWS, 32), torch.randn(ROWS, 32) * 2 + 1
    logits = discriminator(torch.cat([real, fake])).squeeze(-1)
    target = torch.cat([torch.ones(ROWS), torch.zeros(ROWS)])
    (2 * torch.nn.functional.binary_cross_entropy_with_logits(logits, target)).backward()
    expected = {name: p.grad.clone() for name, p in discriminator.named_parameters()}
    discriminator.update_gradients(real, fake)
    for name, p in discriminator.named_parameters():
        assert torch.allclose(p.grad, expected[name], rtol=1e-4, atol=1e-6), name

    z = fake.clone().requires_grad_()
    ARGA(torch.nn.Identity(), discriminator).reg_loss(z).backward()
    _, grad = discriminator.regulariser_gradients(fake, 1.0)
    assert torch.allclose(grad, z.grad, rtol=1e-4, atol=1e-9)

    encoder = GCNEncoder(40, 64, 32, variational=True)
    plain = GCNEncoder(40, 64, 32, variational=True)
    plain.load_state_dict(encoder.state_dict())
    x = torch.randn(ROWS, 40)
    ring = torch.arange(ROWS)
    edges = torch.stack([torch.cat([ring, (ring + 1) % ROWS]), torch.cat([(ring + 1) % ROWS, ring])])
    out = encoder(x, edges, joint=True)
    with mkl_only():
        expected_out = plain(x, edges, joint=True)
    assert torch.allclose(out, expected_out, rtol=1e-4, atol=1e-5)
    out.square().sum().backward()
    with mkl_only():
        expected_out.square().sum().backward()
    for (name, p), q in zip(encoder.named_parameters(), plain.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-3, atol=1e-3), name


def mkl_only():
    """torch.mm for every product while inside (the reference the other way is checked against)."""
    return kinds_choose({kind: "mkl" for kind in dense.KINDS})


def test_choosing_measures_once_per_size_and_leaves_the_random_stream_alone(fresh_choices):
    assert dense.in_use() is None
    x, weight = torch.ones(ROWS, 64), torch.ones(64, 32)
    with torch.no_grad():
        dense.times_weight(x[:100], weight)  # too small to choose for
        assert dense.in_use() is None
        state = torch.get_rng_state()
        dense.times_weight(x, weight)
        dense.weight_gradient(x, x[:, :32], torch.empty(64, 32))
        dense.times_transposed(weight.t(), x)
        dense.times_transposed(x.t().contiguous(), x.t())
        assert torch.equal(torch.get_rng_state(), state)  # training's draws are not shifted
        made = dense.in_use()
        rows = dense._bucket(ROWS)
        assert set(made) == {f"activation {rows} 64x32", f"weight {rows} 64x32",
                             f"abT 32x64 {rows}x64 rows", f"abT 64x{rows} 64x{rows} columns"}
        assert set(made.values()) <= {"onednn", "mkl"}
        dense.times_weight(x[:ROWS - 3], weight)  # the same bucket of rows: no new choice
        dense.times_transposed(weight.t(), x[3:])
        assert dense.in_use() == made
    assert dense._bucket(1024) == 1024 and dense._bucket(1025) == 2048 and dense._bucket(5416) == 8192


def test_pin_takes_what_in_use_writes_and_skips_the_rest(fresh_choices):
    dense.pin(None)
    dense.pin({})
    dense.pin("onednn")  # a hand-edited metrics.json
    dense.pin({"weight 8192": "onednn", "bogus 8192 64x64": "mkl", "weight 8192 64x64": "fast",
               "weight x 6x4": "mkl", "abT 64x32 8192x32": "mkl", "abT 64x32 8192x32 diagonal": "mkl",
               "weight 8192 64x64 rows": "mkl"})
    assert dense.in_use() is None
    recorded = {"activation 8192 64x32": "mkl", "weight 8192 64x64": "onednn",
                "abT 64x32 8192x32 rows": "onednn", "abT 64x8192 64x8192 rows": "mkl"}
    dense.pin(recorded)
    assert dense.in_use() == (recorded if dense._LINEAR_POINTWISE is not None else
                              {k: "mkl" for k in recorded})


def test_a_run_records_the_libraries_it_trained_with(fresh_choices):
    config = TrainConfig(dataset="planted", planted_nodes=ROWS, features="degree", model="argva", epochs=2)
    trainer = Trainer(config)
    list(trainer)
    recorded = trainer.final_metrics()["dense_products"]
    assert recorded == dense.in_use()
    # the discriminator's batch (2 x ROWS rows, feature-major) and the encoder's products (ROWS)
    # were chosen for
    batch = dense._bucket(2 * ROWS)
    assert f"abT 64x{batch} 64x{batch} rows" in recorded  # a weight gradient G^T H
    assert any(k.startswith(f"activation {dense._bucket(ROWS)} ") for k in recorded)


def test_a_kind_leaves_its_usual_library_only_for_a_clear_win():
    """The timing's verdict has a dead zone of MARGIN each way around a kind's usual library,
    so that two processes timing the same product close to even choose alike."""
    m = dense.MARGIN
    assert dense.DEFAULT == {"activation": True, "weight": False, "abT": True}
    assert dense.decide("activation", mkl_seconds=1.0, onednn_seconds=1.0)
    assert dense.decide("activation", mkl_seconds=1.0, onednn_seconds=0.99 * m)  # MKL faster, not by MARGIN
    assert not dense.decide("activation", mkl_seconds=1.0, onednn_seconds=1.01 * m)
    assert not dense.decide("weight", mkl_seconds=1.0, onednn_seconds=1.0)
    assert not dense.decide("weight", mkl_seconds=0.99 * m, onednn_seconds=1.0)  # oneDNN faster, not by MARGIN
    assert dense.decide("weight", mkl_seconds=1.01 * m, onednn_seconds=1.0)
