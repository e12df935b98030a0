"""Time and memory of a training before it starts, from the graph's size and the config.

Torch-free (the page process imports it: tests/test_page_imports.py). Calibrated from
measurements on the 2-core machine this project is built on (`benchmarks/bench_scaling.py`,
full-batch and `--sampled`, planted partitions of degree 10 with 128 features, default
ARGVA, one thread; README "Performance"): the constants below say what each stands for.
Estimates, not promises: a loaded machine trains slower, and the first epoch and the final
metrics come on top.
"""
from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass

from .config import edges_per_batch, sampler_label  # noqa: F401  (edges_per_batch: the sampler's rule)

SPLIT_TRAIN_SHARE = 0.85  # graph.split_edges holds out 5 % validation and 10 % test edges
GB = 1e9

# --- memory, bytes (peak RSS of one training process)
BASE_BYTES = 0.66e9          # torch + PyG + scikit-learn imported, a small graph trained (540 MB + 120)
GRAPH_BYTES_PER_EDGE = 250   # edge_index, the split's copies, CSR / sorted ids, the generator's transient
# full-batch: per node, F floats of X and its copies, ~5 [N x hidden] and ~12 [N x latent] tensors
# with their gradients; per edge, messages and the decoder's pairs. Fit: 10k nodes 771 MB, 100k 1730 MB.
FULL_BYTES_PER_EDGE = 350
FULL_HIDDEN_COPIES, FULL_LATENT_COPIES, FEATURE_COPIES = 5, 12, 2
# sampled: the whole-graph X, Z in chunks (two N x latent) and the snapshot's copies, plus one batch
SAMPLED_LATENT_COPIES = 6
BATCH_BYTES_PER_NODE_HIDDEN = 4 * 12   # a batch's [n x hidden] tensors, forward and backward
BATCH_FIXED_BYTES = 0.15e9

# --- time, CPU seconds (one thread)
# full-batch epoch per 1k edges: 2.9 ms while the [N x hidden] tensors fit the cache (10k nodes),
# 5.1 ms beyond (100k nodes); interpolated on log(nodes) in between
FULL_MS_PER_K_EDGE_SMALL, FULL_MS_PER_K_EDGE_BIG = 2.9, 5.1
CACHE_NODES_SMALL, CACHE_NODES_BIG = 10_000, 100_000
# sampled: one batch of 8,192 nodes at hidden 256 (draw + encode + D update + encoder update);
# measured 1M nodes: 267.6 CPU s for 2,076 batches, 129 ms each (draw 16, encode 34, D 19, encoder 49)
BATCH_MS_AT_8192 = 130.0
# the chunked whole-graph Z of a sampled run's validation / snapshot, per 1k edges + nodes
# (1M nodes, 5M edges: a validation 16 s wall at load 5-9, about a third of it CPU)
EMBED_MS_PER_K = 1.0


def batches_per_epoch(edges: int, batch_nodes: int) -> int:
    """Sampled updates in one pass over the training edges of a graph of `edges` undirected edges."""
    train = max(1, int(edges * SPLIT_TRAIN_SHARE))
    return math.ceil(train / edges_per_batch(batch_nodes))


@dataclass
class Estimate:
    sampled: bool
    nodes: int
    edges: int
    peak_bytes: float
    seconds_per_epoch: float
    epochs: int
    batches: int = 1            # updates per epoch
    batch_nodes: int = 0
    sampler: str = ""           # sampled: the sampler, in words (config.sampler_label)

    @property
    def seconds(self) -> float:
        return self.seconds_per_epoch * self.epochs

    def how(self) -> str:
        """'sampled: 8,192-node subgraphs, 12 per epoch' or 'full-batch: the whole graph every epoch'."""
        if self.sampled:
            return f"sampled: {self.batch_nodes:,}-node subgraphs, {self.batches:,} per epoch"
        return "full-batch: the whole graph every epoch"

    def sentence(self, available: float | None = None) -> str:
        memory = f"peak memory about {gigabytes(self.peak_bytes)}"
        if available is not None:
            memory += f" of {gigabytes(available)} available"
        sampler = f" Sampler: {self.sampler}." if self.sampled and self.sampler else ""
        return (f"Training {self.how()}.{sampler} Estimate: about {duration(self.seconds_per_epoch)} per epoch, "
                f"{duration(self.seconds)} for {self.epochs:,} epoch{'' if self.epochs == 1 else 's'} "
                f"(one thread, quiet machine); {memory}.")


