"""The edge-list reader: header, an index column, weights, comments; ids to positions."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import islice

import numpy as np
import pandas as pd

from .decoding import _data_lines, _refuse_control, _refuse_markup
from .messages import UploadError, _count, _quote, _short
from .sniffing import DELIMITERS, SNIFF_LINES, _Splitter, _header_like, _is_number, _sniff

ID_BATCH = 200_000                    # node ids mapped to positions at a time
ENDPOINT_WORDS = {"source", "src", "from", "target", "dst", "to", "head", "tail"}
COMMENT_HINT = "lines starting with '#' or '%' are comments; quote node names that start so"


class _IdIndex:
    """Node ids -> positions in order of first appearance, by pandas' factorize (in C; a
    Python dict lookup per id was most of the parse time). Batches are factorized as they
    come, so only one batch of id strings is alive; `finish` factorizes the batches'
    uniques, which keeps the order of first appearance."""

    def __init__(self):
        self._codes: list[np.ndarray] = []
        self._uniques: list[np.ndarray] = []

    def add(self, ids: list[str]) -> None:
        codes, uniques = pd.factorize(np.array(ids, dtype=object))
        self._codes.append(codes)
        self._uniques.append(uniques)

    def finish(self) -> tuple[list[str], np.ndarray]:
        """(ids in order of first appearance, the position of every id added)."""
        global_of, ids = pd.factorize(np.concatenate(self._uniques))
        offsets = np.cumsum([0] + [len(u) for u in self._uniques[:-1]])
        positions = [global_of[offset + codes] for offset, codes in zip(offsets, self._codes)]
        return list(ids), np.concatenate(positions).astype(np.int64)


@dataclass
class _EdgeList:
    ids: list[str]            # node ids in order of first appearance
    ends: np.ndarray          # [lines, 2] positions in `ids`, one row per data line
    splitter: str
    header: list[str] | None
    weights_ignored: bool
    warnings: list[str]       # sentences about columns and lines that were skipped


def _read_edges(text: str) -> _EdgeList:
    sample = list(islice(_data_lines(text), SNIFF_LINES))
    if not sample:
        raise UploadError(f"no edges: the file holds only blank lines and comments "
                          f"({COMMENT_HINT})", "edges")
    _refuse_markup(sample, "edges")
    split = _sniff(sample, "edges")
    first = split(sample[0][1], sample[0][0])
    is_header = _edges_header(first, [split(line, number)[:2] for number, line in sample[1:]])
    warnings = []
    if is_header and _leading_column(first):
        split = _Splitter(split.name, split.delimiter, "edges", skip=1)
        warnings.append(f"The first column (header {_short(first[0])}) is ignored: the header "
                        f"names the edges' ends {_short(first[1])} and {_short(first[2])}, so "
                        "edges are read from the next two columns.")
    index, batch, comments = _IdIndex(), [], []
    weights = False
    for number, line in _data_lines(text, comments):
        if is_header and number == sample[0][0]:
            continue
        fields = split(line, number)
        if len(fields) != 2:
            weights |= _check_edge_columns(fields, number, split, line)
        a, b = fields[0], fields[1]
        if not a or not b:
            raise UploadError(f"empty node id in column {1 if not a else 2} ({_quote(fields)})",
                              "edges", number)
        batch += (a, b)
        if len(batch) >= ID_BATCH:
            index.add(batch)
            batch = []
    index.add(batch)
    ids, positions = index.finish()
    if not ids:
        raise UploadError(f"no edges: only the header ({_quote(first)})", "edges")
    if not is_header and _unknown_words_header(first, positions):
        is_header, ids, positions = True, ids[2:], positions[2:] - 2
        warnings.append(f"The first line ({_quote(first)}) is read as a header: its names appear "
                        "nowhere else in the file. If it is an edge, repeat it further down.")
    _refuse_control(ids, text, "edges", "node id")
    if comments:
        number, line = comments[0]
        warnings.append(f"Skipped {_count(len(comments), 'line')} among the edges that start "
                        f"with '#' or '%', as comments (first: line {number}, {_short(line)}). If "
                        "node names start with # or %, put them in double quotes.")
    return _EdgeList(ids, positions.reshape(-1, 2), split.name, first if is_header else None,
                     weights, warnings)


def _unknown_words_header(first: list[str], positions: np.ndarray) -> bool:
    """A first line of two words that name no other edge's end ('user,item', 'citing,cited'):
    a header in words `_edges_header` does not know, not an edge between two lone nodes."""
    if len(first) != 2 or any(map(_is_number, first)) or first[0] == first[1] or len(positions) <= 2:
        return False
    return bool(np.count_nonzero(positions == 0) == 1 and np.count_nonzero(positions == 1) == 1)


def _leading_column(header: list[str]) -> bool:
    """A header with a column before the source and target: a pandas row index
    (DataFrame.to_csv without index=False writes an empty name; re-read and written again,
    'Unnamed: 0'), or an edge id before two columns named like ends ('id,source,target')."""
    if len(header) < 3:
        return False
    if not header[0] or header[0].lower() in ("unnamed: 0", "index"):
        return True
    return not _endpoint(header[0]) and _endpoint(header[1]) and _endpoint(header[2])


def _endpoint(name: str) -> bool:
    """A column name for an edge's end: 'source', 'to', 'src_id', 'node1', 'Target'."""
    words = re.split(r"[^a-z]+", name.lower())
    return (any(w in ENDPOINT_WORDS for w in words)
            or re.fullmatch(r"(node|vertex|user|id)[ _]?[12uv]", name.lower()) is not None)


