"""build_model: the PyG class, the encoder heads and the discriminator each kind asks for."""
import pytest
import torch
from torch_geometric.nn import ARGA, ARGVA, GAE, VGAE

from argae_core.config import TrainConfig
from argae_core.devices import resolve_device as pick_device
from argae_core.models import Discriminator, GCNEncoder, build_model

KINDS = {"gae": GAE, "vgae": VGAE, "arga": ARGA, "argva": ARGVA}


def small_graph(nodes=12, features=5):
    ring = torch.arange(nodes)
    edge_index = torch.stack([torch.cat([ring, (ring + 1) % nodes]),
                              torch.cat([(ring + 1) % nodes, ring])])
    return torch.randn(nodes, features), edge_index


@pytest.mark.parametrize("kind", list(KINDS))
def test_build_model_gives_the_pyg_class_and_shapes(kind):
    torch.manual_seed(0)
    config = TrainConfig(model=kind, latent_size=6, encoder_hidden=10, discriminator_hidden=7)
    model = build_model(config, num_features=5)
    assert type(model) is KINDS[kind]
    assert isinstance(model.encoder, GCNEncoder)
    assert (model.encoder.conv_logstd is not None) == config.variational
    assert model.encoder.conv1.out_channels == 10
    x, edge_index = small_graph()
    z = model.encode(x, edge_index)
    assert z.shape == (12, 6)
    if config.adversarial:
        assert isinstance(model.discriminator, Discriminator)
        assert model.discriminator.lin1.out_features == 7
        assert model.discriminator(z).shape == (12, 1)
    else:
        assert not hasattr(model, "discriminator")


def test_variational_encoder_samples_in_training_and_uses_the_mean_in_eval():
    torch.manual_seed(0)
    model = build_model(TrainConfig(model="vgae", latent_size=4), num_features=5)
    x, edge_index = small_graph()
    model.train()
    assert not torch.equal(model.encode(x, edge_index), model.encode(x, edge_index))
    model.eval()
    assert torch.equal(model.encode(x, edge_index), model.encode(x, edge_index))
    assert torch.isfinite(model.kl_loss())


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no GPU"):
            pick_device("cuda")
