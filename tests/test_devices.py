"""The device a run computes on: chosen once (auto: CUDA when torch sees a GPU, else the CPU),
overridable, refused with a reason when absent; the Trainer builds its model and tensors on
it and hands numpy only CPU copies. No GPU is needed: the GPU is faked or the meta device used."""
import ast
from pathlib import Path

import pytest
import torch

from argae_core import devices, training
from argae_core.config import ConfigError, TrainConfig
from argae_core.devices import DeviceError, resolve_device

PROJECT = Path(__file__).resolve().parent.parent


def test_auto_takes_cuda_when_torch_sees_a_gpu_and_the_cpu_otherwise(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")          # an override beats the GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cpu")          # mps only when asked for
    assert resolve_device("mps") == torch.device("mps")


def test_a_device_that_is_not_there_is_refused_with_a_reason(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=r"device: 'cuda' was asked for but no GPU is available: "
                                          r"this torch \(.*\) is built .*; use auto or cpu") as caught:
        resolve_device("cuda")
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, RuntimeError)
    assert caught.value.problems.keys() == {"device"}
    with pytest.raises(DeviceError, match="'mps' \\(Apple GPU\\) was asked for but no GPU is available"):
        resolve_device("mps")
    with pytest.raises(DeviceError, match="unknown device 'tpu'; choose auto, cpu, cuda or mps"):
        resolve_device("tpu")
    with pytest.raises(ConfigError, match="device: unknown value 'tpu'"):
        TrainConfig(device="tpu").validate()


def test_a_trainer_asked_for_cuda_without_one_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="no GPU is available"):
        training.Trainer(TrainConfig(dataset="karate", device="cuda"))


def test_device_name_and_memory_on_the_cpu():
    assert devices.device_name(torch.device("cpu")) == "cpu"
    assert devices.peak_memory_mb(torch.device("cpu")) is None


def test_the_trainer_builds_its_model_and_tensors_on_the_device(monkeypatch):
    """On the meta device (shapes, no values) every parameter and every tensor the epochs use
    is on the chosen device; the labels numpy reads stay on the CPU."""
    monkeypatch.setattr(training, "resolve_device", lambda name: torch.device("meta"))
    trainer = training.Trainer(TrainConfig(dataset="planted", model="argva", snapshot_nodes=100))
    assert trainer.device == torch.device("meta")
    assert {p.device.type for p in trainer.model.parameters()} == {"meta"}
    tensors = [trainer.x, trainer.train_edges, trainer.positive_edges, *trainer.val_edges, *trainer.test_edges,
               trainer.negative_edges.edge_ids, trainer._snapshot_rows]
    assert {t.device.type for t in tensors} == {"meta"}
    assert trainer.graph.y.device.type == "cpu" and trainer.snapshot_nodes is not None


def numpy_calls_off_the_cpu(path: Path, allowed: set[str]) -> list[str]:
    """`.numpy()` calls in `path` not made on a `.cpu()` result nor on a tensor known to stay on the CPU."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "numpy":
            receiver = node.func.value
            on_cpu = (isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute)
                      and receiver.func.attr == "cpu")
            if not on_cpu and ast.unparse(receiver) not in allowed:
                bad.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return bad


def test_numpy_only_ever_sees_cpu_tensors_in_training_and_evaluation():
    # the graph (and its labels) stays on the CPU; the Trainer moves copies of x and the edges.
    # (judge.py, the Latent page's D map, builds its own D on the CPU from saved arrays.)
    allowed = {"self.graph.y", "graph.y"}
    bad = [b for name in ("training.py", "models.py", "metrics.py")
           for b in numpy_calls_off_the_cpu(PROJECT / "argae_core" / name, allowed)]
    assert bad == []
