"""`python -m chatops` is the `chatops` command."""

from chatops.cli import main

raise SystemExit(main())
