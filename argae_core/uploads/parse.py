"""The three files read together into a `Graph` and a report: node order, undirected edges,
the split check, features chosen, the preview's numbers and the notes a run keeps."""
from __future__ import annotations

import re
from dataclasses import dataclass
from warnings import catch_warnings, simplefilter

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..graph import (FEATURE_NOTES, MIN_SPLIT_EDGES, TEST_RATIO, VAL_RATIO, Graph, apply_features,
                     split_edges)
from .decoding import _decode
from .edges import _EdgeList, _read_edges
from .features import _FeatureTable, _read_features
from .labels import _class_ids, _read_labels
from .messages import (UploadError, _count, _examples, _lookalike_sentence, _lookalikes,
                       _number_key, _numeric_twins, _quote, _short, _twins_sentence)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # matches .streamlit/config.toml maxUploadSize = 50 (MB)
IDENTITY_UPLOAD_LIMIT = 3_000         # without features: one-hot ids up to here, degree beyond
REAL_SPLIT_CHECK_EDGES = 50_000       # up to here also run the real split (cheap; dense graphs)
# What the Features setting "raw" (as given) trains on, by the featurisation the upload got.
UPLOAD_FEATURES = {"uploaded": "the features file", "identity": "one-hot ids (no features file)",
                   "degree": "degree features (no features file)"}


@dataclass
class ParsedUpload:
    graph: Graph    # ready to train: features chosen, labels as class ids
    report: dict    # plain numbers and sentences for a preview (see `parse_upload`)


