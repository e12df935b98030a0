"""The streaming trainer: records per epoch, determinism, divergence, stop, evaluation.

KarateClub and a few epochs everywhere, except the one slow end-to-end run on Cora."""
import math

import numpy as np
import pytest
import torch

from argae_core.config import MODEL_KINDS, ConfigError, TrainConfig
from argae_core.data import load_graph, split_edges
from argae_core import training
from argae_core.training import ROW_FIELDS, EpochRecord, Trainer

FINAL_KEYS = {"test_auc", "test_ap", "test_edges", "acc", "nmi", "ari", "mmd", "mmd_shape", "mmd_bandwidth",
              "z_std", "norm_ratio", "c2st", "c2st_shape", "dim_mean", "dim_std", "epochs_run", "diverged", "diverged_at", "best_epoch", "seconds_per_epoch"}


def karate(**changes) -> TrainConfig:
    return TrainConfig(**{"dataset": "karate", "epochs": 8, "latent_size": 8, "encoder_hidden": 16,
                          "eval_interval": 2, "snapshot_interval": 3, **changes})


def losses(trainer: Trainer) -> list[dict]:
    return [{k: v for k, v in r.row().items() if k != "seconds"} for r in trainer]


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_each_model_kind_trains_and_reports_its_parts(kind):
    config = karate(model=kind)
    trainer = Trainer(config)
    records = list(trainer)
    assert [r.epoch for r in records] == list(range(1, 9))
    for r in records:
        assert isinstance(r, EpochRecord) and not r.diverged and r.seconds > 0
        assert math.isfinite(r.encoder_loss) and r.recon_loss > 0
        assert (r.reg_loss is not None) == config.adversarial
        assert (r.kl_loss is not None) == config.variational
        assert (r.discriminator_loss is not None) == config.adversarial
        if config.adversarial:
            assert 0 < r.d_real < 1 and 0 < r.d_fake < 1
        parts = r.recon_loss + (r.reg_loss or 0) + (r.kl_loss or 0)
        assert r.encoder_loss == pytest.approx(parts, rel=1e-5)
    assert [r.epoch for r in records if r.val_auc is not None] == [2, 4, 6, 8]
    snapshots = [r for r in records if r.z is not None]
    assert [r.epoch for r in snapshots] == [1, 3, 6, 8]
    assert snapshots[0].z.shape == (34, 8)
    assert all((r.d_score is not None) == config.adversarial for r in snapshots)
    metrics = trainer.final_metrics()
    assert FINAL_KEYS <= set(metrics)
    assert 0 <= metrics["test_auc"] <= 1 and 0 <= metrics["acc"] <= 1
    assert metrics["epochs_run"] == 8 and metrics["diverged"] is False
    assert len(metrics["dim_mean"]) == 8
    assert trainer.history[0].keys() == set(ROW_FIELDS)


def test_training_improves_link_prediction_on_a_planted_graph():
    """Features without signal: what the encoder learns about links comes from training."""
    config = TrainConfig(dataset="planted", model="gae", epochs=60, eval_interval=1, seed=1,
                         planted_signal=0.0, latent_size=16, encoder_hidden=32)
    trainer = Trainer(config)
    records = list(trainer)
    first = next(r.val_auc for r in records if r.val_auc is not None)
    assert trainer.best_val_auc > first + 0.08
    assert trainer.final_metrics()["test_auc"] > 0.6


def test_a_learning_rate_far_too_high_is_reported_as_a_degenerate_run_not_a_result():
    """KarateClub ARGVA at learning rate 1: no NaN, but Z grows until every pair scores 1.0."""
    trainer = Trainer(karate(epochs=100, encoder_lr=1.0, discriminator_lr=1.0))
    list(trainer)
    metrics = trainer.final_metrics()
    assert not metrics["diverged"]
    assert metrics["test_auc"] == pytest.approx(0.5)
    assert metrics["degenerate"] in ("saturated", "collapsed")
    sane = Trainer(karate(epochs=100))
    list(sane)
    assert sane.final_metrics()["degenerate"] is None


@pytest.mark.parametrize("kind", ["vgae", "argva"])
def test_same_seed_gives_the_same_losses(kind):
    first = losses(Trainer(karate(model=kind, seed=3)))
    again = losses(Trainer(karate(model=kind, seed=3)))
    other = losses(Trainer(karate(model=kind, seed=4)))
    assert first == again
    assert first != other


def test_the_reported_epoch_is_the_best_validation_epoch():
    trainer = Trainer(karate(model="arga", epochs=20, eval_interval=1))
    records = list(trainer)
    best = max((r for r in records if r.val_auc is not None), key=lambda r: r.val_auc)
    metrics = trainer.final_metrics()
    assert metrics["best_epoch"] == best.epoch
    # the weights scored are the best epoch's: their validation AUC comes back
    z = trainer.embed()
    auc, _ = trainer.model.test(z, trainer.split.val_pos, trainer.split.val_neg)
    assert auc == pytest.approx(best.val_auc)


def test_trainer_uses_the_graph_and_split_it_is_given():
    config = karate(model="gae", epochs=2)
    graph = load_graph(config)
    split = split_edges(graph, seed=9)
    trainer = Trainer(config, graph=graph, split=split)
    assert trainer.graph is graph and trainer.split is split


