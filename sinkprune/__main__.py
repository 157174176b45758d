"""``python -m sinkprune <stage> ...``: the same command line as ``sinkprune`` (see :mod:`sinkprune.cli`)."""

import sys

from sinkprune.cli import main

sys.exit(main())