def parse_upload(edges: bytes, features: bytes | None = None, labels: bytes | None = None, *,
                 name: str = "Uploaded graph", max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedUpload:
    """Read an edge list (and optional features and labels) into a `Graph` and a report.

    Edges: two columns of node ids (numbers or names) separated by commas, tabs, semicolons
    or spaces; optional header; '#' / '%' comment lines; an optional numeric third column
    (weights) is ignored. Features: node_id, value, value, ... one row per node. Labels:
    node_id, label (integers or text). Raises `UploadError` naming the file and line.

    Node ids and labels are text, matched exactly as written across the three files: '7',
    '007' and '7.0' are different ids (a warning names such look-alikes). Semicolon-separated
    files may write decimal commas. A pandas row-index column (empty first header cell) is
    skipped in the edge list. A first line of two names found nowhere else is a header (in
    words the header check does not know: 'user,item'), said in a warning. Control characters
    in ids or labels are refused; ids that print alike (invisible characters, Unicode
    normalisation) are kept apart, with a warning.

    The report holds: nodes, edges, isolated_nodes, components, largest_component,
    feature_size, feature_mode ('uploaded' / 'identity' / 'degree'), labelled_nodes,
    classes, class_names, duplicate_edges, self_loops, weights_ignored, files (delimiter,
    header, encoding per file) and warnings (sentences the user should read).
    """
    warnings: list[str] = []
    texts = {}
    files = {}
    for file, data in (("edges", edges), ("features", features), ("labels", labels)):
        if data is None:
            continue
        texts[file], encoding, warning = _decode(bytes(data), file, max_bytes)
        files[file] = {"encoding": encoding}
        if warning:
            warnings.append(warning)

    edge_list = _read_edges(texts["edges"])
    files["edges"].update(delimiter=edge_list.splitter, header=edge_list.header)
    table = None
    if "features" in texts:
        table = _read_features(texts["features"], dict.fromkeys(edge_list.ids))
        files["features"].update(delimiter=table.splitter, header=table.header)
    node_ids, order = _node_order(edge_list, table, warnings)
    twins = _numeric_twins(node_ids)
    if twins:
        warnings.append(_twins_sentence(twins, "node", "node ids"))
    lookalikes = _lookalikes(node_ids)
    if lookalikes:
        warnings.append(_lookalike_sentence(lookalikes))
    edge_index, counts = _undirected_edges(order[edge_list.ends], len(node_ids), warnings)
    warnings += edge_list.warnings
    if edge_list.weights_ignored:
        warnings.append("The third column (edge weights) is ignored: the models use unweighted "
                        "graphs, so every listed pair is one edge.")
    _check_splittable(name, edge_index, len(node_ids), counts)

    y = class_names = None
    if "labels" in texts:
        position = {node: i for i, node in enumerate(node_ids)}
        label_of, header, delimiter = _read_labels(texts["labels"], position)
        files["labels"].update(delimiter=delimiter, header=header)
        missing = [node for node in node_ids if node not in label_of]
        if missing:
            raise UploadError(f"{len(missing):,} of {_count(len(node_ids), 'node')} have no label "
                              f"({_examples(missing)}); label every node, or leave the labels "
                              "file out", "labels")
        y_np, class_names = _class_ids([label_of[node] for node in node_ids])
        twins = _numeric_twins(class_names)
        if twins:
            warnings.append(_twins_sentence(twins, "class", "labels"))
        y = torch.from_numpy(y_np)
        if len(class_names) < 2:
            warnings.append("The labels hold a single class: clustering scores need at least two.")
        elif len(class_names) == len(node_ids):
            warnings.append("Every node has a label of its own: clustering scores against these "
                            "labels mean nothing (is the second column an id?).")

    graph = Graph(name=name, x=torch.zeros(len(node_ids), 0), edge_index=edge_index, y=y,
                  node_ids=node_ids, class_names=class_names)
    mode, graph.x, feature_note = _features(graph, table)
    report = _report(graph, mode, counts, edge_list.weights_ignored, files, warnings)
    report["feature_note"] = feature_note  # which featurisation, and why
    graph.notes = _notes(report, feature_note)
    return ParsedUpload(graph, report)


def _node_order(edges: _EdgeList, table: _FeatureTable | None,
                warnings: list[str]) -> tuple[list[str], np.ndarray]:
    """Final node ids, and the new position of each edge-list node.

    Feature rows for nodes without edges become isolated nodes (a graph may have them, as
    Cora does); edge nodes without a feature row are refused (the features cannot be made up).
    Integer ids are sorted numerically, so ids 0..N-1 keep their numbers; names keep the
    order in which they first appear."""
    ids = list(edges.ids)
    if table is not None:
        have = set(table.ids)
        missing = [node for node in ids if node not in have]
        if missing:
            raise UploadError(f"{len(missing):,} of {_count(len(ids), 'node')} of the edge list "
                              f"have no feature row ({_examples(missing)}); give every node a "
                              "row, or leave the features file out"
                              f"{_spelling_hint(missing, table.ids)}", "features")
        known = set(ids)
        extra = [node for node in table.ids if node not in known]
        if extra:
            ids += extra
            warnings.append(f"{_count(len(extra), 'node')} of the features file not in the edge "
                            f"list ({_examples(extra)}): added as isolated nodes.")
    final = sorted(ids, key=int) if all(re.fullmatch(r"-?\d+", i) for i in ids) else ids
    position = {node: i for i, node in enumerate(final)}
    return final, np.array([position[node] for node in edges.ids], dtype=np.int64)


def _spelling_hint(missing: list[str], given: list[str]) -> str:
    """'. The features file writes ...' when missing ids appear there spelled another way."""
    spelled = {}
    for node in given:
        key = _number_key(node)
        if key is not None:
            spelled.setdefault(key, node)
    pairs = [(spelled[key], node) for node in missing
             if (key := _number_key(node)) is not None and key in spelled]
    if not pairs:
        return ""
    shown = ", ".join(f"{_short(a)} for {_short(b)}" for a, b in pairs[:3])
    return (f". The features file writes {len(pairs):,} of these ids "
            f"differently ({shown}{', ...' if len(pairs) > 3 else ''}): ids are matched as text, "
            "exactly as written, so write them the same way in both files")


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting: numpy 2.4's hash-based unique is ~15x slower on large int arrays."""
    values = np.sort(values)
    return values[np.concatenate([[True], values[1:] != values[:-1]])] if values.size else values


def _undirected_edges(ends: np.ndarray, num_nodes: int,
                      warnings: list[str]) -> tuple[torch.Tensor, dict]:
    """edge_index in both directions without self-loops or repeats, and what was dropped."""
    loop = ends[:, 0] == ends[:, 1]
    src, dst = ends[~loop, 0], ends[~loop, 1]
    ordered = _sorted_unique(src * num_nodes + dst).size
    pairs = _sorted_unique(np.minimum(src, dst) * num_nodes + np.maximum(src, dst))
    counts = {"self_loops": int(loop.sum()),
              "duplicate_edges": int(src.size - pairs.size),
              "reversed_duplicates": int(ordered - pairs.size)}
    if counts["self_loops"]:
        warnings.append(f"Dropped {_count(counts['self_loops'], 'self-loop')} (edges from a node "
                        "to itself).")
    if counts["duplicate_edges"]:
        both = (" (the file lists every edge in both directions)"
                if counts["reversed_duplicates"] == pairs.size else "")
        warnings.append(f"Dropped {_count(counts['duplicate_edges'], 'duplicate edge')}: a pair "
                        "of nodes listed again, in either direction, is one undirected "
                        f"edge{both}.")
    return both_directions(np.stack([pairs // num_nodes, pairs % num_nodes]), num_nodes), counts


def both_directions(pairs: np.ndarray, num_nodes: int) -> torch.Tensor:
    """[2, 2E] edge_index from [2, E] distinct pairs, sorted by (row, col): what PyG's
    coalesce(to_undirected(...)) gives, at the cost of one numpy sort."""
    lo, hi = pairs.astype(np.int64)
    keys = np.concatenate([lo * num_nodes + hi, hi * num_nodes + lo])
    keys.sort()
    return torch.from_numpy(np.stack([keys // num_nodes, keys % num_nodes]))


def _check_splittable(name: str, edge_index: torch.Tensor, num_nodes: int, counts: dict) -> None:
    """Refuse graphs the link-prediction split cannot hold edges out of."""
    edges = edge_index.size(1) // 2
    dropped = ""
    if counts["duplicate_edges"] or counts["self_loops"]:
        dropped = (f" after dropping {_count(counts['duplicate_edges'], 'duplicate edge')} and "
                   f"{_count(counts['self_loops'], 'self-loop')}")
    if edges < MIN_SPLIT_EDGES:
        raise UploadError(f"the graph has {_count(edges, 'edge')}{dropped}; link prediction needs "
                          f"at least {MIN_SPLIT_EDGES} to hold out {VAL_RATIO:.0%} validation and "
                          f"{TEST_RATIO:.0%} test edges (at least one each)", "edges")
    needed = int(VAL_RATIO * edges) + int(TEST_RATIO * edges)
    non_edges = num_nodes * (num_nodes - 1) // 2 - edges
    if non_edges < needed:
        raise UploadError(f"the graph is too dense: only {_count(non_edges, 'node pair')} "
                          f"unconnected, and link prediction needs {needed:,} as negative "
                          "examples", "edges")
    if edges <= REAL_SPLIT_CHECK_EDGES:
        graph = Graph(name, torch.zeros(num_nodes, 0), edge_index)
        try:
            with catch_warnings():  # PyG warns before it fails; the message below says it
                simplefilter("ignore")
                split_edges(graph, seed=0)
        except Exception as exc:  # the real split is the final word; say why it refused
            raise UploadError(f"the link-prediction split fails on this graph ({exc})",
                              "edges") from None


def _features(graph: Graph, table: _FeatureTable | None) -> tuple[str, torch.Tensor, str]:
    """(mode, x, sentence): uploaded rows in node order, else identity or degree features."""
    if table is not None:
        position = {node: i for i, node in enumerate(graph.node_ids)}
        rows = np.array([position[node] for node in table.ids])
        x = np.empty_like(table.values)
        x[rows] = table.values
        note = f"{table.values.shape[1]} features per node from the features file."
        return "uploaded", torch.from_numpy(x), note
    if graph.num_nodes <= IDENTITY_UPLOAD_LIMIT:
        mode, why = "identity", f"the graph has at most {IDENTITY_UPLOAD_LIMIT:,} nodes"
        what = "identity features (one-hot node ids: the model sees only the structure)"
    else:
        mode, why = "degree", f"identity features would need {graph.num_nodes:,} columns"
        what = "degree features (log-degree and one-hot degree buckets)"
    x = apply_features(graph, mode).x
    return mode, x, f"No features file: {what}, because {why}."


def feature_sentence(report: dict, mode: str) -> str:
    """What an upload trains on under the Features setting `mode`, in words: the upload's own
    featurisation for "raw", else the setting's, saying what it replaces."""
    if mode == "raw":
        return report["feature_note"]
    return (f"{FEATURE_NOTES[mode]} (the Features setting; raw would use "
            f"{UPLOAD_FEATURES[report['feature_mode']]}.)")


def raw_feature_label(report: dict) -> str:
    """The Features setting "raw" named for this upload: what it actually trains on."""
    return f"raw: {UPLOAD_FEATURES[report['feature_mode']]}"


def _report(graph: Graph, mode: str, counts: dict, weights: bool, files: dict,
            warnings: list[str]) -> dict:
    n = graph.num_nodes
    ei = graph.edge_index.numpy()
    adjacency = coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
    components, membership = connected_components(adjacency, directed=False)
    return {"name": graph.name, "nodes": n, "edges": graph.num_edges,
            "isolated_nodes": int((graph.degrees() == 0).sum()),
            "components": int(components),
            "largest_component": int(np.bincount(membership).max()),
            "feature_size": graph.num_features, "feature_mode": mode,
            "labelled_nodes": 0 if graph.y is None else n,
            "classes": graph.num_classes, "class_names": graph.class_names,
            "duplicate_edges": counts["duplicate_edges"], "self_loops": counts["self_loops"],
            "weights_ignored": weights, "files": files, "warnings": list(warnings)}


def _notes(report: dict, feature_note: str) -> list[str]:
    """Sentences about what was read and done, for the dashboard and saved runs."""
    edges = report["files"]["edges"]
    header = f", header {_quote(edges['header'])}" if edges["header"] else ""
    notes = [f"Uploaded edge list ({edges['delimiter']}-separated{header}): "
             f"{_count(report['nodes'], 'node')}, {_count(report['edges'], 'undirected edge')}, "
             f"{_count(report['components'], 'connected component')}, "
             f"{_count(report['isolated_nodes'], 'isolated node')}.", feature_note]
    if report["classes"]:
        notes.append(f"Labels: {_count(report['classes'], 'class', 'classes')} "
                     f"({_examples(report['class_names'])}).")
    return notes + report["warnings"]