def test_trainer_refuses_an_invalid_config():
    with pytest.raises(ConfigError):
        Trainer(karate(latent_size=0))


@pytest.mark.parametrize("after", [1, 4])
def test_stop_ends_after_the_current_epoch(after):
    trainer = Trainer(karate(model="argva", epochs=50))
    seen = []
    for record in trainer:
        seen.append(record.epoch)
        if record.epoch == after:
            trainer.stop()
    assert seen == list(range(1, after + 1))
    assert trainer.finished
    metrics = trainer.final_metrics()
    assert metrics["epochs_run"] == after and metrics["diverged"] is False
    assert "test_auc" in metrics


def poison_recon_loss(monkeypatch, trainer: Trainer, from_epoch: int):
    """Make the reconstruction loss NaN from `from_epoch` on, and its gradient with it (as
    autograd would carry a NaN loss into every weight)."""
    real = training.recon_loss_gradients

    def recon_loss_gradients(z, positive, negative, grad_z):
        loss = real(z, positive, negative, grad_z)
        if trainer.epoch >= from_epoch:
            grad_z.mul_(float("nan"))
            return loss * float("nan")
        return loss
    monkeypatch.setattr(training, "recon_loss_gradients", recon_loss_gradients)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_nan_loss_ends_the_run_with_a_diverged_record(kind, monkeypatch):
    trainer = Trainer(karate(model=kind, epochs=30, eval_interval=1))
    poison_recon_loss(monkeypatch, trainer, from_epoch=5)
    records = list(trainer)  # no exception
    assert [r.epoch for r in records] == [1, 2, 3, 4, 5]
    assert records[-1].diverged and not any(r.diverged for r in records[:-1])
    assert records[-1].z is None and records[-1].val_auc is None
    metrics = trainer.final_metrics()
    assert metrics["diverged"] is True and metrics["diverged_at"] == 5
    assert metrics["epochs_run"] == 5
    assert 1 <= metrics["best_epoch"] <= 4 and math.isfinite(metrics["test_auc"])


def test_divergence_before_any_validation_still_gives_final_metrics(monkeypatch):
    trainer = Trainer(karate(model="gae", epochs=30, eval_interval=10))
    poison_recon_loss(monkeypatch, trainer, from_epoch=2)
    records = list(trainer)
    assert records[-1].diverged and trainer.diverged_at == 2
    metrics = trainer.final_metrics()
    assert metrics["diverged"] is True and "test_auc" not in metrics


def test_a_non_finite_feature_diverges_at_the_first_epoch():
    """No monkeypatching: one infinite input value poisons every loss at once."""
    config = karate(model="argva")
    graph = load_graph(config)
    graph.x[0, 0] = float("inf")
    trainer = Trainer(config, graph=graph)
    records = list(trainer)
    assert len(records) == 1 and records[0].diverged and trainer.diverged_at == 1
    assert trainer.final_metrics()["diverged"] is True


@pytest.mark.slow
def test_argva_on_cora_with_defaults_reaches_the_bar(cora_available):
    config = TrainConfig(dataset="cora", model="argva")
    trainer = Trainer(config)
    for _ in trainer:
        pass
    metrics = trainer.final_metrics()
    assert not metrics["diverged"]
    assert metrics["test_auc"] >= 0.88, metrics
    assert np.isfinite(metrics["mmd"])


@pytest.mark.parametrize("model", ["gae", "vgae", "arga", "argva"])
def test_embed_is_the_eval_mode_encoding_and_leaves_an_epoch_in_progress_alone(model):
    trainer = Trainer(karate(model=model, epochs=3))
    list(trainer)
    trainer.model.eval()
    with torch.no_grad():
        expected = trainer.model.encode(trainer.x, trainer.train_edges)  # PyG: the mean in eval mode
    trainer.model.train()
    z = trainer.model.encode(trainer.x, trainer.train_edges)  # an epoch in progress: a sample
    kl = trainer.model.kl_loss() if trainer.config.variational else None
    embedded = trainer.embed()
    assert torch.equal(embedded, expected) and trainer.model.training
    if kl is not None:  # the posterior kl_loss reads is still the epoch's, not the embedding's
        assert torch.equal(trainer.model.kl_loss(), kl) and not torch.equal(z, embedded)


def test_step_mode_embeds_z_again_only_after_an_encoder_update():
    """A discriminator update leaves Z as it was: step mode's picture after it reuses the last
    embedding (a full chunked pass on a big graph) and gives D(z) under the new D."""
    config = TrainConfig(dataset="karate", model="argva", epochs=5, seed=0, discriminator_steps=3)
    trainer = Trainer(config)
    calls = []
    embed = trainer.embed
    trainer.embed = lambda: calls.append(1) or embed()
    shown = []
    for _ in range(4):   # 3 discriminator updates, then the encoder update
        phase = trainer.advance()
        shown.append((phase["phase"], *trainer.step_snapshot()))
    assert [p for p, _, _ in shown] == ["discriminator"] * 3 + ["encoder"]
    assert len(calls) == 2, "Z was embedded again after a discriminator update"
    fresh = embed().numpy()
    assert np.array_equal(shown[-1][1], fresh)                       # after the encoder update: today's Z
    assert np.array_equal(shown[0][1], shown[2][1]) and not np.allclose(shown[2][1], fresh)
    assert not np.allclose(shown[0][2], shown[2][2])                  # D(z) moved with D
