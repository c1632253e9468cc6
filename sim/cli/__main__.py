"""``python -m sim.cli``: the command line, as the ``alliance-sim`` script runs it."""

import sys

from sim.cli import main

sys.exit(main())
