"""Uploaded graphs: plain-text edge lists, node features and labels, checked and explained.

    parsed = parse_upload(edges_bytes, features_bytes, labels_bytes)   # raises UploadError
    parsed.report          # nodes, edges, isolated nodes, components, ... for a preview
    upload_id = save_upload(parsed)                                    # content hash
    load_graph(TrainConfig(dataset=f"upload:{upload_id}"))             # -> load_upload(id)

Only text is read: no pickle, no eval. Every refusal is an `UploadError` that names the
file and, where it helps, the line. Uploads are stored as JSON + an `.npz` of plain arrays
under `<cache dir>/uploads/<id>/`, so another process (a background job) can reload them.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from decimal import Context, Decimal
from itertools import islice
from pathlib import Path
from warnings import catch_warnings, simplefilter

import numpy as np
import pandas as pd
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .graph import (FEATURE_NOTES, MIN_SPLIT_EDGES, TEST_RATIO, VAL_RATIO, DatasetUnavailable,
                    Graph, apply_features, split_edges)
from .storage import cache_dir, json_bytes, npz_bytes, read_npz

DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # matches .streamlit/config.toml maxUploadSize = 50 (MB)
IDENTITY_UPLOAD_LIMIT = 3_000         # without features: one-hot ids up to here, degree beyond
REAL_SPLIT_CHECK_EDGES = 50_000       # up to here also run the real split (cheap; dense graphs)
SNIFF_LINES = 50                      # data lines looked at to guess the delimiter and header
ID_BATCH = 200_000                    # node ids mapped to positions at a time
EXAMPLES = 5                          # ids quoted in a message
FLOAT32_MAX = float(np.finfo(np.float32).max)  # features are stored and trained as float32
QUOTE_CHARS = 40                      # longer ids are cut short in a message
COMMENT_STARTS = ("#", "%")           # '%' opens comments in KONECT / Matrix Market edge lists
CONTROL_BYTES = frozenset(set(range(32)) - set(b"\t\n\r\x0b\x0c") | {0x7F})
# C0 controls and DEL inside an id: no name holds them, and they would print as nothing.
# (C1 controls stay: a Latin-1 fallback reads them, and its warning says to check names.)
CONTROL_IN_ID = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")  # format chars
DELIMITERS = (("tab", "\t"), ("semicolon", ";"), ("comma", ","))  # in the order _sniff tries them
UPLOAD_ID = re.compile(r"[0-9a-f]{16}")
STORE_FORMAT = 1
# What the Features setting "raw" (as given) trains on, by the featurisation the upload got.
UPLOAD_FEATURES = {"uploaded": "the features file", "identity": "one-hot ids (no features file)",
                   "degree": "degree features (no features file)"}
HEADER_WORDS = {"source", "target", "src", "dst", "from", "to", "node", "nodes", "id", "ids",
                "vertex", "head", "tail", "name", "label", "labels", "class", "community",
                "group", "category", "weight", "feature", "features"}
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # finite, as written in a file
EMPTY_ROW_CHARS = ',;\t "'
ENDPOINT_WORDS = {"source", "src", "from", "target", "dst", "to", "head", "tail"}
COMMENT_HINT = "lines starting with '#' or '%' are comments; quote node names that start so"
MARKUP = re.compile(r"<(!doctype|\?xml|html|graphml|gexf|svg)", re.IGNORECASE)
BINARY_SIGNATURES = {b"PK\x03\x04": "a ZIP archive or an Excel workbook (save it as CSV)",
                     b"\x1f\x8b": "a gzip-compressed file (unpack it first)",
                     b"%PDF": "a PDF document",
                     b"\x89PNG": "a PNG image",
                     b"\xd0\xcf\x11\xe0": "an old Excel / Office file (save it as CSV)",
                     b"SQLite format 3\x00": "an SQLite database (export the edge table as CSV)",
                     b"PAR1": "a Parquet file (write it with to_csv)",
                     b"\x93NUMPY": "a NumPy array file (write it with numpy.savetxt)",
                     b"\x89HDF": "an HDF5 file (export the table as CSV)",
                     b"\x7fELF": "a program, not data"}


class UploadError(ValueError):
    """An upload that cannot be used: `.message` says what is wrong, `.file` which file
    ("edges", "features" or "labels"), `.line` where (1-based, or None)."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.message, self.file, self.line = message, file, line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file} file" if self.file else ""
        if self.line is not None:
            where += f", line {self.line}" if where else f"line {self.line}"
        return f"{where}: {self.message}" if where else self.message


