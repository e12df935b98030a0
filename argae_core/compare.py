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
from typing import Callable, Iterable, Sequence

from .config import MODEL_KINDS, TrainConfig
from .status import Status

MAX_SEEDS = 5
BEST_MARK = " ★"
MMD_RATIO_THAT_MATTERS = 1.5   # one MMD this many times another: a difference worth a word
AUC_UNCERTAINTY_Z = 2.0        # a link-score gap within 2 standard errors of the test split is noise
FEW_TEST_EDGES = 50            # below this many held-out edges, scores are not compared at all


@dataclass(frozen=True)
class Metric:
    key: str                      # key in the final metrics dict
    name: str                     # column name
    goal: str | float = "max"     # "max", "min", or the value that is best (the prior's)
    family: str = "link"          # link / clustering / prior
    digits: int = 3
    matters: float = 0.01         # the smallest gap worth a word, in the metric's units
    words: str = ""               # its name in a sentence, when the column name will not do

    @property
    def said(self) -> str:
        return self.words or self.name

    def text(self, value: float) -> str:
        """The value as the table shows it; two values that print alike are a tie."""
        return f"{value:.{self.digits}f}"

    def distance(self, value: float) -> float:
        """How far from the best possible value: smaller is better."""
        if self.goal == "max":
            return -value
        if self.goal == "min":
            return value
        return abs(value - self.goal)

    def gap(self, difference: float) -> str:
        """A difference in words: percentage points for scores in [0, 1], raw otherwise."""
        if self.family == "prior" and self.key.startswith("c2st"):
            return f"{100 * difference:.0f} points"
        return self.text(difference) if self.family == "prior" else f"{100 * difference:.1f} points"

    def gap_matters(self, best: float, worst: float) -> bool:
        """Whether the difference is big enough to talk about, whatever the noise."""
        if self.key.startswith("mmd"):
            return worst - best >= self.matters and (best <= 0 or worst / best >= MMD_RATIO_THAT_MATTERS)
        return abs(self.distance(worst) - self.distance(best)) >= self.matters


METRICS: tuple[Metric, ...] = (
    Metric("test_auc", "AUC"), Metric("test_ap", "AP"),
    Metric("acc", "ACC", family="clustering"), Metric("nmi", "NMI", family="clustering"),
    Metric("ari", "ARI", family="clustering"),
    # Prior match (metrics.prior_match): best is the prior's own value.
    Metric("z_std", "spread (prior: 1)", goal=1.0, family="prior", digits=2, matters=0.05, words="spread"),
    Metric("norm_ratio", "norm / prior's", goal=1.0, family="prior", digits=2, matters=0.05, words="norm"),
    Metric("c2st", "C2ST (0.5: like prior)", goal=0.5, family="prior", digits=2, matters=0.03,
           words="the classifier's accuracy"),
    Metric("c2st_shape", "C2ST at unit spread", goal=0.5, family="prior", digits=2, matters=0.03),
    Metric("mmd", "MMD to prior", goal="min", family="prior", digits=4, matters=0.002, words="MMD"),
    Metric("mmd_shape", "MMD at unit spread", goal="min", family="prior", digits=4, matters=0.002))
BY_KEY = {m.key: m for m in METRICS}
# The measures a verdict on "closer to the prior" rests on (the norm follows the spread).
PRIOR_VERDICT_KEYS = ("z_std", "c2st", "mmd")


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


def start_problems(base: TrainConfig, models: Sequence[str], repeats: int, room: int | None = None) -> dict[str, str]:
    """`comparison_problems`, then (when none, and `base` is valid) those of each run's config:
    the last of several seeds beyond the seed's maximum, for instance."""
    problems = comparison_problems(models, repeats, room)
    if not problems and not base.problems():
        for config in comparison_configs(base, models, seeds_for(base.seed, repeats)):
            problems.update(config.problems())
    return problems


def comparison_configs(base: TrainConfig, models: Sequence[str], seeds: Sequence[int]) -> list[TrainConfig]:
    """One config per (seed, model), seed-major: the shared knobs of `base` for every model.

    The Trainer splits the edges by `seed`, so all models of one seed see the same split.
    Weights a model has no term for (the regulariser of GAE / VGAE, the KL of GAE / ARGA)
    are cleared rather than refused: a shared knob applies to the models that use it."""
    configs = []
    for seed in seeds:
        for model in models:
            configs.append(base.replace(model=model, seed=seed).without_unused())
    return configs


def new_group_id() -> str:
    """The group every run of one comparison is saved under (runs.RunSummary.group)."""
    return f"cmp-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Started:
    """A comparison handed to the job manager: its group, job ids (seed-major), models, seeds."""
    group: str
    jobs: list[str]
    models: list[str]
    seeds: list[int]


