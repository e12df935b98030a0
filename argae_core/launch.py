"""The `argae` command and `python -m argae_core`: `warm` runs without importing torch (a
server starts it beside its first pages); everything else is `argae_core.cli`."""
from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:2] == ["warm"]:
        from .warm import main as warm
        return warm(sys.argv[2:])
    from .cli import main as cli_main
    return cli_main()
