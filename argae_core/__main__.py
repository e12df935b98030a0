"""`python -m argae_core ...`: see `argae_core.cli`."""
import sys

if sys.argv[1:2] == ["warm"]:   # light: no torch (a server starts it beside its first pages)
    from .warm import main
    raise SystemExit(main(sys.argv[2:]))
from .cli import main  # noqa: E402

raise SystemExit(main())
