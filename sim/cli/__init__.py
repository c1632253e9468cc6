"""The ``alliance-sim`` command line.

One module per group of commands, each registering its sub-parsers beside their handlers:
running and reports (:mod:`~sim.cli.run_commands`), scenario tools
(:mod:`~sim.cli.scenario_commands`), exploration (:mod:`~sim.cli.explore_commands`), policy
(:mod:`~sim.cli.policy_commands`) and history (:mod:`~sim.cli.history_commands`). The options
they share are declared once (:mod:`~sim.cli.options`). A handler reads the parsed options, calls
the library, and prints what :mod:`sim.present.text` formats: nothing is computed here.

Exit codes: 0 ok, 2 bad input (one line: file, line, field, what was expected), 1 internal error,
130 interrupted (finished chunks kept; ``--resume`` finishes the run).
"""

from __future__ import annotations

import argparse
import errno
import sys

from sim.cli import (
    explore_commands,
    history_commands,
    options,
    policy_commands,
    run_commands,
    scenario_commands,
)
from sim.cli.options import UsageError
from sim.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, AllianceError, printable

__all__ = ["GROUPS", "UsageError", "build_parser", "main"]

#: the groups of commands, in the order ``--help`` lists them
GROUPS = {
    "running and reports": run_commands,
    "scenario tools": scenario_commands,
    "exploration": explore_commands,
    "policy": policy_commands,
    "history": history_commands,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = options.Parser(
        prog="alliance-sim",
        description="Scenario simulator for the stability of alignments between states.",
        epilog="commands by group: "
        + "; ".join(f"{group}: {', '.join(module.COMMANDS)}" for group, module in GROUPS.items()),
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=options.Parser)
    for module in GROUPS.values():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring).

    Called as the process's own command (``argv`` from ``sys.argv``: the ``alliance-sim`` script,
    ``python -m sim.cli``), it freezes the garbage collector's objects once the command is done: the
    process is about to end, and the collections of the interpreter's teardown over everything
    numpy, pandas, pyarrow and numba have built took a quarter of a second of every command (about
    0.05 s when frozen). The objects are still freed and the exit hooks still run, unless the
    compiled kernel is still loading in the background (:func:`sim.run.background.wait_or_exit`).
    The warm pool's workers, idle by then, are killed (:func:`sim.run.executors.shutdown_warm`):
    asked to end, each tore its interpreter down first, and the command waited a quarter of a
    second for them.
    An interrupt before the command's own handling begins (parsing, its first imports) is one
    line and exit code 130 like any other.
    """
    try:
        status = _command(argv)
    except KeyboardInterrupt:  # before the command's own handling began (parsing, its imports)
        print("alliance-sim: interrupted", file=sys.stderr)
        status = EXIT_INTERRUPTED
    if argv is None:
        import gc

        from sim.run.background import wait_or_exit

        wait_or_exit(status)  # a compiled kernel still loading: end here (see there why)
        pool = sys.modules.get("sim.run.executors")
        if pool is not None:  # idle workers are ended now, not asked to end
            pool.shutdown_warm()
        gc.freeze()
    return status


def _command(argv: list[str] | None) -> int:
    """:func:`main`'s work: parse ``argv`` and run the command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK

    def say(text: str) -> None:  # always one line, whatever the message holds, nothing a terminal acts on
        print(printable(" ".join(str(text).split()), newlines=False), file=sys.stderr)

    from sim.run.lock import command_scope

    stdout = sys.stdout
    try:
        options.resolve_scenarios(args)
        warning = options.cap_workers(args)
        if warning:
            say(warning)
        sys.stdout = Terminal(stdout)  # whatever a command prints of a user's text is escaped
        with command_scope():  # the output folders a command holds are let go when it ends
            return args.handler(args)
    except AllianceError as e:  # the error family carries its exit code
        e = run_commands.with_resume_hint(e)
        say(f"alliance-sim: {e.prefix}{e}")
        return e.exit_code
    except KeyboardInterrupt:
        say("alliance-sim: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into a reader that stopped early (e.g. head)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as e:  # noqa: BLE001 - the last line of defence
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:  # every file is written atomically
            say(
                f"alliance-sim: error: {e.filename or 'the output folder'}: {e.strerror}; nothing "
                "was left half-written; free some space and run the command again"
            )
            return EXIT_INTERNAL
        if isinstance(e, OSError) and e.filename:
            say(f"alliance-sim: error: {e.filename}: {e.strerror}")
            return EXIT_BAD_INPUT
        if args.debug:
            raise
        if isinstance(e, MemoryError):
            say(
                "alliance-sim: error: out of memory; use fewer replicates per chunk "
                "(--chunk-size), fewer steps or leave out --trajectories"
            )
            return EXIT_INTERNAL
        say(f"alliance-sim: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)")
        return EXIT_INTERNAL
    finally:
        sys.stdout = stdout


class Terminal:
    """A text stream that writes through :func:`sim.errors.printable`: scenario titles, names and
    labels reach the terminal with their control and invisible characters escaped, whichever
    command prints them."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` escaped; returns the characters taken, as streams do."""
        self.stream.write(printable(text))
        return len(text)

    def writelines(self, lines) -> None:
        """Write each line escaped."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)