def start_comparison(manager, owner: str, base: TrainConfig, models: Sequence[str], repeats: int,
                     label: Callable[[TrainConfig], str], user: str | None = None) -> Started:
    """Submit one job per (seed, model) under one new group id, all or nothing: when the
    manager refuses one (its queue full: RuntimeError; a bad config: ConfigError), the jobs
    already submitted are stopped and the refusal is raised. `user`: the signed-in owner."""
    seeds = seeds_for(base.seed, repeats)
    group = new_group_id()
    submitted: list[str] = []
    try:
        for config in comparison_configs(base, models, seeds):
            submitted.append(manager.submit(owner, config, label=label(config), group=group, user=user))
    except (RuntimeError, ValueError):  # ConfigError is a ValueError
        for job_id in submitted:
            manager.control(job_id, owner, "stop")
        raise
    return Started(group, submitted, list(models), seeds)


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
    test_edges: int | None = None                             # fewest held-out edges of its runs

    @property
    def label(self) -> str:
        return self.model.upper()

    @property
    def runs(self) -> int:
        return sum(self.statuses.values())

    @property
    def multi_seed(self) -> bool:
        return self.runs > 1


def finite_number(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def summarize(outcomes: Iterable[Outcome]) -> list[ModelSummary]:
    """One summary per model, in the order the models first appear."""
    summaries: dict[str, ModelSummary] = {}
    values: dict[str, dict[str, list[float]]] = {}
    for outcome in outcomes:
        summary = summaries.setdefault(outcome.model, ModelSummary(outcome.model))
        summary.statuses[outcome.status] += 1
        numbers = {m.key: finite_number((outcome.metrics or {}).get(m.key)) for m in METRICS}
        if outcome.status == Status.DIVERGED and numbers["test_auc"] is not None:
            summary.scored_diverged += 1
        edges = finite_number((outcome.metrics or {}).get("test_edges"))
        if edges is not None:
            summary.test_edges = int(edges) if summary.test_edges is None else min(summary.test_edges, int(edges))
        for key, value in numbers.items():
            if value is not None:
                values.setdefault(outcome.model, {}).setdefault(key, []).append(value)
    for model, per_metric in values.items():
        summaries[model].stats = {key: Stat.of(v) for key, v in per_metric.items()}
    return list(summaries.values())


def best_per_column(summaries: Sequence[ModelSummary]) -> dict[str, list[str]]:
    """metric key -> the models with the best mean (all of them on a tie at the shown
    precision): highest for scores, lowest for MMD, nearest the prior's value for spread,
    norm and classifier accuracy. A column with fewer than two values has no best."""
    best = {}
    for metric in METRICS:
        have = [(s.model, s.stats[metric.key].mean) for s in summaries if metric.key in s.stats]
        if len(have) < 2:
            continue
        top = min(have, key=lambda item: metric.distance(item[1]))[1]
        best[metric.key] = [model for model, v in have
                            if metric.text(metric.distance(v)) == metric.text(metric.distance(top))]
    return best


def cell_text(stat: Stat, metric: Metric) -> str:
    return metric.text(stat.mean) + (f" ± {metric.text(stat.std)}" if stat.std is not None else "")


def table_rows(summaries: Sequence[ModelSummary], families: Sequence[str] = ("link", "clustering", "prior")
               ) -> list[dict]:
    """Rows for a comparison table of the metric `families`: one per model, `mean ± std`
    text per metric, the best per column marked with a star, and a `runs` note. Metrics no
    model has are left out."""
    best = best_per_column(summaries)
    shown = [m for m in METRICS if m.family in families and any(m.key in s.stats for s in summaries)]
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
               for status, count in summary.statuses.items() if status != Status.FINISHED]
    if not trouble:
        return f"{n} seeds" if n > 1 else "finished"
    return (f"{n} seeds: " if n > 1 else "") + ", ".join(trouble)


