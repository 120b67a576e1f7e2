"""``python -m genlab.core`` is the ``genlab`` command."""

from genlab.core.cli import main

raise SystemExit(main())
