"""The knob widgets of the Train and Compare sidebars, built from TrainConfig's fields: their
bounds and help from `FIELDS`, and which model kinds use them from `config.used_by_any`."""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import streamlit as st

from argae_core.config import FIELDS, TrainConfig, used_by_any

# Option labels stay short: a sidebar selectbox cuts anything past ~28 characters at every
# width; the detail goes in DATASET_HELP, shown by the widget's help icon.
DATASET_LABELS = {"karate": "KarateClub", "planted": "Planted partition", "cora": "Cora",
                  "citeseer": "CiteSeer", "pubmed": "PubMed"}
DATASET_HELP = ("KarateClub: 34 nodes, ships inside PyG (offline). Planted partition: generated from a "
                "seed (offline), with the knobs below. Cora, CiteSeer, PubMed: Planetoid citation graphs "
                "(raw files in the data folder, or a download on a networked machine).")
MODEL_LABELS = {"gae": "GAE", "vgae": "VGAE", "arga": "ARGA", "argva": "ARGVA"}
FEATURE_LABELS = {"raw": "raw", "row_normalized": "row-normalised", "identity": "identity (no features)",
                  "degree": "degree"}
# The Train page's own names for some knobs (the Learn page's tags use the same)
WEIGHT_LABELS = {"reg_weight": "Regulariser weight", "kl_weight": "KL weight"}
PLANTED_LABELS = {"planted_nodes": "Nodes", "planted_communities": "Communities", "planted_p_in": "p_in",
                  "planted_p_out": "p_out", "planted_feature_dim": "Feature dimension",
                  "planted_signal": "Feature signal"}
PLANTED = tuple(name for name, f in FIELDS.items() if f.metadata["group"] == "planted")
LOGGING = tuple(name for name, f in FIELDS.items() if f.metadata["group"] == "logging")
BIG = tuple(name for name, f in FIELDS.items() if f.metadata["group"] == "big")  # advanced: folded


@dataclass(frozen=True)
class Section:
    """Knobs under one sidebar header (`fold`: in an expander instead, open or closed)."""
    title: str | None
    names: tuple[str, ...]
    fold: str | None = None        # None: a header; "open" / "closed": an expander


def draw(saved: TrainConfig, sections, *, models=None, dataset: str | None = None, prefix: str = "w",
         labels: dict[str, str] | None = None, option_labels: dict[str, dict] | None = None,
         skip=(), disabled: bool = False) -> dict:
    """Draw `sections` (inside `with st.sidebar:`); return {field: value}. A knob shows when
    one of `models` uses it (a "model" widget among them sets the models for the knobs after
    it), a planted partition's knob only for that dataset; `skip` names knobs another widget
    stands for."""
    values: dict = {}

    def shown(name: str) -> bool:
        return (name not in skip and (name == "model" or models is None or used_by_any(name, models))
                and (FIELDS[name].metadata["group"] != "planted" or dataset == "planted"))
    for section in sections:
        if not any(shown(name) for name in section.names):
            continue
        if section.title and not section.fold:
            st.header(section.title)
        with st.expander(section.title, expanded=section.fold == "open") if section.fold else nullcontext():
            for name in section.names:
                if shown(name):
                    values[name] = config_widget(name, getattr(saved, name), prefix=prefix, disabled=disabled,
                                                 label=(labels or {}).get(name),
                                                 option_labels=(option_labels or {}).get(name))
                if name == "model" and name in values:
                    models = [values["model"]]
    return values


def config_widget(name: str, value, *, label: str | None = None, prefix: str = "w",
                  option_labels: dict[str, str] | None = None, disabled: bool = False):
    """A widget for one TrainConfig field, with its bounds and help from FIELDS;
    `option_labels` renames choices where their usual names would mislead."""
    meta = FIELDS[name].metadata
    key = f"{prefix}_{name}"
    label = label or default_label(name)
    if meta["choices"]:
        names = {**DATASET_LABELS, **MODEL_LABELS, **FEATURE_LABELS, **(option_labels or {})}
        options = list(meta["choices"])
        return st.selectbox(label, options, index=options.index(value) if value in options else 0,
                            format_func=lambda v: names.get(v, v), help=meta["help"], key=key, disabled=disabled)
    lo, hi = meta["min"], meta["max"]
    if FIELDS[name].type.startswith("int"):
        return st.number_input(label, min_value=lo, max_value=hi, value=value, step=1,
                               help=meta["help"], key=key, disabled=disabled)
    return st.number_input(label, min_value=float(lo), max_value=float(hi), value=value, format="%.6g",
                           help=meta["help"], key=key, placeholder="default",
                           step=None if value is None else step_for(value), disabled=disabled)


def step_for(value: float) -> float:
    """A number widget's +/- step: a tenth of the value's order of magnitude (0.005 -> 0.0005)."""
    return float(f"{max(abs(value), 1e-6) / 10:.0e}")


def default_label(name: str) -> str:
    return name.replace("_", " ").replace("lr", "learning rate").capitalize()


def use_config(config: TrainConfig) -> None:
    """Make `config` the Train page's editable settings (a preset, a saved run's settings)."""
    st.session_state["config"] = config.to_dict()
    for key in [k for k in st.session_state if str(k).startswith("w_")]:
        del st.session_state[key]  # widgets keep their own state; drop it so they show `config`
    st.session_state.pop("preset_note", None)
