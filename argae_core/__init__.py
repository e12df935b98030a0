"""ARGAE Lab engine: datasets, GAE / VGAE / ARGA / ARGVA, a streaming trainer, metrics,
projections, background jobs and saved runs. Never imports streamlit."""
from .config import ConfigError, TrainConfig

__all__ = ["ConfigError", "TrainConfig"]
