"""Bytes to text: size limit, byte-order marks, UTF-8 with a Windows-1252 / Latin-1 fallback,
binary files refused by signature; data lines without comments; markup and control
characters refused."""
from __future__ import annotations

import codecs
import io
import re

from .messages import UploadError, _short

COMMENT_STARTS = ("#", "%")           # '%' opens comments in KONECT / Matrix Market edge lists
CONTROL_BYTES = frozenset(set(range(32)) - set(b"\t\n\r\x0b\x0c") | {0x7F})
# C0 controls and DEL inside an id: no name holds them, and they would print as nothing.
# (C1 controls stay: a Latin-1 fallback reads them, and its warning says to check names.)
CONTROL_IN_ID = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
EMPTY_ROW_CHARS = ',;\t "'
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
