"""The Train page's estimate of time and memory before Start (argae_core/estimate.py, no
torch), and its refusal, with the numbers, when the run would not fit in this machine's memory."""
from __future__ import annotations

import streamlit as st

from argae_core import estimate
from argae_core.config import TrainConfig, planted_edge_estimate

DEGREE_FEATURES = 17  # graph.degree_features: log-degree and 16 buckets


def graph_size(config: TrainConfig, graph: dict | None) -> tuple[int, int, int] | None:
    """(nodes, undirected edges, features) from the graph's summary, or for a planted partition
    from its knobs (before the graph is drawn: a big one takes a while); None when not known."""
    if graph:
        return graph["nodes"], graph["edges"], graph["features"]
    if config.dataset != "planted":
        return None
    nodes = config.planted_nodes
    features = {"identity": nodes, "degree": DEGREE_FEATURES}.get(config.features, config.planted_feature_dim)
    edges = planted_edge_estimate(nodes, config.planted_communities, config.planted_p_in, config.planted_p_out)
    return nodes, round(edges), features


def show(config: TrainConfig, graph: dict | None, problem: str | None = None) -> bool:
    """Draw how the run will train and its estimate, or why it will not fit; True: refused.
    `problem`: the planted partition's size refused by its knob, said in the same message."""
    size = graph_size(config, graph)
    found = None if size is None else estimate.estimate(*size, config)
    available = estimate.available_memory()
    sampled = None if found is None or found.sampled else estimate.estimate(*size, config.replace(sampling="sampled"))
    refused = found is not None and estimate.refusal(found, available, sampled)
    if refused or problem:
        said = [f"**planted nodes**: {problem.rstrip('.')}." if problem else "", refused or ""]
        st.error(" ".join(filter(None, said)), icon=":material/memory:" if refused else ":material/block:")
        return True
    if found is None:
        return False
    st.caption(found.sentence(available))
    return False
