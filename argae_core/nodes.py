"""Follow a node: for a selection of nodes, what the model did with them.

- `nearest_in_z`: the selection's nearest neighbours in Z itself (not in a 2-D picture,
  which distorts), and how many of them are graph neighbours or share a label;
- `predicted_links`: the pairs the inner-product decoder scores highest, sigmoid(z_i . z_j),
  between a selected node and any other that are not edges of the training graph, marked
  when they are held-out test edges (the model found an edge it never saw);
- `neighbourhood`: the selection's 1-2 hop neighbourhood in the graph, capped, to draw.

Edges are numpy arrays [2, E] of node rows (either direction); Z is [N, d].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

NEIGHBOURHOOD_CAP = 150   # nodes drawn at most: a hub's 2-hop neighbourhood can be the whole graph


@dataclass(frozen=True)
class Nearest:
    nodes: list[int]              # nearest first, the selection excluded
    distances: list[float]
    graph_neighbours: int         # how many of them are adjacent to a selected node
    same_label: int | None        # how many share a label with a selected node (None: no labels)


@dataclass(frozen=True)
class Link:
    source: int                   # a selected node
    target: int
    probability: float            # sigmoid(z_source . z_target)
    held_out: bool                # a test edge: real, but hidden from training


def _pairs(edges: np.ndarray) -> set[tuple[int, int]]:
    """Undirected pairs (low, high) of an edge array [2, E]."""
    edges = np.asarray(edges).reshape(2, -1)
    low, high = np.minimum(edges[0], edges[1]), np.maximum(edges[0], edges[1])
    return set(zip(low.tolist(), high.tolist()))


def _adjacent(edges: np.ndarray, nodes: set[int]) -> set[int]:
    edges = np.asarray(edges).reshape(2, -1)
    touching = np.isin(edges[0], list(nodes)) | np.isin(edges[1], list(nodes))
    return set(edges[:, touching].ravel().tolist()) - nodes


def nearest_in_z(z: np.ndarray, selected: list[int], edges: np.ndarray, labels: np.ndarray | None = None,
                 k: int = 10) -> Nearest:
    """The `k` nodes nearest the selection in Z (Euclidean, to the nearest selected node)."""
    z, chosen = np.asarray(z, dtype=np.float64), set(selected)
    k = min(k, len(z) - len(chosen))
    if k <= 0 or not chosen:
        return Nearest([], [], 0, None if labels is None else 0)
    finder = NearestNeighbors(n_neighbors=min(len(z), k + len(chosen))).fit(z)
    distances, indices = finder.kneighbors(z[sorted(chosen)])
    best: dict[int, float] = {}
    for row_distances, row_indices in zip(distances, indices):
        for distance, node in zip(row_distances, row_indices):
            if node not in chosen and distance < best.get(node, np.inf):
                best[int(node)] = float(distance)
    ranked = sorted(best, key=lambda n: (best[n], n))[:k]
    neighbours = _adjacent(edges, chosen)
    same = None
    if labels is not None:
        chosen_labels = {labels[n] for n in chosen}
        same = sum(labels[n] in chosen_labels for n in ranked)
    return Nearest(ranked, [best[n] for n in ranked], sum(n in neighbours for n in ranked), same)


def predicted_links(z: np.ndarray, selected: list[int], train_edges: np.ndarray, test_edges: np.ndarray,
                    top: int = 10) -> list[Link]:
    """The `top` highest-scoring pairs (selected node, other node) that are not training
    edges, best first; `held_out` marks the ones that are test edges."""
    z = np.asarray(z, dtype=np.float64)
    known, held_out = _pairs(train_edges), _pairs(test_edges)
    candidates = []
    for source in sorted(set(selected)):
        logits = z @ z[source]
        for target in np.argsort(-logits):
            target = int(target)
            pair = (min(source, target), max(source, target))
            if target == source or pair in known:
                continue
            candidates.append((float(logits[target]), source, target))
            if sum(c[1] == source for c in candidates) >= top:
                break
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    seen, links = set(), []
    for logit, source, target in candidates:
        pair = (min(source, target), max(source, target))
        if pair in seen:
            continue
        seen.add(pair)
        links.append(Link(source, target, float(1 / (1 + np.exp(-logit))), pair in held_out))
        if len(links) == top:
            break
    return links


def neighbourhood(edges: np.ndarray, selected: list[int], hops: int = 2,
                  cap: int = NEIGHBOURHOOD_CAP) -> tuple[list[int], list[tuple[int, int]]]:
    """(nodes, edges among them) of the selection's `hops`-hop neighbourhood, breadth first,
    at most `cap` nodes (the selection always kept, nearer hops first)."""
    pairs = _pairs(edges)
    adjacency: dict[int, set[int]] = {}
    for a, b in pairs:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    kept, frontier = list(dict.fromkeys(selected)), list(dict.fromkeys(selected))
    for _ in range(hops):
        following = []
        for node in frontier:
            for other in sorted(adjacency.get(node, ())):
                if other not in kept and len(kept) < cap:
                    kept.append(other)
                    following.append(other)
        frontier = following
    inside = set(kept)
    return kept, sorted((a, b) for a, b in pairs if a in inside and b in inside)
