"""Which delimiter a table uses (tab, semicolon, comma, else whitespace), splitting a line on
it with csv's quoting rules, and what a header cell looks like."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from .messages import UploadError, _short

SNIFF_LINES = 50                      # data lines looked at to guess the delimiter and header
DELIMITERS = (("tab", "\t"), ("semicolon", ";"), ("comma", ","))  # in the order _sniff tries them
HEADER_WORDS = {"source", "target", "src", "dst", "from", "to", "node", "nodes", "id", "ids",
                "vertex", "head", "tail", "name", "label", "labels", "class", "community",
                "group", "category", "weight", "feature", "features"}


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