def estimate(nodes: int, edges: int, features: int, config) -> Estimate:
    """Peak memory and time per epoch of training `config` (a TrainConfig) on a graph of
    `nodes` nodes, `edges` undirected edges and `features` features."""
    sampled = config.sampled_for(nodes)
    hidden, latent = config.encoder_hidden, config.latent_size
    graph = nodes * features * 4 + edges * GRAPH_BYTES_PER_EDGE
    d_steps = config.discriminator_steps if config.adversarial else 0
    if not sampled:
        peak = (BASE_BYTES + graph + edges * FULL_BYTES_PER_EDGE
                + nodes * 4 * (FEATURE_COPIES * features + FULL_HIDDEN_COPIES * hidden + FULL_LATENT_COPIES * latent))
        # each further D step: 16 % of a one-step epoch (Cora, default sizes, one thread: 5 steps
        # 24.6 ms an epoch, 1 step 15.2 ms; benchmarks/bench_training_speed.py rows (b), (c))
        per_k = _full_ms_per_k_edge(nodes) * (hidden / 256) * (1 + 0.16 * (d_steps - 1))
        return Estimate(False, nodes, edges, peak, per_k * edges / 1000 / 1000, config.epochs)
    batch = min(config.batch_nodes, nodes)
    peak = (BASE_BYTES + graph + nodes * 4 * SAMPLED_LATENT_COPIES * latent
            + batch * (BATCH_BYTES_PER_NODE_HIDDEN * hidden + 4 * FEATURE_COPIES * features) + BATCH_FIXED_BYTES)
    batches = batches_per_epoch(edges, batch)
    per_batch = BATCH_MS_AT_8192 * (batch / 8192) * (hidden / 256) * (1 + 0.15 * (d_steps - 1))
    embeds_per_epoch = 1 / config.eval_interval + 1 / config.snapshot_interval
    seconds = (batches * per_batch + embeds_per_epoch * EMBED_MS_PER_K * (edges + nodes) / 1000) / 1000
    return Estimate(True, nodes, edges, peak, seconds, config.epochs, batches, batch,
                    sampler_label(config.sampler, installed_backend()))


def installed_backend() -> str | None:
    """'pyg-lib' or 'torch-sparse' when installed (found, not imported: no torch here), else
    None. What `sampling.loader_backend()` will say in the training process, unless the
    package is there but fails to load (then the run's metrics name the sampler it used)."""
    for module, name in (("pyg_lib", "pyg-lib"), ("torch_sparse", "torch-sparse")):
        if importlib.util.find_spec(module) is not None:
            return name
    return None


def _full_ms_per_k_edge(nodes: int) -> float:
    if nodes <= CACHE_NODES_SMALL:
        return FULL_MS_PER_K_EDGE_SMALL
    if nodes >= CACHE_NODES_BIG:
        return FULL_MS_PER_K_EDGE_BIG
    share = math.log(nodes / CACHE_NODES_SMALL) / math.log(CACHE_NODES_BIG / CACHE_NODES_SMALL)
    return FULL_MS_PER_K_EDGE_SMALL + share * (FULL_MS_PER_K_EDGE_BIG - FULL_MS_PER_K_EDGE_SMALL)


def available_memory() -> float | None:
    """Bytes of memory available to a new process now (psutil, else /proc/meminfo), or None."""
    try:
        import psutil
        return float(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def refusal(found: Estimate, available: float | None, alternative: Estimate | None = None) -> str | None:
    """Why `found` will not fit in `available` bytes, with the numbers, or None when it fits
    (or the memory is not known). `alternative`: the same run sampled, when that would fit."""
    if available is None or found.peak_bytes <= available:
        return None
    mode = f"Sampled training ({found.batch_nodes:,}-node subgraphs)" if found.sampled else "Full-batch training"
    words = (f"{mode} of {found.nodes:,} nodes and {found.edges:,} edges needs about "
             f"{gigabytes(found.peak_bytes)} of memory; this machine has {gigabytes(available)} available.")
    if alternative is not None and alternative.sampled and alternative.peak_bytes <= available:
        words += (f" Sampled training needs about {gigabytes(alternative.peak_bytes)} ({alternative.how()}, about "
                  f"{duration(alternative.seconds_per_epoch)} per epoch): set Big graphs > Sampling to sampled.")
    elif found.sampled:
        words += " Lower the batch nodes, or train on a smaller graph."
    return words


def gigabytes(value: float) -> str:
    return f"{value / GB:.1f} GB" if value >= 0.95 * GB else f"{value / 1e6:,.0f} MB"


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
