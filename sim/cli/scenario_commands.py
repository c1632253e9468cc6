"""Scenario tools: ``list``, ``show``, ``validate``, ``diff``, ``new``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.cli import options
from sim.cli.options import UsageError
from sim.errors import EXIT_BAD_INPUT, EXIT_OK, InputError
from sim.present import text

COMMANDS = ("list", "show", "validate", "diff", "new")


def register(sub) -> None:
    """Add the group's commands to the sub-parsers ``sub``."""
    p = options.command(sub, "list", cmd_list, "list ready scenarios with their titles")
    p.add_argument("folder", type=Path, nargs="?", default=None)

    p = options.command(
        sub,
        "show",
        cmd_show,
        "print a resolved scenario with the provenance of its values; given a result folder, the "
        "scenario it ran and the code that ran it",
    )
    options.add_scenario(p, "file", help="a scenario file or name, or a result folder")
    options.add_set(p)
    p.add_argument("--point", action="store_true", help="show point values")
    p.add_argument("--wide", "-w", action="store_true", help="never cut rows to the terminal's width")
    options.add_replicates(p, "as for run: the hash printed is then the one a run with this setting records")
    options.add_steps(p, "as for run (changes the hash)")
    options.add_seed(p, "as for run (changes the hash)")

    p = options.command(sub, "validate", cmd_validate, "check scenario files")
    options.add_scenario(p, "files", nargs="+")
    options.add_set(p, "every file")

    p = options.command(
        sub,
        "diff",
        cmd_diff,
        "print the parameters that differ between two scenarios, with their values and claims on each side",
    )
    options.add_scenario(p, "a", help="a scenario file or name, or a result folder")
    options.add_scenario(p, "b", help="a scenario file or name, or a result folder")
    options.add_set(p, "B (diff X X --set P=V shows what a setting changes)")
    p.add_argument("--wide", "-w", action="store_true", help="never cut rows to the terminal's width")

    p = options.command(
        sub, "new", cmd_new, "write a commented starter scenario that extends the shipped baseline"
    )
    p.add_argument("name", type=Path, help="file to write (.toml is added)")
    p.add_argument("--force", action="store_true", help="replace an existing file")


def cmd_list(args: argparse.Namespace) -> int:
    """`list`: the ready scenarios with their titles."""
    from sim.spec.scenario import load_scenario

    folder = args.folder or options.scenarios_folder()
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise UsageError(f"{folder}: no scenario files (*.toml)")
    rows = []
    for f in files:
        try:
            title = load_scenario(f).title or "(untitled)"
        except InputError as e:
            title = f"INVALID: {e}"
        rows.append((f.stem, title))
    print(text.scenario_list(rows))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    """`show`: every parameter of a scenario with its range and claim; for a result folder, the
    scenario it ran and the code that ran it."""
    if args.file.is_dir():
        from sim.present.show import render_results

        options.refuse(
            args,
            ["point", "replicates", "steps", "seed", "set"],
            "to a result folder (it shows the scenario and settings the folder was written with)",
        )
        print(render_results(args.file, wide=args.wide))
        return EXIT_OK
    from sim.present.show import render

    print(
        render(
            args.file,
            point=args.point,
            wide=args.wide,
            replicates=args.replicates,
            steps=args.steps,
            seed=args.seed,
            values=options.set_values(args),
        )
    )
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """`validate`: check scenario files (and that their own runs fit in memory), one line each."""
    from sim.run.collectors import HIST_BINS
    from sim.run.footprint import check_summaries
    from sim.spec.claims import load_claims
    from sim.spec.scenario import load_scenario

    bad = 0
    values = options.set_values(args)
    for f in args.files:
        try:
            s = load_scenario(f, values=values)
            if s.claims:
                load_claims(s.claims)  # the claims a report cites must be readable too
            check_summaries(s, f, HIST_BINS)
        except InputError as e:
            print(f"alliance-sim: error: {e}", file=sys.stderr)
            bad += 1
            continue
        print(text.validated(f, s))
    return EXIT_BAD_INPUT if bad else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    """`diff`: the parameters that differ between two scenarios."""
    from sim.present.show import render_diff

    print(render_diff(args.a, args.b, wide=args.wide, values=options.set_values(args)))
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    """`new`: write a commented starter scenario."""
    from sim.spec.starter import write_starter

    try:
        path = write_starter(args.name, force=args.force)
    except FileExistsError as e:
        raise UsageError(f"{e}: exists already; choose another name or pass --force") from None
    print(text.starter_written(path))
    return EXIT_OK
