"""Files the engine keeps (saved runs, uploads): where they live, and how they are written.

Plain formats only: JSON (numpy numbers and arrays written as plain values), `.npz` of
plain arrays read with `allow_pickle=False`. A file is written to a temporary file in the
same folder, fsynced and renamed over the old one, so a killed process leaves the old or
the new version, never half of one. Torch-free: listing runs must stay light.
"""
from __future__ import annotations

import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent  # the source tree argae_core sits in
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # finite, as written in a file
HIDDEN_PREFIX = "."          # in-progress folders and temp files start with a dot
TEMP_PREFIX = HIDDEN_PREFIX + "tmp-"


def project_dir() -> Path:
    """Where data, caches and runs go by default: the checkout (the folder holding `app.py`
    beside `argae_core/`) as always; for a `pip install .` copy in site-packages, the current
    working directory, never site-packages itself."""
    if (PROJECT_DIR / "app.py").is_file() and (PROJECT_DIR / "argae_core").is_dir():
        return PROJECT_DIR
    return Path.cwd()


def data_dir() -> Path:
    """Where datasets are read from: $ARGAE_DATA_DIR, default <project>/data."""
    return Path(os.environ.get("ARGAE_DATA_DIR", project_dir() / "data")).expanduser()


def cache_dir() -> Path:
    """Writable scratch (processed datasets, uploads): $ARGAE_CACHE_DIR, default <project>/.cache."""
    return Path(os.environ.get("ARGAE_CACHE_DIR", project_dir() / ".cache")).expanduser()


def atomic_write(path: Path, data: bytes) -> None:
    """Write then rename: readers and crashes see the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plain(value: Any) -> Any:
    """A numpy scalar or array as the Python value JSON can hold (json's `default`)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def json_bytes(value: Any, **dumps: Any) -> bytes:
    """`value` as UTF-8 JSON, numpy values included; `dumps` goes to json.dumps."""
    return json.dumps(value, default=plain, **dumps).encode("utf-8")


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """Arrays as an uncompressed .npz (zlib took seconds on big graphs)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, never unpickling; numpy's and zipfile's errors pass through
    for the caller to name in its own words."""
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}
