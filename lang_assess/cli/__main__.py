"""``python -m lang_assess.cli``."""

from lang_assess.cli import main

raise SystemExit(main())
