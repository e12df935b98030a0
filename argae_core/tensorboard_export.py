"""A saved run as TensorBoard event files: `argae export-tensorboard RUN`.

- Scalars, one point per epoch: both players' losses, D(prior) and D(z), validation AUC / AP
  and seconds per epoch, under the same names as the dashboard's charts.
- The run's config and final metrics as text.
- Every latent snapshot for TensorBoard's Embedding Projector: Z at that epoch together with as
  many samples of the N(0, I) prior (a fixed seed), labelled by `kind` (z / prior), node,
  class and degree, so the projector can colour Z by class and set it against the prior as the
  Latent page does.

Writing uses torch's `SummaryWriter`, which needs the `tensorboard` package; without it the
export stops with a message that says what to install.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

from .runs import Run, RunError, load_run

# records.csv column -> TensorBoard tag (grouped as the dashboard's charts are)
SCALAR_TAGS = {
    "encoder_loss": "loss/encoder (total)",
    "recon_loss": "loss/reconstruction",
    "reg_loss": "loss/regulariser (weighted)",
    "kl_loss": "loss/KL (weighted)",
    "discriminator_loss": "loss/discriminator",
    "d_real": "discriminator/D(prior sample)",
    "d_fake": "discriminator/D(z)",
    "val_auc": "validation/AUC",
    "val_ap": "validation/AP",
    "seconds": "time/seconds per epoch",
}
EMBEDDING_TAG = "Z and N(0, I) prior"
METADATA_HEADER = ["kind", "node", "class", "degree"]
PRIOR_SEED = 0
MAX_PRIOR_SAMPLES = 5_000   # beside a big Z, a prior cloud this large already shows its shape


class ExportError(RuntimeError):
    """An export that cannot be done; the message says why and what to do."""


def _summary_writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ExportError("TensorBoard export needs the tensorboard package: "
                          "pip install tensorboard==2.21.0") from None
    return SummaryWriter(log_dir=str(folder))


def _metadata(run: Run, prior_count: int) -> list[list[str]]:
    """One row per snapshot row (its node: all of them, or those a big graph's snapshots keep)."""
    graph = run.graph
    rows = [["z", graph.node_label(i), graph.label_name(i) or "-", str(int(graph.degrees[i]))]
            for i in graph.snapshot_node(np.arange(graph.snapshot_size)).tolist()]
    return rows + [["prior", "-", "-", "-"]] * prior_count


def _clean_cell(text: str) -> str:
    """The projector's metadata is TSV: no tabs or newlines inside a cell."""
    return " ".join(str(text).split()) or "-"


def export_tensorboard(run_id: str, out_dir: Path | str, root: Path | str | None = None, *,
                       replace: bool = False) -> dict:
    """Write `run_id`'s event files under `out_dir`; returns what was written (counts).

    An `out_dir` that already holds files is refused unless `replace` (TensorBoard would show
    the old and the new curves together)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not replace:
            raise ExportError(f"{out} is not empty; choose another folder or pass --replace")
        shutil.rmtree(out)
    try:
        run = load_run(run_id, root)
    except RunError as exc:
        raise ExportError(str(exc)) from None

    writer = _summary_writer(out)
    scalars = snapshots = 0
    try:
        records = run.records
        for column, tag in SCALAR_TAGS.items():
            if column not in records:
                continue
            for epoch, value in zip(records["epoch"], records[column]):
                if value is not None and not (isinstance(value, float) and math.isnan(value)):
                    writer.add_scalar(tag, float(value), int(epoch))
                    scalars += 1
        writer.add_text("run/config", "    " + json.dumps(run.config.to_dict(), indent=2)
                        .replace("\n", "\n    "))
        if run.metrics:
            writer.add_text("run/final metrics", "    " + json.dumps(run.metrics, indent=2, default=str)
                            .replace("\n", "\n    "))
        rng = np.random.default_rng(PRIOR_SEED)
        prior_count = min(run.graph.snapshot_size, MAX_PRIOR_SAMPLES)
        for epoch in run.snapshot_epochs:
            z, _ = run.snapshot(epoch)
            if len(z) != run.graph.snapshot_size:
                raise ExportError(f"the snapshot of epoch {epoch} has {len(z):,} rows for a graph "
                                  f"of {run.graph.snapshot_size:,} nodes kept in snapshots")
            prior = rng.standard_normal((prior_count, z.shape[1])).astype(np.float32)
            metadata = [[_clean_cell(c) for c in row] for row in _metadata(run, prior_count)]
            writer.add_embedding(np.vstack([z.astype(np.float32), prior]), metadata=metadata,
                                 metadata_header=METADATA_HEADER, global_step=epoch, tag=EMBEDDING_TAG)
            snapshots += 1
    finally:
        writer.close()
    return {"run_id": run_id, "folder": str(out), "scalars": scalars, "snapshots": snapshots}