def _edges_header(first: list[str], later: list[list[str]]) -> bool:
    """Whether the first line names the columns: no numbers in it, and either the next
    lines are all numbers, or it uses column words ('source', 'to', 'node1', ...) that the
    next lines do not use as node ids ('node_a,node_b' then 'node_b,node_c' is an edge)."""
    if any(_is_number(f) for f in first[:2]):
        return False
    if later and all(all(map(_is_number, row)) for row in later):
        return True
    if {node for row in later for node in row} & set(first[:2]):
        return False
    return (any(_header_like(f) for f in first[:3])
            or any(_header_like(f, digits=True) for f in first[:2]))


def _check_edge_columns(fields: list[str], number: int, split: _Splitter, line: str) -> bool:
    """Accept a numeric third column as a weight (ignored); refuse anything else."""
    space_hint = ("; if node names contain spaces, upload a CSV or TSV file"
                  if split.delimiter is None else "")
    if not fields:
        raise UploadError(f"no node ids in this line ({_short(line)})", "edges", number)
    if len(fields) < 2:
        other = next((name for name, delimiter in DELIMITERS
                      if delimiter in line and delimiter != split.delimiter), None)
        if other:
            raise UploadError(f"this line is {other}-separated ({_short(line)}), but the file is "
                              f"read as {split.name}-separated, from its first lines: use one "
                              "separator throughout the file", "edges", number)
        read_as = (f" (the file is read as {split.name}-separated, from its first lines)"
                   if split.delimiter else "")
        raise UploadError(f"expected two columns of node ids (source and target), found 1 "
                          f"({_quote(fields)}){read_as}; separate them with a comma, a tab or "
                          "spaces", "edges", number)
    if len(fields) > 3:
        raise UploadError(f"expected two columns of node ids, found {len(fields)} "
                          f"({_quote(fields)}); only source, target and an optional numeric "
                          f"weight are read{space_hint}", "edges", number)
    try:
        weight = split.number(fields[2])
    except ValueError:
        raise UploadError(f"expected two columns of node ids, found 3 ({_quote(fields)}); a third "
                          f"column is read as an edge weight, and {_short(fields[2])} is not a "
                          f"number{space_hint}", "edges", number) from None
    if not math.isfinite(weight):
        raise UploadError(f"the edge weight {_short(fields[2])} is not a finite number", "edges",
                          number)
    return True
