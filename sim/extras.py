"""The optional parts of alliance-sim (the extras of ``pyproject.toml``) and the commands a user
types: how a missing extra is installed, and how a suggested next command is written.

A user of the repository runs the program through its ``./alliance`` script, which keeps the
environment in ``.venv`` and does not put that environment's ``alliance-sim`` or ``pip`` on the
user's ``PATH``. The script sets :data:`LAUNCHER_ENV` to the command as the user typed it
(``./alliance``, ``../alliance``...); every suggestion then names that command, and otherwise the
console script and pip of an ordinary installation.
"""

from __future__ import annotations

import os

#: set by the ``./alliance`` script to the command the user typed to run it
LAUNCHER_ENV = "ALLIANCE_LAUNCHER"


def launcher() -> str | None:
    """The ``./alliance`` command the program was started through, or None outside it."""
    return os.environ.get(LAUNCHER_ENV) or None


def command(args: str) -> str:
    """The command line that runs ``alliance-sim ARGS`` for this user: ``./alliance ARGS`` when
    the program runs through the script, ``alliance-sim ARGS`` otherwise."""
    return f"{launcher() or 'alliance-sim'} {args}"


def install_hint(extra: str) -> str:
    """How to install the extra ``extra``, naming it as ``alliance-sim[extra]``: through the script
    ``./alliance install extra``, otherwise ``pip install 'alliance-sim[extra]'``."""
    script = launcher()
    if script:
        return f"{script} install {extra} (adds alliance-sim[{extra}] to its environment)"
    return f"pip install 'alliance-sim[{extra}]'"
