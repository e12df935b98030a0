"""Where the engine keeps data, caches and runs when no environment variable says.

In a source checkout (the folder holding `app.py` beside `argae_core/`) that is the checkout,
as it always was; for a `pip install .` copy in site-packages it is the current working
directory, never site-packages itself.
"""
from __future__ import annotations

from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def project_dir() -> Path:
    """The checkout, or the current directory for an installed copy."""
    if (_SOURCE_ROOT / "app.py").is_file() and (_SOURCE_ROOT / "argae_core").is_dir():
        return _SOURCE_ROOT
    return Path.cwd()
