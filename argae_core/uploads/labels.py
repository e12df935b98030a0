"""The labels reader: node_id, label for every node; class ids from label text."""
from __future__ import annotations

import re
from itertools import islice

import numpy as np

from .decoding import _data_lines, _refuse_control, _refuse_markup
from .messages import UploadError, _quote, _short, _twin_hint
from .sniffing import SNIFF_LINES, _header_like, _sniff


def _read_labels(text: str, nodes: dict[str, int]) -> tuple[dict[str, str], list[str] | None, str]:
    """{node id: label text}, the header, the delimiter name."""
    sample = list(islice(_data_lines(text), SNIFF_LINES))
    if not sample:
        raise UploadError("no labels: the file holds only blank lines and comments", "labels")
    _refuse_markup(sample, "labels")
    split = _sniff(sample, "labels")
    first = split(sample[0][1], sample[0][0])
    is_header = _labels_header(first, [split(line, number)[:2] for number, line in sample[1:]], nodes)
    labels, seen = {}, {}
    for number, line in _data_lines(text):
        if is_header and number == sample[0][0]:
            continue
        fields = split(line, number)
        if len(fields) == 1 and fields[0] in nodes:
            raise UploadError(f"node {_short(fields[0])} has no label (each line is node id, "
                              "label)", "labels", number)
        if len(fields) != 2:
            space_hint = ("; if labels contain spaces, upload a CSV or TSV file"
                          if split.delimiter is None and len(fields) > 2 else "")
            raise UploadError(f"expected two columns (node id, label), found {len(fields)} "
                              f"({_quote(fields)}){space_hint}", "labels", number)
        node, label = fields
        if node not in nodes:
            raise UploadError(f"node {_short(node)} is not in the graph (not in the edges or the "
                              f"features file){_twin_hint(node, nodes)}", "labels", number)
        if node in labels and labels[node] != label:
            raise UploadError(f"node {_short(node)} is labelled {_short(label)} here but "
                              f"{_short(labels[node])} on line {seen[node]}", "labels", number)
        labels[node], seen[node] = label, number
    if not labels:
        raise UploadError(f"no labels: only the header ({_quote(first)})", "labels")
    _refuse_control(list(dict.fromkeys(labels.values())), text, "labels", "label")
    return labels, first if is_header else None, split.name


def _labels_header(first: list[str], later: list[list[str]], nodes: dict[str, int]) -> bool:
    """Whether the first line names the columns: its first cell is not a node, and it uses a
    column word ('node', 'label', ...), or every later line starts with a node and none has
    its second cell as a label (a line for an unknown node is refused, not skipped)."""
    if not first or first[0] in nodes:
        return False
    if any(_header_like(f) for f in first):
        return True
    return (len(first) == 2 and bool(later) and all(row and row[0] in nodes for row in later)
            and first[1] not in {row[-1] for row in later})


def _class_ids(labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Integer labels keep their order (0..K-1 stay as given); text labels are sorted."""
    names = sorted(set(labels))
    if all(re.fullmatch(r"-?\d+", name) for name in names):
        names = sorted(names, key=int)
    position = {name: i for i, name in enumerate(names)}
    return np.array([position[label] for label in labels], dtype=np.int64), names
