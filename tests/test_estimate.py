"""The estimate before Start (argae_core/estimate.py): grows with the graph, says how a run
trains, refuses beyond the memory with numbers; torch-free."""
from __future__ import annotations

import subprocess
import sys

from argae_core import estimate
from argae_core.config import TrainConfig

DEGREE = 5  # undirected edges per node at degree 10


def at(nodes: int, **changes) -> estimate.Estimate:
    return estimate.estimate(nodes, DEGREE * nodes, 128, TrainConfig(**changes))


def test_memory_and_time_grow_with_the_graph_in_each_mode():
    for mode in ("full", "sampled"):
        sizes = [at(n, sampling=mode) for n in (10_000, 100_000, 1_000_000)]
        assert [s.sampled for s in sizes] == [mode == "sampled"] * 3
        assert sizes[0].peak_bytes < sizes[1].peak_bytes < sizes[2].peak_bytes
        assert sizes[0].seconds_per_epoch < sizes[1].seconds_per_epoch < sizes[2].seconds_per_epoch
    # full-batch memory grows with the graph's every tensor, sampled only with the stored graph
    full, sampled = at(1_000_000, sampling="full"), at(1_000_000, sampling="sampled")
    assert sampled.peak_bytes < full.peak_bytes / 2
    assert at(100_000, sampling="sampled", batch_nodes=32_768).peak_bytes > at(100_000, sampling="sampled").peak_bytes
    assert at(10_000, epochs=400).seconds == 2 * at(10_000, epochs=200).seconds


def test_the_estimate_says_how_a_run_trains():
    sampled = at(100_000)  # auto, above the 50,000-node threshold
    assert sampled.sampled and sampled.batches == estimate.batches_per_epoch(500_000, 8192) == 208
    assert sampled.how() == "sampled: 8,192-node subgraphs, 208 per epoch"
    assert "full-batch" in at(10_000).how()
    sentence = sampled.sentence(available=16e9)
    assert "per epoch" in sentence and "for 200 epochs" in sentence and "of 16.0 GB available" in sentence


def test_a_run_beyond_the_memory_is_refused_with_numbers():
    full, sampled = at(1_000_000, sampling="full"), at(1_000_000, sampling="sampled")
    assert estimate.refusal(full, available=2 * full.peak_bytes) is None
    assert estimate.refusal(full, available=None) is None  # memory unknown: no refusal
    words = estimate.refusal(full, available=8e9, alternative=sampled)
    assert words.startswith("Full-batch training of 1,000,000 nodes and 5,000,000 edges needs about ")
    assert "this machine has 8.0 GB available" in words
    assert f"Sampled training needs about {estimate.gigabytes(sampled.peak_bytes)}" in words
    tight = estimate.refusal(sampled, available=sampled.peak_bytes / 2)
    assert tight.startswith("Sampled training (8,192-node subgraphs)") and "Lower the batch nodes" in tight


def test_available_memory_is_read():
    found = estimate.available_memory()
    assert found is None or found > 0


def test_the_estimate_module_imports_no_torch():
    done = subprocess.run([sys.executable, "-c", "import sys, argae_core.estimate, pages.train_estimate; "
                           "print('torch' in sys.modules)"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
