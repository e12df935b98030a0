"""One `TrainConfig`: every knob of a run, its bounds and help text, validated.

The dataclass is plain data. It round-trips through dict, JSON and URL query
parameters, and the dashboard builds its widgets from `FIELDS` so the bounds
the UI shows are the bounds the engine checks.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

MODEL_KINDS = ("gae", "vgae", "arga", "argva")
VARIATIONAL = ("vgae", "argva")
ADVERSARIAL = ("arga", "argva")
BUILTIN_DATASETS = ("karate", "planted", "cora", "citeseer", "pubmed")
FEATURE_MODES = ("raw", "row_normalized", "identity", "degree")
DEVICES = ("auto", "cpu", "cuda", "mps")
# The regulariser's weight when none is given. The tutorial's 1 lets D dominate the encoder
# (ARGA on Cora fell to AUC ~0.907, AP ~0.903); 0.25 with one D step per encoder step keeps
# ARGA and ARGVA above the paper's Cora rows (README: `python -m argae_core reproduce`).
DEFAULT_REG_WEIGHT = 0.25
# A planted partition's edges cost memory twice: the generator draws every edge before it
# drops repeats, and training keeps per-edge tensors (messages of width encoder_hidden, the
# decoder's scores, negative samples). Measured (default widths, one thread, generation + 2
# epochs + final metrics): peak RSS 0.75 GB at 0.19 M edges, 0.91 GB at 0.76 M, 1.61 GB at
# 3.0 M, of which 0.52 GB is the imports: about 0.35 KB per edge, 3 M edges per GB. 2 M edges
# keep one run near 1.2 GB, so a server can hold its few training slots at once.
PLANTED_EDGE_LIMIT = 2_000_000
# Sampled training (argae_core/sampling.py) keeps nothing edge-sized but the graph itself, its
# split and one CSR index: a planted partition may then draw up to 12 M edges (1M nodes at
# degree 10 is 5 M; measured peak in README "Performance").
PLANTED_SAMPLED_EDGE_LIMIT = 12_000_000
SAMPLING_MODES = ("auto", "full", "sampled")
# How a sampled run draws its subgraphs (argae_core/sampling.py): "neighbour" is PyG's
# LinkNeighborLoader, which needs pyg-lib or torch-sparse (neither is a requirement: PyPI has
# no wheel of either for this torch); "subgraph" the edge-seeded sampler on torch and PyG's
# `subgraph` only; "auto" the loader when one of the two is installed, else the subgraphs.
SAMPLERS = ("auto", "neighbour", "subgraph")
QUOTE_CHARS = 40  # a value longer than this is cut short when a message quotes it


class ConfigError(ValueError):
    """A config that cannot run; `.problems` maps field name -> message."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


# Which model kinds use a knob: the one rule the sidebars, the CLI and the Runs page follow.
USED_BY = {"all": MODEL_KINDS, "adversarial": ADVERSARIAL, "variational": VARIATIONAL}


