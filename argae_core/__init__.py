"""ARGAE Lab engine: datasets, GAE / VGAE / ARGA / ARGVA, a streaming trainer, metrics,
projections, background jobs and saved runs. Never imports streamlit.

    from argae_core import TrainConfig, Trainer
    for record in Trainer(TrainConfig(dataset="karate", model="argva", epochs=50)):
        print(record.epoch, record.encoder_loss, record.val_auc)

`import argae_core` stays light (no torch): `Trainer`, `EpochRecord` and `load_graph` are
imported on first use (PEP 562), so the dashboard's pages that need only the config never pay
for torch.
"""
from .config import ConfigError, TrainConfig

__all__ = ["ConfigError", "EpochRecord", "TrainConfig", "Trainer", "load_graph"]

_LAZY = {"Trainer": "training", "EpochRecord": "training", "load_graph": "data"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
