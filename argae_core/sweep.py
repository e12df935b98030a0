"""The trade-off sweep: one adversarial model trained over a grid of regulariser weights and
latent sizes, on one split per seed, to answer "what does the regulariser buy in prior match,
and what does it cost in link prediction and clustering?".

Weight 0 is the model with its regulariser switched off (ARGVA at 0: a VGAE whose encoder
ignores a discriminator that still trains), so the same grid holds the plain autoencoder.
Plain data in, plain data out, like `compare`: the Compare page, the benchmark and the tests
read the same points.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .compare import BY_KEY, FEW_TEST_EDGES, MAX_SEEDS, Outcome, Stat, finite_number
from .config import ADVERSARIAL, FIELDS, TrainConfig
from .status import Status

REG_WEIGHTS = (0.0, 0.25, 1.0, 4.0, 16.0)   # 16: where Cora ARGVA's AUC fell to 0.75 (issue 12's table)
LATENT_SIZES = (2, 8, 16, 64)
MAX_SWEEP_RUNS = len(REG_WEIGHTS) * len(LATENT_SIZES) * MAX_SEEDS  # the full grid over 5 seeds
# What the trade-off picture can put on its axes: the cost (link, clustering) against the gain.
SCORE_KEYS = ("test_auc", "test_ap", "nmi", "acc")
PRIOR_KEYS = ("c2st", "z_std", "mmd", "c2st_shape")


@dataclass(frozen=True)
class SweepRun:
    """How one run of the sweep ended (`Outcome` plus its grid cell)."""
    reg_weight: float
    latent_size: int
    outcome: Outcome


@dataclass
class SweepPoint:
    """One cell of the grid over its seeds."""
    reg_weight: float
    latent_size: int
    stats: dict[str, Stat] = field(default_factory=dict)
    runs: int = 0
    finished: int = 0
    test_edges: int | None = None   # fewest held-out edges of its runs

    @property
    def label(self) -> str:
        return f"latent {self.latent_size}, weight {self.reg_weight:g}"


def sweep_problems(model: str, reg_weights: Sequence[float], latent_sizes: Sequence[int],
                   repeats: int) -> dict[str, str]:
    """What stops a sweep from starting, keyed by the input at fault (empty: fine)."""
    problems = {}
    if model not in ADVERSARIAL:
        problems["model"] = f"sweep an adversarial model (ARGA or ARGVA), not {model.upper()}"
    weight_meta, latent_meta = FIELDS["reg_weight"].metadata, FIELDS["latent_size"].metadata
    if not reg_weights:
        problems["reg_weights"] = "pick at least one regulariser weight"
    elif any(not weight_meta["min"] <= w <= weight_meta["max"] for w in reg_weights):
        problems["reg_weights"] = f"weights go from {weight_meta['min']:g} to {weight_meta['max']:g}"
    if not latent_sizes:
        problems["latent_sizes"] = "pick at least one latent size"
    elif any(not latent_meta["min"] <= d <= latent_meta["max"] for d in latent_sizes):
        problems["latent_sizes"] = f"latent sizes go from {latent_meta['min']} to {latent_meta['max']}"
    runs = len(reg_weights) * len(latent_sizes) * repeats
    if not 1 <= repeats <= MAX_SEEDS:
        problems["seeds"] = f"repeat over 1 to {MAX_SEEDS} seeds, got {repeats}"
    elif runs > MAX_SWEEP_RUNS:
        problems["seeds"] = (f"{len(reg_weights)} weights x {len(latent_sizes)} latent sizes x {repeats} seeds "
                             f"= {runs} runs, more than the {MAX_SWEEP_RUNS} a sweep may have; pick fewer")
    return problems


def sweep_configs(base: TrainConfig, reg_weights: Sequence[float], latent_sizes: Sequence[int],
                  seeds: Sequence[int]) -> list[TrainConfig]:
    """One config per (seed, latent size, weight), seed-major so that a cancelled sweep has
    whole seeds; every other knob from `base`."""
    return [base.replace(seed=seed, latent_size=latent, reg_weight=float(weight))
            for seed in seeds for latent in latent_sizes for weight in reg_weights]


def summarize_sweep(runs: Iterable[SweepRun]) -> list[SweepPoint]:
    """One point per grid cell (mean ± std over the seeds that have a value), ordered by
    latent size, then weight."""
    points: dict[tuple[int, float], SweepPoint] = {}
    values: dict[tuple[int, float], dict[str, list[float]]] = {}
    for run in runs:
        cell = (run.latent_size, run.reg_weight)
        point = points.setdefault(cell, SweepPoint(run.reg_weight, run.latent_size))
        point.runs += 1
        point.finished += run.outcome.status == Status.FINISHED
        edges = finite_number((run.outcome.metrics or {}).get("test_edges"))
        if edges is not None:
            point.test_edges = int(edges) if point.test_edges is None else min(point.test_edges, int(edges))
        for key in (*SCORE_KEYS, *PRIOR_KEYS):
            value = finite_number((run.outcome.metrics or {}).get(key))
            if value is not None:
                values.setdefault(cell, {}).setdefault(key, []).append(value)
    for cell, per_key in values.items():
        points[cell].stats = {key: Stat.of(v) for key, v in per_key.items()}
    return [points[cell] for cell in sorted(points)]


def sweep_reading(points: Sequence[SweepPoint]) -> list[str]:
    """Per latent size: how much the strongest regulariser moved the classifier's verdict and
    the test AUC from weight 0 (or the smallest weight swept), with the seeds' spread."""
    sentences = []
    c2st, auc = BY_KEY["c2st"], BY_KEY["test_auc"]
    for latent in sorted({p.latent_size for p in points}):
        row = [p for p in points if p.latent_size == latent and "c2st" in p.stats and "test_auc" in p.stats]
        if len(row) < 2:
            continue
        low, high = row[0], row[-1]
        moved = high.stats["c2st"].mean - low.stats["c2st"].mean
        noise = max((s.std for p in (low, high) for s in (p.stats["c2st"], p.stats["test_auc"])
                     if s.std is not None), default=None)
        sentence = (f"Latent {latent}: from weight {low.reg_weight:g} to {high.reg_weight:g} the classifier's "
                    f"accuracy goes {c2st.text(low.stats['c2st'].mean)} -> {c2st.text(high.stats['c2st'].mean)} "
                    f"({'closer to' if moved < 0 else 'further from'} the prior's 0.5) and test AUC "
                    f"{auc.text(low.stats['test_auc'].mean)} -> {auc.text(high.stats['test_auc'].mean)}")
        if noise is None:
            sentence += " (one seed: not yet told from noise)."
        else:
            sentence += f" (seed-to-seed std up to {noise:.3f})."
        sentences.append(sentence)
    edges = [p.test_edges for p in points if p.test_edges is not None]
    if edges and min(edges) < FEW_TEST_EDGES:
        sentences.append(f"The test scores rest on {min(edges)} held-out edges per run: too few for their "
                         "differences to mean much. Sweep a larger graph, or over more seeds.")
    return sentences


@dataclass
class SweepPlan:
    """A sweep's runs, submitted in waves: the job manager caps how many runs one user has
    queued or running, and a 5 x 4 grid over 5 seeds is 100 runs. `top_up` submits as many
    of the rest as there is room for; the page calls it on every refresh, so the sweep goes on
    while its page is open (as every training of a session does)."""
    group: str
    configs: list[TrainConfig]
    job_ids: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def waiting(self) -> int:
        """Runs not yet handed to the job manager."""
        return 0 if self.cancelled else len(self.configs) - len(self.job_ids)

    def top_up(self, submit, room: int) -> int:
        """Submit up to `room` more configs with `submit(config) -> job id`; returns how many."""
        added = 0
        while self.waiting and added < room:
            self.job_ids.append(submit(self.configs[len(self.job_ids)]))
            added += 1
        return added

    def cancel(self) -> None:
        """Submit nothing more (the caller stops the runs already submitted)."""
        self.cancelled = True