def _knob(default, help, minimum=None, maximum=None, choices=None, group="training", used_by="all"):
    meta = {"help": help, "min": minimum, "max": maximum, "choices": choices, "group": group,
            "used_by": used_by}
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    # --- what to train on
    dataset: str = _knob("karate", "Graph to train on. KarateClub and the planted-partition "
                         "graph work offline; Planetoid sets need their raw files.",
                         group="data")
    features: str = _knob("raw", "Node features: raw as shipped, row-normalised (each row sums "
                          "to 1; trains slower: Cora ARGVA, seed 0, 200 epochs, test AUC 0.906 against 0.935 "
                          "raw; with the tutorial's recipe about 0.67 against 0.91), "
                          "identity (one-hot node ids: no feature information) or degree.",
                          choices=FEATURE_MODES, group="data")
    planted_nodes: int = _knob(300, "Planted partition: number of nodes (up to a million; above "
                               "the sample threshold training is sampled).", 20, 1_000_000, group="planted")
    planted_communities: int = _knob(4, "Planted partition: number of communities (the labels).",
                                     2, 50, group="planted")
    planted_p_in: float = _knob(0.08, "Planted partition: edge probability inside a community.",
                                0.0, 1.0, group="planted")
    planted_p_out: float = _knob(0.004, "Planted partition: edge probability between communities.",
                                 0.0, 1.0, group="planted")
    planted_feature_dim: int = _knob(32, "Planted partition: feature dimension.", 1, 4096,
                                     group="planted")
    planted_signal: float = _knob(1.0, "Planted partition: how far apart the communities' feature "
                                  "means are, in noise standard deviations (0 = features carry "
                                  "no community information).", 0.0, 20.0, group="planted")
    # --- the model
    model: str = _knob("argva", "GAE / VGAE: plain graph autoencoders. ARGA / ARGVA add a "
                       "discriminator that pulls Z toward N(0, I).", choices=MODEL_KINDS,
                       group="model")
    latent_size: int = _knob(64, "Dimensions of Z (and of the prior samples).", 1, 512, group="model")
    encoder_hidden: int = _knob(256, "Width of the encoder's first GCN layer.", 1, 2048, group="model")
    discriminator_hidden: int = _knob(64, "Width of the discriminator's two hidden layers.",
                                      1, 2048, group="model", used_by="adversarial")
    # --- the optimisation
    encoder_lr: float = _knob(0.005, "Adam learning rate of the encoder. Too high and training "
                              "diverges.", 1e-6, 1.0)
    discriminator_lr: float = _knob(0.001, "Adam learning rate of the discriminator. Higher makes "
                                    "the judge stronger.", 1e-6, 1.0, used_by="adversarial")
    discriminator_steps: int = _knob(1, "Discriminator updates per encoder update (tutorial: 5; "
                                     "1 measured best on Cora). More steps = a stronger judge.",
                                     1, 50, used_by="adversarial")
    reg_weight: float | None = _knob(None, "Weight of the adversarial regulariser in the encoder "
                                     f"loss (empty = {DEFAULT_REG_WEIGHT:g}; tutorial: 1). ARGA / "
                                     "ARGVA only; 0 switches it off.",
                                     0.0, 100.0, used_by="adversarial")
    kl_weight: float | None = _knob(None, "Weight of the KL term (empty = 1 / number of nodes, "
                                    "as in the tutorial). VGAE / ARGVA only.", 0.0, 100.0, used_by="variational")
    epochs: int = _knob(200, "Encoder updates to run.", 1, 10_000)
    seed: int = _knob(0, "Seeds the edge split, the weights and the prior samples: same seed, "
                      "same run on CPU.", 0, 2**31 - 1)
    eval_interval: int = _knob(5, "Epochs between validation AUC / AP measurements.", 1, 1000,
                               group="logging")
    snapshot_interval: int = _knob(10, "Epochs between copies of Z kept for the latent view.",
                                   1, 1000, group="logging")
    snapshot_nodes: int = _knob(20_000, "Nodes each copy of Z keeps: a bigger graph's snapshots keep a fixed "
                                "seeded subsample of this many (stratified by label), the same nodes every "
                                "epoch; the final Z is saved whole.", 100, 2_000_000, group="logging")
    device: str = _knob("auto", "auto uses a GPU (CUDA) when one is present, else the CPU; mps (Apple) "
                        "only when asked for.", choices=DEVICES, group="logging")
    # --- big graphs (argae_core/sampling.py)
    sampling: str = _knob("auto", "full: every epoch trains on the whole graph at once (memory grows "
                          "with the graph). sampled: each update trains on a subgraph of about "
                          "`batch nodes` nodes, so memory is bounded by the sample; an epoch is one pass "
                          "over the training edges. auto: sampled above the sample threshold.",
                          choices=SAMPLING_MODES, group="big")
    sample_threshold: int = _knob(50_000, "With sampling auto: graphs with more nodes than this "
                                  "train sampled.", 1, 100_000_000, group="big")
    batch_nodes: int = _knob(8192, "Sampled training: nodes per subgraph (the endpoints of a batch of "
                             "training edges, their sampled neighbours, random nodes to fill up). Memory "
                             "and time per update grow with it.", 64, 1_000_000, group="big")
    sampler: str = _knob("auto", "Sampled training: neighbour is PyG's LinkNeighborLoader (needs pyg-lib or "
                         "torch-sparse installed; without them the run uses the subgraphs and says so); "
                         "subgraph is the edge-seeded sampler on torch and PyG's subgraph only; auto: the "
                         "loader when installed, else the subgraphs.", choices=SAMPLERS, group="big")

    # ----------------------------------------------------------------- derived
    @property
    def variational(self) -> bool:
        return self.model in VARIATIONAL

    @property
    def adversarial(self) -> bool:
        return self.model in ADVERSARIAL

    def sampled_for(self, num_nodes: int) -> bool:
        """Whether a graph of `num_nodes` nodes trains sampled under this config."""
        return self.sampling == "sampled" or (self.sampling == "auto" and num_nodes > self.sample_threshold)

    def effective_reg_weight(self) -> float:
        if not self.adversarial:
            return 0.0
        return DEFAULT_REG_WEIGHT if self.reg_weight is None else float(self.reg_weight)

    def effective_kl_weight(self, num_nodes: int) -> float:
        if not self.variational:
            return 0.0
        return 1.0 / num_nodes if self.kl_weight is None else float(self.kl_weight)

    # -------------------------------------------------------------- validation
    def problems(self) -> dict[str, str]:
        """Every problem with this config, keyed by field name (empty: valid)."""
        out: dict[str, str] = {}
        for f in dataclasses.fields(self):
            msg = _check_field(f, getattr(self, f.name))
            if msg:
                out[f.name] = msg
        if "dataset" not in out and not _dataset_name_ok(self.dataset):
            out["dataset"] = (f"unknown dataset {self.dataset!r}; choose one of "
                              f"{', '.join(BUILTIN_DATASETS)} or an uploaded graph")
        if self.kl_weight is not None and self.model in MODEL_KINDS and not self.variational:
            out["kl_weight"] = (f"{self.model.upper()} is not variational and has no KL term; "
                                "leave the KL weight empty or pick VGAE / ARGVA")
        if self.reg_weight is not None and self.model in MODEL_KINDS and not self.adversarial:
            out["reg_weight"] = (f"{self.model.upper()} has no discriminator and no regulariser; "
                                 "leave its weight empty or pick ARGA / ARGVA")
        if (self.dataset == "planted" and "planted_p_in" not in out and "planted_p_out" not in out
                and self.planted_p_in + self.planted_p_out == 0):
            out["planted_p_in"] = "p_in and p_out are both 0: the graph would have no edges"
        planted_ok = not any(name.startswith("planted_") for name in out)
        if planted_ok and self.planted_communities > self.planted_nodes:
            out["planted_communities"] = "more communities than nodes"
        elif planted_ok and self.dataset == "planted" and "sampling" not in out and "sample_threshold" not in out:
            too_many = planted_size_problem(self.planted_nodes, self.planted_communities,
                                            self.planted_p_in, self.planted_p_out,
                                            sampled=self.sampled_for(self.planted_nodes))
            if too_many:
                out["planted_nodes"] = too_many
        return out

    def validate(self) -> "TrainConfig":
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        return self

    # ------------------------------------------------------------ conversions
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, strict: bool = True) -> "TrainConfig":
        """Build from a dict; unknown keys or wrong types raise `ConfigError`."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        if not isinstance(values, dict):
            raise ConfigError({"settings": f"expected a mapping of settings, got {_short(values)}"})
        unknown = sorted(map(str, set(values) - set(known)))
        problems = {_short(k, quoted=False): "unknown setting" for k in unknown} if strict else {}
        kwargs = {}
        for name, value in values.items():
            if name not in known:
                continue
            try:
                kwargs[name] = _coerce(known[name], value)
            except (TypeError, ValueError, OverflowError):
                problems[name] = f"cannot read {_short(value)} as {_type_name(known[name])}"
        if problems:
            raise ConfigError(problems)
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError({"json": f"not valid JSON ({exc.msg} at line {exc.lineno})"}) from None
        except (ValueError, RecursionError) as exc:  # a number of over 4,300 digits; deep nesting
            raise ConfigError({"json": f"not readable JSON ({_short(str(exc), quoted=False)})"}) from None
        if not isinstance(values, dict):
            raise ConfigError({"json": "expected a JSON object of settings"})
        return cls.from_dict(values)

    def to_query(self) -> dict[str, str]:
        """The settings that differ from the defaults, as URL query strings."""
        default = TrainConfig()
        return {f.name: "" if getattr(self, f.name) is None else str(getattr(self, f.name))
                for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}

    @classmethod
    def from_query(cls, query: dict[str, str]) -> "TrainConfig":
        values = {k: (None if v == "" else v) for k, v in query.items()}
        return cls.from_dict(values).validate()

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def without_unused(self) -> "TrainConfig":
        """This config with the optional weights its model has no term for emptied (the
        regulariser of GAE / VGAE, the KL of GAE / ARGA): a shared knob applies to the
        models that use it, and is not refused by the others."""
        return self.replace(**{name: None for name, f in FIELDS.items()
                               if f.default is None and not applies(name, self.model)})


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def applies(name: str, model: str) -> bool:
    """Whether a model kind uses the knob `name` (its `used_by` metadata)."""
    return model in USED_BY[FIELDS[name].metadata["used_by"]]


def knobs_used(model: str) -> list[str]:
    """The knobs a model kind uses, in TrainConfig's order."""
    return [name for name in FIELDS if applies(name, model)]


