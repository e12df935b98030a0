"""The words of a refusal: `UploadError` (file, line, message), ids quoted short, counts,
and the sentences about ids that look alike (numbers written two ways, invisible characters)."""
from __future__ import annotations

import re
import unicodedata
from decimal import Context, Decimal

from ..storage import PLAIN_NUMBER

EXAMPLES = 5                          # ids quoted in a message
QUOTE_CHARS = 40                      # longer ids are cut short in a message
INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")  # format chars


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


# Node ids and labels are text, matched exactly as written in every file: '7', '007' and
# '7.0' are three ids. These helpers find such look-alikes to warn about or hint at.
CANONICAL_INT = re.compile(r"-?[1-9]\d*|0")


def _number_key(text: str) -> str | None:
    """The number a numeric id stands for ('007', '7.0', '+7', '7e0' -> '7'), else None."""
    if CANONICAL_INT.fullmatch(text):  # the common case, and its own key
        return text
    if not PLAIN_NUMBER.fullmatch(text):
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