@dataclass
class ParsedUpload:
    graph: Graph    # ready to train: features chosen, labels as class ids
    report: dict    # plain numbers and sentences for a preview (see `parse_upload`)


# ------------------------------------------------------------------------- text
def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 2**20 else f"{n / 2**20:.1f} MB".replace(".0 MB", " MB")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes, file: str, max_bytes: int) -> tuple[str, str, str | None]:
    """The text of an uploaded file, the encoding it was read with, and a warning when
    that is not UTF-8."""
    if len(data) > max_bytes:
        size, limit = _size(len(data)), _size(max_bytes)
        if size == limit:  # rounding hid the difference
            size, limit = f"{len(data):,} bytes", f"{max_bytes:,} bytes"
        raise UploadError(f"the file is {size}, over the {limit} upload limit", file)
    if not data.strip():
        raise UploadError("the file is empty", file)
    data = data.rstrip(b"\x1a")  # the end-of-file mark of old DOS / Windows tools
    for bom, codec, name in ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
                             (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
                             (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
                             (codecs.BOM_UTF16_BE, "utf-16", "UTF-16")):
        if data.startswith(bom):  # UTF-32 first: its little-endian mark starts like UTF-16's
            try:
                return _text_only(data.decode(codec), file), name, None
            except UnicodeDecodeError:
                raise UploadError(f"the file starts like {name} text but does not decode as "
                                  f"{name}; save it as UTF-8", file) from None
    _refuse_binary(data, file)
    try:
        return data.decode("utf-8-sig"), "UTF-8", None
    except UnicodeDecodeError as exc:
        # Not UTF-8 but no binary signs: most likely a Windows / Latin-1 export. Windows-1252
        # is Latin-1 with printable quotes and dashes in 0x80-0x9F; Latin-1 decodes any byte.
        where = f"byte 0x{exc.object[exc.start]:02X} on line {_line_of(data, exc.start)}"
        body = data.removeprefix(codecs.BOM_UTF8)  # a UTF-8 mark on a file that is not UTF-8
        for codec, name in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
            try:
                text = body.decode(codec)
            except UnicodeDecodeError:
                continue
            warning = (f"The {file} file is not UTF-8 ({where}): read as {name}. Check that "
                       "node names look right, or save the file as UTF-8.")
            return text, name, warning
        raise AssertionError("Latin-1 decodes every byte")


def _text_only(text: str, file: str) -> str:
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UploadError("not a text file (it contains NUL characters)", file, line)
    return text


def _refuse_binary(data: bytes, file: str) -> None:
    """Refuse archives, images and other non-text bytes, naming the first bad line."""
    for signature, what in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise UploadError(f"not a text file: it looks like {what}", file)
    head = data[:4096]
    control = [i for i, b in enumerate(head) if b in CONTROL_BYTES]
    nul = data.find(b"\x00")
    if nul < 0 and len(control) <= len(head) // 100:  # a stray control byte is tolerated
        return
    hint = "upload a plain-text CSV, TSV or whitespace-separated file"
    if nul >= 0 and _looks_like_utf16(head):
        hint = "it looks like UTF-16 text without a byte-order mark; save it as UTF-8"
    offset = nul if nul >= 0 else control[0]
    kind = "NUL" if offset == nul else "control"
    raise UploadError(f"not a text file (byte {offset + 1} is a {kind} byte); {hint}",
                      file, _line_of(data, offset))


def _looks_like_utf16(head: bytes) -> bool:
    """ASCII text in UTF-16 has a NUL in every other byte, and printable text in the others
    (a database or an image has runs of NULs in both)."""
    even, odd = head[0::2], head[1::2]
    for zeros, text in ((odd, even), (even, odd)):
        printable = sum(32 <= b < 127 or b in b"\t\n\r" for b in text)
        if len(head) >= 4 and zeros.count(0) > 0.9 * len(zeros) and printable > 0.9 * len(text):
            return True
    return False


def _data_lines(text: str, comments: list | None = None):
    """(line number, stripped line) for every line that is neither blank nor a comment;
    comment lines after the first data line go to `comments`, as (number, line). A line of
    only delimiters is blank: spreadsheets export an empty row as ',,'.
    Universal newlines: \\n, \\r\\n and \\r all end a line, so line numbers match an editor."""
    started = False
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        stripped = line.strip()
        if stripped.startswith(COMMENT_STARTS):
            if started and comments is not None:
                comments.append((number, stripped))
        elif stripped.strip(EMPTY_ROW_CHARS):
            started = True
            yield number, stripped


def _refuse_markup(sample: list[tuple[int, str]], file: str) -> None:
    """HTML, XML (GraphML, GEXF) and JSON are text but not tables: say what they look like."""
    number, line = sample[0]
    advice = ("export the graph as a CSV or TSV edge list, one edge per line" if file == "edges"
              else f"save the {file} as a CSV or TSV table, one node per line")
    if MARKUP.match(line):
        raise UploadError(f"this looks like HTML or XML (GraphML and GEXF are not read), not a "
                          f"table; {advice}", file, number)
    if line.startswith(("{", "[[", "[{", '["')) or line == "[" or (line.startswith("[") and line.endswith("]")):
        raise UploadError(f"this looks like JSON (or JSON lines such as [0, 1]), not a table; {advice}",
                          file, number)


# ------------------------------------------------------------------ delimiters
@dataclass
class _Splitter:
    """Splits a line into stripped fields on one delimiter, or on runs of whitespace."""
    name: str                 # "tab", "comma", "semicolon" or "whitespace"
    delimiter: str | None
    file: str                 # "edges", "features" or "labels", for messages
    skip: int = 0             # leading columns to drop (a pandas row index)

    def __call__(self, line: str, number: int) -> list[str]:
        return self._fields(line, number)[self.skip:]

    def _fields(self, line: str, number: int) -> list[str]:
        if self.delimiter is None:
            if '"' not in line:
                return line.split()
            # quoted names may hold spaces: csv splits on single spaces outside quotes
            return self._quoted(line.replace("\t", " "), " ", number)
        if '"' in line:  # quoted names may hold the delimiter; csv knows the quoting rules
            fields = self._quoted(line, self.delimiter, number)
        else:
            fields = line.split(self.delimiter)
        fields = [f.strip() for f in fields]
        while fields and not fields[-1]:  # spreadsheets often write trailing delimiters
            fields.pop()
        return fields

    def _quoted(self, line: str, delimiter: str, number: int) -> list[str]:
        """csv's reading of a line with quotes; an opening quote never closed is refused
        (csv would swallow the rest of the line into one name)."""
        try:
            return next(csv.reader([line], delimiter=delimiter, skipinitialspace=delimiter == " ",
                                   strict=True))
        except csv.Error as exc:
            if "unexpected end of data" not in str(exc):  # a stray quote mid-name: read leniently
                return next(csv.reader([line], delimiter=delimiter,
                                       skipinitialspace=delimiter == " "))
        raise UploadError(f"a double quote opens a name that is never closed ({_short(line)}); "
                          'close it, or write a quote inside a quoted name as two ("")',
                          self.file, number)

    def number(self, text: str) -> float:
        """float(text); semicolon-separated files (European CSV) may use a decimal comma."""
        if self.delimiter == ";":
            text = text.replace(",", ".")
        return float(text)


def _sniff(sample: list[tuple[int, str]], file: str) -> _Splitter:
    """The delimiter most sample lines contain outside quotes (tab, then semicolon, then
    comma), else whitespace. Semicolon before comma: a European CSV separates with ';' and
    writes decimal commas. csv.Sniffer guesses poorly on short numeric lines, so the rule
    is explicit."""
    unquoted = [re.sub(r'"[^"]*"', "", line) for _, line in sample]
    share = {name: sum(delimiter in line for line in unquoted) / max(len(unquoted), 1)
             for name, delimiter in DELIMITERS}
    for name, delimiter in DELIMITERS:
        if share[name] >= 0.8:
            return _Splitter(name, delimiter, file)
    # A short file with one bad line ('a,b', 'c,d', 'lonely'): still read with the delimiter
    # most lines use, so the message points at the bad line, not at every good one.
    name, delimiter = max(DELIMITERS, key=lambda c: share[c[0]])  # first of equals: priority order
    if share[name] > 0.5:
        return _Splitter(name, delimiter, file)
    return _Splitter("whitespace", None, file)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header_like(field: str, digits: bool = False) -> bool:
    """A column name such as 'source', 'node_id' or 'Label': a known word and, unless
    `digits`, no digits ('node1' could as well be a node)."""
    return (digits or not any(c.isdigit() for c in field)) and any(
        word in HEADER_WORDS for word in re.split(r"[^a-z]+", field.lower()))


def _count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 edge', '2 edges', '1,204 self-loops'."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def _short(text: str) -> str:
    """repr(text), cut short: a message should not quote a megabyte-long id."""
    if len(text) <= QUOTE_CHARS:
        return repr(text)
    return repr(text[:QUOTE_CHARS])[:-1] + f"...' ({len(text):,} characters)"


def _quote(fields: list[str], limit: int = 4) -> str:
    shown = ", ".join(map(_short, fields[:limit]))
    return shown + (", ..." if len(fields) > limit else "")


def _examples(ids: list[str]) -> str:
    shown = ", ".join(map(_short, ids[:EXAMPLES]))
    return shown + (f" and {len(ids) - EXAMPLES} more" if len(ids) > EXAMPLES else "")


# ------------------------------------------------------------------ numeric ids
# Node ids and labels are text, matched exactly as written in every file: '7', '007' and
# '7.0' are three ids. These helpers find such look-alikes to warn about or hint at.
CANONICAL_INT = re.compile(r"-?[1-9]\d*|0")


def _number_key(text: str) -> str | None:
    """The number a numeric id stands for ('007', '7.0', '+7', '7e0' -> '7'), else None."""
    if CANONICAL_INT.fullmatch(text):  # the common case, and its own key
        return text
    if not NUMBER.fullmatch(text):
        return None
    value = Decimal(text)
    if value == value.to_integral_value() and value.adjusted() < 1000:
        return str(int(value))  # also '0' for '-0' and '0.0'
    return str(value.normalize(Context(prec=len(text) + 2)))


def _twins(names: list[str], key) -> list[tuple[str, str]]:
    """Pairs (first, other) of distinct names with the same key (None: no key)."""
    first_of, twins = {}, []
    for name in dict.fromkeys(names):
        name_key = key(name)
        if name_key is not None and first_of.setdefault(name_key, name) != name:
            twins.append((first_of[name_key], name))
    return twins


def _numeric_twins(names: list[str]) -> list[tuple[str, str]]:
    """Pairs (first, other) of distinct names that stand for the same number."""
    return _twins(names, _number_key)


def _lookalike_key(name: str) -> str:
    """What a reader sees: NFKC-normalised, without invisible format characters."""
    return name if name.isascii() else INVISIBLE.sub("", unicodedata.normalize("NFKC", name))


def _lookalikes(names: list[str]) -> list[tuple[str, str]]:
    """Pairs of distinct ids that print alike (a zero-width space, 'é' composed or not)."""
    return [] if all(map(str.isascii, names)) else _twins(names, _lookalike_key)


def _lookalike_sentence(twins: list[tuple[str, str]]) -> str:
    shown = "; ".join(f"{ascii(a)} and {ascii(b)}" for a, b in twins[:3])
    more = f" and {len(twins) - 3} more pairs" if len(twins) > 3 else ""
    return (f"Some node ids look the same but differ in invisible characters or in how accents "
            f"are encoded (Unicode normalisation), shown here with escapes: {shown}{more}. They "
            "are different nodes; if they are the same node, write them the same way.")


def _twins_sentence(twins: list[tuple[str, str]], what: str, plural: str) -> str:
    shown = "; ".join(f"{_short(a)} and {_short(b)}" for a, b in twins[:3])
    more = f" and {len(twins) - 3} more pairs" if len(twins) > 3 else ""
    return (f"Some {plural} look like the same number written differently ({shown}{more}): "
            f"they are different {plural}, because {plural} are compared as text, exactly as "
            f"written. If they are the same {what}, write them the same way in every file.")


def _twin_hint(name: str, known) -> str:
    """'; the graph has '7' (ids are matched as text)' when `name` is another spelling of a
    known id, else ''."""
    key = _number_key(name)
    if key is None:
        return ""
    twin = next((k for k in known if _number_key(k) == key), None)
    return ("" if twin is None else
            f"; the graph has {_short(twin)}: ids are matched as text, exactly as written")


# ----------------------------------------------------------------------- edges
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


def _refuse_control(names: list[str], text: str, file: str, what: str) -> None:
    """Refuse ids or labels holding a control character, naming the first one and its line."""
    found = CONTROL_IN_ID.search("\n".join(names))
    if found is None:
        return
    name = next(n for n in names if CONTROL_IN_ID.search(n))
    line = text.count("\n", 0, max(text.find(name), 0)) + 1
    raise UploadError(f"the {what} {_short(name)} holds a control character "
                      f"(U+{ord(found.group()):04X}), which prints as nothing; remove it",
                      file, line)


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


# -------------------------------------------------------------------- features
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


# ---------------------------------------------------------------------- labels
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


# --------------------------------------------------------------------- parsing
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


# ----------------------------------------------------------------- storage
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