def used_by_any(name: str, models) -> bool:
    """Whether any of `models` uses the knob (a sidebar shared by several models shows it)."""
    return any(applies(name, model) for model in models)


def unused_settings(config: TrainConfig) -> set[str]:
    """The settings a run of `config` does not use: knobs its model has no part for, and the
    planted partition's unless it trains on one."""
    unused = {name for name in FIELDS if not applies(name, config.model)} if config.model in MODEL_KINDS else set()
    if config.dataset != "planted":
        unused |= {name for name in FIELDS if FIELDS[name].metadata["group"] == "planted"}
    return unused


def edges_per_batch(batch_nodes: int) -> int:
    """Training edges seeding one sampled batch (argae_core/sampling.py): their endpoints fill
    at most half the batch (the rest: sampled neighbours of them and random nodes)."""
    return max(1, batch_nodes // 4)


def chosen_sampler(choice: str, backend: str | None) -> str:
    """'neighbour' or 'subgraph': the sampler a sampled run with config `sampler` = `choice`
    uses where PyG's neighbour loaders have `backend` ('pyg-lib', 'torch-sparse' or None)."""
    return "neighbour" if choice in ("auto", "neighbour") and backend else "subgraph"


def sampler_label(choice: str, backend: str | None) -> str:
    """What a sampled run's sampler is, in words (the Train page, the run's metrics, the CLI)."""
    if chosen_sampler(choice, backend) == "neighbour":
        return f"PyG LinkNeighborLoader ({backend})"
    missing = ("; PyG's LinkNeighborLoader needs pyg-lib or torch-sparse, neither is installed here"
               if backend is None else "")
    return f"edge-seeded subgraphs (torch + PyG subgraph{missing})"


def planted_edge_estimate(nodes: int, communities: int, p_in: float, p_out: float) -> float:
    """Expected edges the generator draws (before repeats are dropped): p_in of the pairs
    inside a community, p_out of the others; communities are as equal as they can be."""
    small, bigger = divmod(nodes, communities)  # `bigger` communities have small + 1 nodes
    inside = (communities - bigger) * small * (small - 1) // 2 + bigger * (small + 1) * small // 2
    return p_in * inside + p_out * (nodes * (nodes - 1) // 2 - inside)


def planted_size_problem(nodes: int, communities: int, p_in: float, p_out: float,
                         sampled: bool = True) -> str | None:
    """Why a planted partition is too big to generate and train on, or None: over
    PLANTED_EDGE_LIMIT edges for full-batch training, PLANTED_SAMPLED_EDGE_LIMIT for sampled
    (the generator itself refuses only above the sampled limit)."""
    edges = planted_edge_estimate(nodes, communities, p_in, p_out)
    limit = PLANTED_SAMPLED_EDGE_LIMIT if sampled else PLANTED_EDGE_LIMIT
    if edges <= limit:
        return None
    if sampled or edges > PLANTED_SAMPLED_EDGE_LIMIT:
        return (f"{nodes:,} nodes with p_in {p_in:g} and p_out {p_out:g} make about {edges:,.0f} "
                f"edges, over the limit of {limit:,} (memory); lower the nodes, p_in or p_out")
    return (f"{nodes:,} nodes with p_in {p_in:g} and p_out {p_out:g} make about {edges:,.0f} "
            f"edges, over the limit of {limit:,} for full-batch training (memory); set sampling to "
            f"sampled (or auto, with a sample threshold under {nodes:,} nodes: up to "
            f"{PLANTED_SAMPLED_EDGE_LIMIT:,} edges), or lower the nodes, p_in or p_out")


def _short(value: Any, quoted: bool = True) -> str:
    """repr(value) (or str), cut short: a message should not quote a 400-digit number."""
    text = repr(value) if quoted else str(value)
    return text if len(text) <= QUOTE_CHARS else f"{text[:QUOTE_CHARS]}... ({len(text):,} characters)"


def _dataset_name_ok(name: str) -> bool:
    return name in BUILTIN_DATASETS or (name.startswith("upload:") and len(name) > 7)


def _base_type(f: dataclasses.Field) -> type:
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    return {"int": int, "float": float, "str": str}[kind.split(" ")[0].split("|")[0].strip()]


def _type_name(f) -> str:
    return {int: "a whole number", float: "a number", str: "text"}[_base_type(f)]


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    if value is None:
        if f.default is None:
            return None
        raise TypeError("missing")
    kind = _base_type(f)
    if kind is int:
        if isinstance(value, bool):
            raise TypeError("bool")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError("fraction")
            return int(value)
        return int(str(value).strip())
    if kind is float:
        if isinstance(value, bool):
            raise TypeError("bool")
        return float(value)
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _check_field(f: dataclasses.Field, value: Any) -> str | None:
    meta = f.metadata
    if value is None:
        return None if f.default is None else "is required"
    kind = _base_type(f)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"must be a whole number, got {_short(value)}"
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {_short(value)}"
        if isinstance(value, float) and not math.isfinite(value):  # ints are finite, however long
            return f"must be a finite number, got {value!r}"
    if kind is str and not isinstance(value, str):
        return f"must be text, got {_short(value)}"
    if meta.get("choices") and value not in meta["choices"]:
        return f"unknown value {_short(value)}; choose one of {', '.join(meta['choices'])}"
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo:
        return f"must be at least {lo}, got {_short(value, quoted=False)}"
    if hi is not None and value > hi:
        return f"must be at most {hi}, got {_short(value, quoted=False)}"
    return None