# ------------------------------------------------------------------- the reading
def reading(summaries: Sequence[ModelSummary], latent_size: int | None = None) -> list[str]:
    """A few sentences saying what the table shows, computed from its numbers: how far each
    model's Z is from N(0, I) in units a student reads (spread against the prior's, a fresh
    classifier's accuracy), who predicts links and clusters better, which runs went wrong.
    A difference is called real only when it matters in size and beats the seed-to-seed
    spread (and, for link scores, the uncertainty of a small test split); `latent_size`
    lets the reading suggest where the regulariser acts when it does nothing visible."""
    sentences = _trouble(summaries)
    scored = [s for s in summaries if s.stats]
    if not scored:
        return sentences + ["No run reached its test evaluation, so there are no numbers to compare."]
    if len(scored) == 1:
        sentences.append(_alone(scored[0], len(summaries)))
    else:
        link = _family_sentence(scored, "link", "Link prediction")
        clustering = _family_sentence(scored, "clustering", "Clustering Z against the labels (k-means)")
        sentences += [s for s in (*_prior_sentences(scored, latent_size), _test_split_sentence(scored),
                                  link, clustering, _trade_off(scored)) if s]
    if not any(s.stats.get(m.key) for s in scored for m in METRICS if m.family == "clustering"):
        sentences.append("No clustering scores (ACC, NMI, ARI): the graph has no class labels.")
    if not any(s.multi_seed for s in summaries):
        sentences.append("One seed only: no difference can be told from seed-to-seed noise; repeat over "
                         "several seeds to see which differences are real.")
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
        diverged, failed, stopped = (s.statuses.get(k, 0) for k in (Status.DIVERGED, Status.FAILED, Status.STOPPED))
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
    test_edges: int | None = None  # the smallest test split behind a link score

    @property
    def tie(self) -> bool:
        return self.metric.text(self.best.mean) == self.metric.text(self.worst.mean)

    @property
    def size(self) -> float:
        return abs(self.best.mean - self.worst.mean)

    @property
    def spread(self) -> float | None:
        stds = [s for s in (self.best.std, self.worst.std) if s is not None]
        return max(stds) if stds else None

    @property
    def uncertainty(self) -> float | None:
        """AUC_UNCERTAINTY_Z standard errors of the gap from the test split's size (link AUC
        only: AP's error is of the same order), None where it does not apply."""
        if self.metric.key not in ("test_auc", "test_ap") or not self.test_edges:
            return None
        errors = [metrics_se(stat.mean, self.test_edges) for stat in (self.best, self.worst)]
        return AUC_UNCERTAINTY_Z * math.sqrt(sum(e * e for e in errors))

    @property
    def matters(self) -> bool:
        return not self.tie and self.metric.gap_matters(self.best.mean, self.worst.mean)

    @property
    def real(self) -> bool:
        """Matters in size, beats the seed-to-seed spread, and (link) the test split's error."""
        beyond_seeds = self.spread is not None and self.size > self.spread
        beyond_split = self.uncertainty is None or (self.size > self.uncertainty and not self.few_edges)
        return self.matters and beyond_seeds and beyond_split and len(self.top) == 1

    @property
    def few_edges(self) -> bool:
        return self.uncertainty is not None and self.test_edges < FEW_TEST_EDGES

    def noise_note(self) -> str:
        """Whether the gap means anything: too small, within the split's error, within the
        seeds' spread, or real."""
        if self.tie:
            return ""
        if not self.matters:
            return ": too small to matter"
        if self.few_edges:
            return f", on only {self.test_edges} test edges: too few to read a difference into"
        if self.uncertainty is not None and self.size <= self.uncertainty:
            return (f", within the uncertainty of {self.test_edges} test edges (about ±"
                    f"{self.metric.gap(self.uncertainty)}): not a difference")
        if self.spread is None:
            return ", one seed: not yet told from noise"
        spread = f"the seed-to-seed std (up to {self.metric.gap(self.spread)})"
        if self.real:
            return f", beyond {spread}: real"
        return f", within {spread}: not a clear difference"


def metrics_se(auc: float, test_edges: int) -> float:
    from .metrics import auc_standard_error  # metrics imports scikit-learn: only when a reading asks
    return auc_standard_error(min(max(auc, 0.0), 1.0), test_edges, test_edges)


def _contrast(scored: Sequence[ModelSummary], metric: Metric) -> _Contrast | None:
    have = [s for s in scored if metric.key in s.stats]
    if len(have) < 2:
        return None
    ranked = sorted(have, key=lambda s: metric.distance(s.stats[metric.key].mean))
    best, worst = ranked[0].stats[metric.key], ranked[-1].stats[metric.key]
    top = [s for s in ranked if metric.text(s.stats[metric.key].mean) == metric.text(best.mean)]
    edges = [s.test_edges for s in have if s.test_edges is not None]
    return _Contrast(metric, top, best, ranked[-1], worst, len(have), min(edges) if edges else None)


def _score_clause(c: _Contrast) -> str:
    name, text = c.metric.name, c.metric.text
    if c.tie:
        return f"{name} is the same for {'both' if c.models == 2 else 'all'} ({text(c.best.mean)})"
    gap = c.metric.gap(c.size)
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
        gaps = [f"{c.metric.name} by {c.metric.gap(c.size)} "
                f"({text(c.best.mean)} vs {text(c.worst.mean)}){c.noise_note()}" for c in contrasts]
        return f"{lead}: {c0.top[0].label} is ahead of {c0.bottom.label} on {'; '.join(gaps)}."
    clauses = [_score_clause(c) for c in contrasts]
    if family == "link":
        clauses[0] = "test " + clauses[0]
    return f"{lead}: {'; '.join(clauses)}."


