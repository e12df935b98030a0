"""The features reader: node_id, value, value, ... one row per node, finite numbers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

import numpy as np

from .decoding import _data_lines, _refuse_control, _refuse_markup
from .messages import UploadError, _count, _quote, _short
from .sniffing import SNIFF_LINES, _Splitter, _header_like, _is_number, _sniff

FLOAT32_MAX = float(np.finfo(np.float32).max)  # features are stored and trained as float32


@dataclass
class _FeatureTable:
    ids: list[str]
    values: np.ndarray        # [rows, F] float32
    splitter: str
    header: list[str] | None


def _read_features(text: str, edge_nodes: dict[str, int]) -> _FeatureTable:
    sample = list(islice(_data_lines(text), SNIFF_LINES))
    if not sample:
        raise UploadError("no feature rows: the file holds only blank lines and comments",
                          "features")
    _refuse_markup(sample, "features")
    split = _sniff(sample, "features")
    first = split(sample[0][1], sample[0][0])
    is_header = first[0] not in edge_nodes and (
        not first[0] or _header_like(first[0]) or not all(map(_is_number, first[1:])))
    ids, rows, seen = [], [], {}
    width = width_line = None
    for number, line in _data_lines(text):
        if is_header and number == sample[0][0]:
            continue
        fields = split(line, number)
        node = fields[0] if fields else ""
        if not node:
            raise UploadError(f"empty node id in column 1 ({_short(line)})", "features", number)
        if len(fields) < 2:
            raise UploadError(f"only a node id ({_short(node)}), no feature values; each row is "
                              "node_id, value, value, ...", "features", number)
        if node in seen:
            raise UploadError(f"node {_short(node)} already has features on line {seen[node]}",
                              "features", number)
        if width is None:
            width, width_line = len(fields) - 1, number
        elif len(fields) - 1 != width:
            raise UploadError(f"{_count(len(fields) - 1, 'feature value')} for node "
                              f"{_short(node)}, but line {width_line} has {width}; every node "
                              "needs the same number",
                              "features", number)
        seen[node] = number
        ids.append(node)
        rows.append(_feature_row(fields, number, split))
    if not rows:
        raise UploadError(f"no feature rows: only the header ({_quote(first)})", "features")
    _refuse_control(ids, text, "features", "node id")
    return _FeatureTable(ids, np.stack(rows).astype(np.float32), split.name,
                         first if is_header else None)


def _feature_row(fields: list[str], number: int, split: _Splitter) -> np.ndarray:
    values = fields[1:]
    if split.delimiter == ";":  # European CSV: decimal commas
        values = [v.replace(",", ".") for v in values]
    try:
        row = np.array(values, dtype=np.float64)
    except ValueError:
        column, value = next((c, v) for c, v in enumerate(values, start=2) if not _is_number(v))
        if not value:
            what = "an empty value; features must be numbers (fill in missing values)"
        elif re.fullmatch(r"[+-]?\d*,\d+", value):
            what = (f"{_short(value)} is not a number: decimal commas are read only in "
                    "semicolon-separated files; write a decimal point")
        else:
            what = (f"{_short(fields[column - 1])} is not a number; features must be numbers "
                    "(encode categories as numbers, e.g. one column per category)")
        raise UploadError(f"column {column}: {what}", "features", number) from None
    bad = np.flatnonzero(~np.isfinite(row) | (np.abs(row) > FLOAT32_MAX))
    if bad.size:
        value = row[bad[0]]
        kind = ("NaN (not a number)" if np.isnan(value) else "infinite" if np.isinf(value)
                else f"too large (beyond {FLOAT32_MAX:.1e}, the largest 32-bit float)")
        raise UploadError(f"column {bad[0] + 2}: {_short(fields[bad[0] + 1])} is {kind}; features "
                          "must be finite numbers", "features", number)
    return row
