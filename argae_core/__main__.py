"""`python -m argae_core ...`: see `argae_core.cli`."""
from .cli import main

raise SystemExit(main())