def _test_split_sentence(scored: Sequence[ModelSummary]) -> str | None:
    """How many held-out edges the link scores rest on, and whether that is too few."""
    edges = [s.test_edges for s in scored if s.test_edges is not None]
    if not edges:
        return None
    fewest = min(edges)
    sentence = f"The test scores rest on {fewest:,} held-out edges and as many non-edges per run"
    if fewest < FEW_TEST_EDGES:
        auc = BY_KEY["test_auc"]
        error = max((metrics_se(s.stats["test_auc"].mean, fewest) for s in scored if "test_auc" in s.stats),
                    default=0.5)
        return (sentence + f": too few to compare models (one AUC is uncertain by about ±"
                f"{auc.gap(error)}). Use a larger graph, or many seeds.")
    return sentence + "."


def _percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def _values(scored: Sequence[ModelSummary], key: str, as_text) -> str:
    """'GAE 0.22, ARGVA 0.66' (mean over seeds, ± std where several)."""
    parts = []
    for s in scored:
        if key in s.stats:
            stat = s.stats[key]
            spread = f" ± {as_text(stat.std)}" if stat.std is not None else ""
            parts.append(f"{s.label} {as_text(stat.mean)}{spread}")
    return ", ".join(parts)


def _prior_sentences(scored: Sequence[ModelSummary], latent_size: int | None) -> list[str]:
    """How far each model's Z is from N(0, I), and whether any model is really closer."""
    out = []
    if any("z_std" in s.stats for s in scored):
        out.append("Spread of Z in units of the prior's (per-dimension std; 1 = as wide as N(0, I)): "
                   + _values(scored, "z_std", lambda v: f"{v:.2f}") + ".")
    if any("c2st" in s.stats for s in scored):
        shape = _values(scored, "c2st_shape", _percent)
        out.append("A fresh classifier tells Z from prior samples with held-out accuracy "
                   + _values(scored, "c2st", _percent) + " (50 % = indistinguishable)"
                   + (f"; with Z rescaled to unit spread (its shape alone, without its scale), {shape}"
                      if shape else "") + ".")
    contrasts = [c for key in PRIOR_VERDICT_KEYS if (c := _contrast(scored, BY_KEY[key]))]
    if not contrasts:
        return out
    verdict = _prior_verdict(contrasts, latent_size)
    return out + [verdict] if verdict else out


def _prior_verdict(contrasts: Sequence[_Contrast], latent_size: int | None) -> str:
    real = [c for c in contrasts if c.real]
    mattering = [c for c in contrasts if c.matters]
    if real:
        closer = {c.top[0].model for c in real}
        names = ", ".join(f"{c.metric.said} {c.metric.text(c.best.mean)} vs {c.metric.text(c.worst.mean)}"
                          for c in real)
        if len(closer) == 1:
            return (f"{real[0].top[0].label}'s latent cloud is closer to N(0, I) than {real[0].bottom.label}'s "
                    f"({names}), beyond the seed-to-seed spread: a real difference.")
        return f"The measures disagree on which cloud is closer to N(0, I) ({names})."
    if mattering:
        c = mattering[0]
        why = ("with one seed it cannot be told from noise" if c.spread is None
               else "but within the seed-to-seed spread")
        return (f"{c.top[0].label}'s latent cloud looks closer to N(0, I) by {c.metric.said} "
                f"({c.metric.text(c.best.mean)} vs {c.metric.text(c.worst.mean)}), {why}: not a clear difference.")
    sentence = ("The latent clouds are equally far from N(0, I) on every measure: here the adversarial "
                "regulariser changes nothing you can see in Z.")
    if latent_size is not None and latent_size > 8:
        sentence += (f" With {latent_size} latent dimensions the inner-product decoder keeps each coordinate "
                     "small (z_i · z_j must stay of order one), so Z is as narrow as that needs whatever the "
                     "regulariser does; at small latent sizes it has room to act: try latent size 8 or 2.")
    return sentence


def _trade_off(scored: Sequence[ModelSummary]) -> str | None:
    """Two models, real differences in prior match and link prediction: same winner or not?"""
    if len(scored) != 2:
        return None
    prior = next((c for key in PRIOR_VERDICT_KEYS if (c := _contrast(scored, BY_KEY[key])) and c.real), None)
    link = _contrast(scored, BY_KEY["test_auc"])
    if prior is None or link is None or not link.real:
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
            numbers = [v for r in rows if (v := finite_number(r.get(key))) is not None]
            out[key] = (any(bool(r.get(key)) for r in rows) if isinstance(rows[0].get(key), bool)
                        else sum(numbers) / len(numbers) if numbers else None)
        averaged.append(out)
    return averaged
