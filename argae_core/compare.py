"""Comparisons of models trained side by side: the runs to start, their results over seeds,
the best value per column, and a plain-words reading of the table.

Plain data in, plain data out (no Streamlit, no plotting), so the Compare page, the tests and
a notebook read the same numbers. Every sentence of `reading` is built from the numbers it
is given: change a number and the sentence changes with it.
"""
from __future__ import annotations

import math
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .config import ADVERSARIAL, MODEL_KINDS, VARIATIONAL, TrainConfig

MAX_SEEDS = 5
BEST_MARK = " ★"
SLIGHT_RATIO = 1.1        # an MMD ratio below this is "slightly closer", not a finding
SMALL_SCORE_GAP = 0.01    # one seed: a score gap under 1 point is within typical seed noise


@dataclass(frozen=True)
class Metric:
    key: str                  # key in the final metrics dict
    name: str                 # column name
    higher_is_better: bool = True
    family: str = "link"      # link / clustering / prior

    def text(self, value: float) -> str:
        """The value as the table shows it; two values that print alike are a tie."""
        return f"{value:.4f}" if self.family == "prior" else f"{value:.3f}"

    def gap(self, difference: float) -> str:
        """A difference in words: percentage points for scores in [0, 1], raw for MMD."""
        return f"{difference:.4f}" if self.family == "prior" else f"{100 * difference:.1f} points"


METRICS: tuple[Metric, ...] = (
    Metric("test_auc", "AUC"), Metric("test_ap", "AP"),
    Metric("acc", "ACC", family="clustering"), Metric("nmi", "NMI", family="clustering"),
    Metric("ari", "ARI", family="clustering"),
    Metric("mmd", "MMD to prior", higher_is_better=False, family="prior"))
BY_KEY = {m.key: m for m in METRICS}


# ------------------------------------------------------------------- what to start
def seeds_for(first: int, repeats: int) -> list[int]:
    """`repeats` consecutive seeds from `first`: each one a new edge split and new weights."""
    return list(range(first, first + repeats))


def comparison_problems(models: Sequence[str], repeats: int, room: int | None = None) -> dict[str, str]:
    """What stops a comparison from starting, keyed by the input at fault (empty: fine).
    `room`: how many more runs this user may start now (the job manager's per-user limit;
    None: not checked)."""
    problems = {}
    if not models:
        problems["models"] = "pick at least one model to compare"
    unknown = [m for m in models if m not in MODEL_KINDS]
    if unknown:
        problems["models"] = f"unknown model {unknown[0]!r}; choose from {', '.join(MODEL_KINDS)}"
    if not 1 <= repeats <= MAX_SEEDS:
        problems["seeds"] = f"repeat over 1 to {MAX_SEEDS} seeds, got {repeats}"
    elif models and room is not None and len(models) * repeats > room:
        problems["seeds"] = (f"{len(models)} models x {repeats} seeds = {len(models) * repeats} runs, but "
                             f"you can start {room} more now; pick fewer models or seeds"
                             + ("" if room else ", or stop your other runs"))
    return problems


def comparison_configs(base: TrainConfig, models: Sequence[str], seeds: Sequence[int]) -> list[TrainConfig]:
    """One config per (seed, model), seed-major: the shared knobs of `base` for every model.

    The Trainer splits the edges by `seed`, so all models of one seed see the same split.
    Weights a model has no term for (the regulariser of GAE / VGAE, the KL of GAE / ARGA)
    are cleared rather than refused: a shared knob applies to the models that use it."""
    configs = []
    for seed in seeds:
        for model in models:
            configs.append(base.replace(
                model=model, seed=seed,
                reg_weight=base.reg_weight if model in ADVERSARIAL else None,
                kl_weight=base.kl_weight if model in VARIATIONAL else None))
    return configs


def new_group_id() -> str:
    """The group every run of one comparison is saved under (runs.RunSummary.group)."""
    return f"cmp-{secrets.token_hex(3)}"


# ------------------------------------------------------------------- results
@dataclass(frozen=True)
class Outcome:
    """How one run of a comparison ended."""
    model: str
    seed: int
    status: str                    # finished / stopped / diverged / failed (or still active)
    metrics: dict | None = None


@dataclass(frozen=True)
class Stat:
    """One metric of one model over its seeds: mean, sample std (None for one value), count."""
    mean: float
    std: float | None
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stat":
        n = len(values)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
        return cls(mean, std, n)


