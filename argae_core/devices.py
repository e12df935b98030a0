"""Where a run computes: the `device` knob resolved once per Trainer.

    auto  CUDA when torch sees a GPU, else the CPU (Apple's mps only when asked for: not tried here)
    cpu / cuda / mps   that device; a refusal that says why when it is not there
    meta  shapes without values (tests only: builds the model and moves the tensors, runs nothing)

The Trainer builds the model and its tensors on the device; what numpy needs (metrics, the
snapshots, the final Z) is moved back with `.cpu()` first. Nothing requires a GPU.
"""
from __future__ import annotations

import torch

from .config import ConfigError

FUSED_ADAM = ("cpu", "cuda", "mps")   # devices torch's fused Adam runs on (not meta)


class DeviceError(ConfigError, RuntimeError):
    """The device asked for is not on this machine (a ConfigError of the knob `device`)."""

    def __init__(self, message: str):
        super().__init__({"device": message})


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for the knob's value, or DeviceError saying what is missing."""
    choice = str(name).strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"'cuda' was asked for but no GPU is available: {no_cuda_reason()}; "
                              "use auto or cpu")
        return torch.device("cuda")
    if choice == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError("'mps' (Apple GPU) was asked for but no GPU is available here; "
                              "use auto or cpu")
        return torch.device("mps")
    if choice in ("cpu", "meta"):
        return torch.device(choice)
    raise DeviceError(f"unknown device {name!r}; choose auto, cpu, cuda or mps")


def no_cuda_reason() -> str:
    """Why torch finds no CUDA GPU here, in words (for a refusal: a run's device, a picture's)."""
    build = torch.version.cuda
    return (f"this torch ({torch.__version__}) is built for CUDA {build} but finds no GPU"
            if build else f"this torch ({torch.__version__}) is built without CUDA")


def device_name(device: torch.device) -> str:
    """What the machine calls the device: the GPU's name, or 'cpu'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def peak_memory_mb(device: torch.device) -> float | None:
    """Peak memory allocated on a CUDA device since the process started (or the last reset),
    MB; None elsewhere (the CPU's peak is the process's maxrss)."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20
