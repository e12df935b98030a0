"""Uploads on disk: JSON + an `.npz` of plain arrays under `<cache dir>/uploads/<id>/`, the id a
content hash, written to a hidden folder and renamed into place; read back checked."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..graph import DatasetUnavailable, Graph, apply_features
from ..storage import cache_dir, json_bytes, npz_bytes, read_npz
from .parse import ParsedUpload, both_directions

UPLOAD_ID = re.compile(r"[0-9a-f]{16}")
STORE_FORMAT = 1


def uploads_dir() -> Path:
    return cache_dir() / "uploads"


def _stored(parsed: ParsedUpload) -> tuple[dict, dict[str, np.ndarray]]:
    """What goes to disk: JSON-able metadata and plain arrays (identity / degree features
    are rebuilt on load, not stored)."""
    graph, mode = parsed.graph, parsed.report["feature_mode"]
    meta = {"format": STORE_FORMAT, "name": graph.name, "node_ids": graph.node_ids,
            "class_names": graph.class_names, "notes": graph.notes, "feature_mode": mode,
            "report": parsed.report}
    edge_index = graph.edge_index.numpy()
    # one row per undirected edge; both directions are rebuilt on load (half the disk)
    arrays = {"pairs": edge_index[:, edge_index[0] < edge_index[1]].astype(np.int32)}
    if mode == "uploaded":
        arrays["x"] = graph.x.numpy().astype(np.float32)
    if graph.y is not None:
        arrays["y"] = graph.y.numpy().astype(np.int64)
    return meta, arrays


def save_upload(parsed: ParsedUpload) -> str:
    """Store the parsed graph under the cache dir; returns its id (a content hash: the same
    upload gives the same id). Written to a temporary folder and renamed into place, so a
    reader never sees half an upload."""
    meta, arrays = _stored(parsed)
    meta_bytes = json_bytes(meta, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(meta_bytes)
    for key in sorted(arrays):
        digest.update(f"{key}{arrays[key].dtype}{arrays[key].shape}".encode())
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    upload_id = digest.hexdigest()[:16]
    root = uploads_dir()
    target = root / upload_id
    if (target / "meta.json").is_file():
        return upload_id
    root.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    try:
        (temporary / "graph.npz").write_bytes(npz_bytes(**arrays))
        (temporary / "meta.json").write_bytes(meta_bytes)
        os.rename(temporary, target)
    except OSError:
        if not (target / "meta.json").is_file():  # not a concurrent save of the same upload
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return upload_id


def load_upload(upload_id: str) -> Graph:
    """The graph `save_upload` stored under this id; `DatasetUnavailable` if the id is
    malformed, unknown or its files are damaged."""
    if not isinstance(upload_id, str) or not UPLOAD_ID.fullmatch(upload_id):
        raise DatasetUnavailable(f"{upload_id!r} is not an upload id (16 hexadecimal characters).")
    folder = uploads_dir() / upload_id
    if not (folder / "meta.json").is_file():
        raise DatasetUnavailable(f"Upload {upload_id} is not stored in {uploads_dir()} (the cache "
                                 "may have been cleared); upload the files again.")
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        return _graph_from_store(meta, read_npz(folder / "graph.npz"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        raise DatasetUnavailable(f"Upload {upload_id} in {folder} is damaged ({exc}); upload the "
                                 "files again.") from None


def _graph_from_store(meta: dict, arrays: dict[str, np.ndarray]) -> Graph:
    if meta.get("format") != STORE_FORMAT:
        raise ValueError(f"stored format {meta.get('format')!r}, expected {STORE_FORMAT}")
    node_ids = [str(node) for node in meta["node_ids"]]
    n = len(node_ids)
    pairs = arrays["pairs"]
    in_range = not pairs.size or 0 <= pairs.min() <= pairs.max() < n
    if pairs.ndim != 2 or pairs.shape[0] != 2 or not in_range:
        raise ValueError("the edges do not fit the node ids")
    edge_index = both_directions(pairs, n)
    y = torch.from_numpy(arrays["y"]) if "y" in arrays else None
    if y is not None and y.numel() != n:
        raise ValueError("labels do not fit the node ids")
    graph = Graph(meta["name"], torch.zeros(n, 0), edge_index, y, node_ids, meta["class_names"],
                  list(meta["notes"]))
    if meta["feature_mode"] == "uploaded":
        graph.x = torch.from_numpy(arrays["x"]).float()
        if graph.x.dim() != 2 or graph.x.size(0) != n:
            raise ValueError("features do not fit the node ids")
    else:
        graph.x = apply_features(graph, meta["feature_mode"]).x
    return graph