@dataclass
class ModelSummary:
    """A model's row of the comparison."""
    model: str
    stats: dict[str, Stat] = field(default_factory=dict)   # metric key -> Stat (absent: no value)
    statuses: Counter = field(default_factory=Counter)       # status -> number of runs
    scored_diverged: int = 0                                  # diverged runs that still have scores

    @property
    def label(self) -> str:
        return self.model.upper()

    @property
    def runs(self) -> int:
        return sum(self.statuses.values())

    @property
    def multi_seed(self) -> bool:
        return self.runs > 1


def _number(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def summarize(outcomes: Iterable[Outcome]) -> list[ModelSummary]:
    """One summary per model, in the order the models first appear."""
    summaries: dict[str, ModelSummary] = {}
    values: dict[str, dict[str, list[float]]] = {}
    for outcome in outcomes:
        summary = summaries.setdefault(outcome.model, ModelSummary(outcome.model))
        summary.statuses[outcome.status] += 1
        numbers = {m.key: _number((outcome.metrics or {}).get(m.key)) for m in METRICS}
        if outcome.status == "diverged" and numbers["test_auc"] is not None:
            summary.scored_diverged += 1
        for key, value in numbers.items():
            if value is not None:
                values.setdefault(outcome.model, {}).setdefault(key, []).append(value)
    for model, per_metric in values.items():
        summaries[model].stats = {key: Stat.of(v) for key, v in per_metric.items()}
    return list(summaries.values())


def best_per_column(summaries: Sequence[ModelSummary]) -> dict[str, list[str]]:
    """metric key -> the models with the best mean (all of them on a tie at the shown
    precision). Higher is better except MMD. A column with fewer than two values has no best."""
    best = {}
    for metric in METRICS:
        have = [(s.model, s.stats[metric.key].mean) for s in summaries if metric.key in s.stats]
        if len(have) < 2:
            continue
        top = (max if metric.higher_is_better else min)(v for _, v in have)
        best[metric.key] = [model for model, v in have if metric.text(v) == metric.text(top)]
    return best


def cell_text(stat: Stat, metric: Metric) -> str:
    return metric.text(stat.mean) + (f" ± {metric.text(stat.std)}" if stat.std is not None else "")


def table_rows(summaries: Sequence[ModelSummary]) -> list[dict]:
    """Rows for the comparison table: one per model, `mean ± std` text per metric, the best
    per column marked with a star, and a `runs` note. Metrics no model has are left out."""
    best = best_per_column(summaries)
    shown = [m for m in METRICS if any(m.key in s.stats for s in summaries)]
    rows = []
    for s in summaries:
        row = {"model": s.label}
        for metric in shown:
            stat = s.stats.get(metric.key)
            mark = BEST_MARK if s.model in best.get(metric.key, ()) else ""
            row[metric.name] = cell_text(stat, metric) + mark if stat else "–"
        row["runs"] = runs_note(s)
        rows.append(row)
    return rows


def runs_note(summary: ModelSummary) -> str:
    """'3 seeds', 'finished', or what went wrong: '1 of 3 diverged, 1 stopped'."""
    n = summary.runs
    trouble = [f"{count} {status}" if n > 1 else status
               for status, count in summary.statuses.items() if status != "finished"]
    if not trouble:
        return f"{n} seeds" if n > 1 else "finished"
    return (f"{n} seeds: " if n > 1 else "") + ", ".join(trouble)


# ------------------------------------------------------------------- the reading
def reading(summaries: Sequence[ModelSummary]) -> list[str]:
    """A few sentences saying what the table shows, computed from its numbers: which model's
    Z is closer to N(0, I) and by what factor, who predicts links and clusters better and by
    how much, which runs went wrong, and (over several seeds) which differences exceed the
    seed-to-seed spread."""
    sentences = _trouble(summaries)
    scored = [s for s in summaries if s.stats]
    if not scored:
        return sentences + ["No run reached its test evaluation, so there are no numbers to compare."]
    if len(scored) == 1:
        sentences.append(_alone(scored[0], len(summaries)))
    else:
        prior = _prior_sentence(scored)
        link = _family_sentence(scored, "link", "Link prediction")
        clustering = _family_sentence(scored, "clustering", "Clustering Z against the labels (k-means)")
        sentences += [s for s in (prior, link, clustering, _trade_off(scored)) if s]
    if not any(s.stats.get(m.key) for s in scored for m in METRICS if m.family == "clustering"):
        sentences.append("No clustering scores (ACC, NMI, ARI): the graph has no class labels.")
    if not any(s.multi_seed for s in summaries):
        sentences.append("One seed only: repeat over several seeds to see which differences are "
                         "larger than seed-to-seed noise.")
    return sentences


def _names(models: Sequence[ModelSummary]) -> str:
    return _names_text([m.label for m in models])


def _names_text(items: Sequence[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _trouble(summaries: Sequence[ModelSummary]) -> list[str]:
    """A sentence per model whose runs did not all finish."""
    out = []
    for s in summaries:
        diverged, failed, stopped = (s.statuses.get(k, 0) for k in ("diverged", "failed", "stopped"))
        if diverged:
            out.append(f"{s.label} diverged{_share(s, diverged)} (a loss became NaN or infinite)"
                       f"{_divergence_detail(s, diverged)}.")
        if failed:
            out.append(f"{s.label} failed{_share(s, failed)}: no scores from "
                       f"{'those runs' if s.multi_seed else 'it'}.")
        if stopped:
            out.append(f"{s.label} was stopped early{_share(s, stopped)}: its numbers are of unfinished "
                       "training.")
    return out


def _divergence_detail(s: ModelSummary, diverged: int) -> str:
    """Whether the diverged runs still have scores (from their best epoch before diverging)."""
    unscored = diverged - s.scored_diverged
    if not unscored:
        return "; the scores come from the best validation epoch before that"
    if s.scored_diverged:
        return f"; {unscored} of them before any validation, so without scores"
    return ", before any validation, so " + ("those runs have no scores" if diverged > 1 else "without scores")


def _share(s: ModelSummary, count: int) -> str:
    return f" in {count} of {s.runs} runs" if s.multi_seed else ""


def _alone(s: ModelSummary, models: int) -> str:
    parts = [f"{BY_KEY[k].name} {cell_text(v, BY_KEY[k])}" for k, v in s.stats.items()]
    lead = (f"Only {s.label} has scores, so there is nothing to set it against" if models > 1
            else f"Only {s.label} was trained, so there is nothing to compare it with")
    return f"{lead}. Its test scores: {', '.join(parts)}."


@dataclass(frozen=True)
class _Contrast:
    """The best and the worst model on one metric."""
    metric: Metric
    top: list[ModelSummary]       # every model tied with the best value
    best: Stat
    bottom: ModelSummary
    worst: Stat
    models: int                   # how many models have the metric

    @property
    def tie(self) -> bool:
        return self.metric.text(self.best.mean) == self.metric.text(self.worst.mean)

    @property
    def spread(self) -> float | None:
        stds = [s for s in (self.best.std, self.worst.std) if s is not None]
        return max(stds) if stds else None

    def noise_note(self) -> str:
        """Over several seeds: is the gap bigger than the seed-to-seed std?"""
        if self.spread is None or self.tie:
            return ""
        spread = f"the seed-to-seed std (up to {self.metric.gap(self.spread)})"
        if abs(self.best.mean - self.worst.mean) > self.spread:
            return f", beyond {spread}: likely real"
        return f", within {spread}: not a clear difference"


def _contrast(scored: Sequence[ModelSummary], metric: Metric) -> _Contrast | None:
    have = [s for s in scored if metric.key in s.stats]
    if len(have) < 2:
        return None
    ranked = sorted(have, key=lambda s: s.stats[metric.key].mean, reverse=metric.higher_is_better)
    best, worst = ranked[0].stats[metric.key], ranked[-1].stats[metric.key]
    top = [s for s in ranked if metric.text(s.stats[metric.key].mean) == metric.text(best.mean)]
    return _Contrast(metric, top, best, ranked[-1], worst, len(have))


def _score_clause(c: _Contrast) -> str:
    name, text = c.metric.name, c.metric.text
    if c.tie:
        return f"{name} is the same for {'both' if c.models == 2 else 'all'} ({text(c.best.mean)})"
    gap = c.metric.gap(abs(c.best.mean - c.worst.mean))
    if c.models == 2:
        clause = f"{name} is {gap} higher for {c.top[0].label} ({text(c.best.mean)} vs {text(c.worst.mean)})"
    else:
        clause = (f"{name} is highest for {_names(c.top)} ({text(c.best.mean)}), {gap} above "
                  f"{c.bottom.label}, the lowest ({text(c.worst.mean)})")
    return clause + c.noise_note()


def _family_sentence(scored: Sequence[ModelSummary], family: str, lead: str) -> str | None:
    contrasts = [c for m in METRICS if m.family == family and (c := _contrast(scored, m))]
    if not contrasts:
        return None
    winners = {c.top[0].model for c in contrasts if not c.tie}
    if len(winners) == 1 and all(not c.tie and c.models == 2 for c in contrasts):
        # Two models and one ahead on every score: say it once.
        c0, text = contrasts[0], contrasts[0].metric.text
        gaps = [f"{c.metric.name} by {c.metric.gap(abs(c.best.mean - c.worst.mean))} "
                f"({text(c.best.mean)} vs {text(c.worst.mean)}){c.noise_note()}" for c in contrasts]
        return f"{lead}: {c0.top[0].label} is ahead of {c0.bottom.label} on {'; '.join(gaps)}."
    clauses = [_score_clause(c) for c in contrasts]
    if family == "link":
        clauses[0] = "test " + clauses[0]
    return f"{lead}: {'; '.join(clauses)}."


def _prior_sentence(scored: Sequence[ModelSummary]) -> str | None:
    """How much closer the closest latent cloud is to N(0, I) than the farthest, by MMD."""
    c = _contrast(scored, BY_KEY["mmd"])
    if c is None:
        return None
    text = c.metric.text
    closest = _names(c.top)
    clouds = "latent clouds are" if len(c.top) > 1 else "latent cloud is"
    if c.tie:
        return (f"The latent clouds of {'both' if c.models == 2 else 'all'} models are equally close to "
                f"N(0, I) by MMD ({text(c.best.mean)}).")
    if c.best.mean <= 0:
        # MMD is an unbiased estimate: at or below 0 means indistinguishable from the prior,
        # and a ratio against it means nothing.
        return (f"{closest}'s {clouds} as close to N(0, I) as MMD can tell ({text(c.best.mean)}, at its "
                f"noise floor); {c.bottom.label}'s is at {text(c.worst.mean)}{c.noise_note()}.")
    ratio = c.worst.mean / c.best.mean
    how = f"{ratio:.1f}x closer" if ratio >= SLIGHT_RATIO else "slightly closer"
    if c.models == 2:
        return (f"{closest}'s {clouds} {how} to N(0, I) than {c.bottom.label}'s by MMD "
                f"({text(c.best.mean)} vs {text(c.worst.mean)}){c.noise_note()}.")
    return (f"{closest}'s {clouds} the closest to N(0, I) by MMD ({text(c.best.mean)}), {how} than "
            f"{c.bottom.label}'s, the farthest ({text(c.worst.mean)}){c.noise_note()}.")


def _clear(c: _Contrast | None) -> bool:
    """A one-winner difference worth a conclusion: beyond the seed-to-seed spread, or with
    one seed at least SMALL_SCORE_GAP; for MMD at least SLIGHT_RATIO ("slightly closer"
    decides nothing)."""
    if c is None or c.tie or len(c.top) > 1:
        return False
    gap = abs(c.best.mean - c.worst.mean)
    if c.metric.family == "prior":
        if c.best.mean > 0 and c.worst.mean / c.best.mean < SLIGHT_RATIO:
            return False
    elif c.spread is None and gap < SMALL_SCORE_GAP:
        return False
    return c.spread is None or gap > c.spread


def _trade_off(scored: Sequence[ModelSummary]) -> str | None:
    """Two models, clear differences in prior match and link prediction: same winner or not?"""
    if len(scored) != 2:
        return None
    prior, link = _contrast(scored, BY_KEY["mmd"]), _contrast(scored, BY_KEY["test_auc"])
    if not (_clear(prior) and _clear(link)):
        return None
    closer, linker = prior.top[0], link.top[0]
    if closer is linker:
        return f"{closer.label} wins on both: a latent cloud closer to the prior and better link prediction."
    return (f"A trade-off: {closer.label}'s cloud is closer to the prior, but {linker.label} predicts "
            "links better.")


# ------------------------------------------------------------------- curves
def mean_rows(rows_per_seed: Sequence[Sequence[dict]]) -> list[dict]:
    """Per-epoch rows averaged over seeds (each number over the seeds that have it), so one
    curve per model stands for all its seeds. A single seed's rows come back unchanged."""
    if len(rows_per_seed) == 1:
        return list(rows_per_seed[0])
    by_epoch: dict[int, list[dict]] = {}
    for rows in rows_per_seed:
        for row in rows:
            by_epoch.setdefault(row["epoch"], []).append(row)
    averaged = []
    for epoch in sorted(by_epoch):
        rows = by_epoch[epoch]
        keys = [k for k in rows[0] if k != "epoch"]
        out = {"epoch": epoch}
        for key in keys:
            numbers = [v for r in rows if (v := _number(r.get(key))) is not None]
            out[key] = (any(bool(r.get(key)) for r in rows) if isinstance(rows[0].get(key), bool)
                        else sum(numbers) / len(numbers) if numbers else None)
        averaged.append(out)
    return averaged
