"""The ``alliance-sim`` console script: :func:`sim.cli.main`, with an interrupt while the command
line itself is being loaded answered like any other (one line, exit code 130) rather than with a
traceback."""

from __future__ import annotations

import sys

from sim.errors import EXIT_INTERRUPTED


def main() -> int:
    """Load the command line and run the command of ``sys.argv``."""
    try:
        from sim.cli import main as command
    except KeyboardInterrupt:
        print("alliance-sim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return command()
