"""What one epoch of training reports, as plain numbers and arrays (torch-free: saved runs
are listed and read without importing torch)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LINK_METRICS = ("test_auc", "test_ap")          # held-out edges: link prediction
CLUSTER_METRICS = ("acc", "nmi", "ari")         # KMeans on Z against the labels
PRIOR_METRICS = ("mmd", "z_std", "c2st")        # how close Z is to N(0, I)
SUMMARY_METRICS = LINK_METRICS + CLUSTER_METRICS + PRIOR_METRICS  # a saved run's row in a listing


@dataclass
class EpochRecord:
    epoch: int                               # 1-based
    encoder_loss: float                      # total = recon + reg + kl (weighted)
    recon_loss: float
    reg_loss: float | None = None            # weighted; None for GAE / VGAE
    kl_loss: float | None = None             # weighted; None for GAE / ARGA
    discriminator_loss: float | None = None  # mean over the epoch's D steps
    d_real: float | None = None              # mean D(prior sample), a probability
    d_fake: float | None = None              # mean D(z), a probability
    val_auc: float | None = None
    val_ap: float | None = None
    seconds: float = 0.0
    diverged: bool = False
    z: np.ndarray | None = field(default=None, repr=False)        # [N, latent] at snapshots
    d_score: np.ndarray | None = field(default=None, repr=False)  # D(z) per node at snapshots
    d_weights: dict | None = field(default=None, repr=False)      # D's parameters at snapshots (arrays)

    def row(self) -> dict:
        """The scalar part, for tables, CSV and JSON (not `asdict`, which deep-copies Z)."""
        return {k: getattr(self, k) for k in ROW_FIELDS}


ROW_FIELDS = [k for k in EpochRecord.__dataclass_fields__ if k not in ("z", "d_score", "d_weights")]
