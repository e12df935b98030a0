"""`python -m argae_core ...`: the `argae` command (see `argae_core.launch`, `argae_core.cli`)."""
from .launch import main

raise SystemExit(main())
