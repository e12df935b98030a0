"""Follow nodes on the Latent page: pick nodes (click or lasso them in the latent picture, or
name them), then see them ringed in every picture, their graph neighbourhood, their nearest
neighbours in Z and the links the model predicts for them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from argae_core import nodes, plots, runs, snapshots
from pages import common

MAX_PICKABLE = 5000   # above this many nodes the picker lists none (a selectbox of 100k options freezes)


def key(run_id: str) -> str:
    return f"follow_{run_id}"


def followed(run_id: str) -> list[int]:
    """The nodes followed in this run (kept across epochs, play and refreshes): the picker's
    value when it is drawn (a change there is in its state before the page reruns)."""
    return list(st.session_state.get(f"{key(run_id)}_picker", st.session_state.get(key(run_id), [])))


def take_selection(run_id: str, event) -> None:
    """A click / lasso / box selection in the latent picture replaces the followed nodes."""
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", [])
    picked = sorted({int(p["customdata"]) for p in points if p.get("customdata") is not None})
    seen = st.session_state.get(f"{key(run_id)}_event")
    if picked and picked != seen:
        st.session_state[key(run_id)] = picked
        st.session_state[f"{key(run_id)}_picker"] = picked
    st.session_state[f"{key(run_id)}_event"] = picked


def picker(run_id: str, graph: runs.GraphInfo) -> list[int]:
    """Name the nodes to follow (or clear them); the picture's selection fills it too."""
    if graph.nodes > MAX_PICKABLE:
        st.caption(f"Click or lasso points in the picture to follow them ({graph.nodes:,} nodes: too many to list).")
        return followed(run_id)
    st.session_state.setdefault(f"{key(run_id)}_picker", followed(run_id))
    chosen = st.multiselect("Follow nodes", list(range(graph.nodes)), format_func=graph.node_label,
                            key=f"{key(run_id)}_picker", max_selections=50,
                            placeholder="click or lasso points in the picture, or type node ids",
                            help="The followed nodes are ringed in every picture of this page, across epochs.")
    st.session_state[key(run_id)] = list(chosen)
    return list(chosen)


def panel(source, z: np.ndarray, graph: runs.GraphInfo, chosen: list[int]) -> None:
    """Neighbourhood, nearest neighbours in Z and predicted links of the followed nodes. On a
    big graph Z is the snapshot's subsample of nodes: a followed node outside it is named, and
    the nearest nodes and predicted links are found among the nodes it keeps."""
    if not chosen or not np.isfinite(z).all():
        return
    kept = graph.snapshot_nodes
    rows, outside = snapshots.rows_of(kept, chosen)
    if outside:
        st.info(f"{len(outside)} followed node(s) ({', '.join(graph.node_label(n) for n in outside[:5])}"
                f"{', ...' if len(outside) > 5 else ''}) are not among the {graph.snapshot_size:,} of "
                f"{graph.nodes:,} nodes this run's snapshots keep: they are not in this picture. Their final Z "
                "is in the run's embeddings download (Runs page).", icon=":material/info:")
    edges, problem = common.edges_for(source.config)
    if edges is None:
        st.caption(f"The run's graph cannot be read, so its neighbourhood is not shown: {problem}")
        return
    train, test = edges
    names = [graph.node_label(i) for i in range(graph.nodes)]
    left, right = st.columns([2, 3])   # the tables' columns need the room more than the graph
    hood, links_in = nodes.neighbourhood(train, chosen)
    left.plotly_chart(plots.neighbourhood_figure(hood, links_in, chosen, names, graph.labels, graph.class_names,
                                                 revision=f"hood-{source.run_id}"),
                      key="latent_neighbourhood", config={"displaylogo": False})
    left.caption(f"{len(hood)} nodes within 2 hops of the followed ones in the training graph"
                 + (f" (capped at {nodes.NEIGHBOURHOOD_CAP})" if len(hood) >= nodes.NEIGHBOURHOOD_CAP else "") + ".")
    if not rows:
        return
    local_train = snapshots.local_edges(kept, train, graph.nodes)   # Z's rows, not the graph's nodes
    labels = None if graph.labels is None else graph.labels[graph.snapshot_node(np.arange(len(z)))]
    near = nodes.nearest_in_z(z, rows, local_train, labels)
    node_of = graph.snapshot_node
    with right:
        labels_part = (f", {near.same_label} share a label" if near.same_label is not None else "")
        among = "" if kept is None else f" among the {len(kept):,} kept nodes"
        st.markdown(f"**Nearest in Z**{among} (in all {z.shape[1]} dimensions, not on screen): of {len(near.nodes)}, "
                    f"{near.graph_neighbours} are graph neighbours{labels_part}.")
        st.dataframe(pd.DataFrame({"node": [names[n] for n in node_of(near.nodes)],
                                   "distance": [f"{d:.3f}" for d in near.distances]}),
                     hide_index=True, width="stretch", height=220, key="latent_nearest")
        links = nodes.predicted_links(z, rows, local_train, snapshots.local_edges(kept, test, graph.nodes))
        st.markdown(f"**Top predicted links** that are not training edges ({sum(l.held_out for l in links)} of "
                    f"{len(links)} are held-out test edges: real links the model never saw).")
        st.dataframe(pd.DataFrame({"from": [names[node_of([l.source])[0]] for l in links],
                                   "to": [names[node_of([l.target])[0]] for l in links],
                                   "p(edge)": [f"{l.probability:.3f}" for l in links],
                                   "test edge": ["yes" if l.held_out else "" for l in links]}),
                     hide_index=True, width="stretch", height=220, key="latent_links",
                     column_config={c: st.column_config.TextColumn(width="small") for c in ("from", "to", "p(edge)")})
