"""History: ``score``, ``calibrate``, and ``run --from-observations``.

Each command reads an observations file and runs the scenario's prior ensemble against the dated
record; a method of calibration or a backtest joins the group as one more ``register`` entry and
handler here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli import options
from sim.errors import EXIT_OK
from sim.present import text

COMMANDS = ("score", "calibrate")

# The options of `run` that a continuation of a calibration's accepted replicates does not use:
# it continues them as they are (their draws, states, chunking and engine).
_NOT_WITH_PROJECTION = (
    "resume",
    "force",
    "trajectories",
    "point",
    "replicates",
    "chunk_size",
    "scheduler",
    "engine",
    "why",
    "set",
)


def register(sub) -> None:
    """Add the group's commands to the sub-parsers ``sub``."""
    p = options.command(
        sub,
        "score",
        cmd_score,
        "rank scenarios by the probability each gave the observed record (log scores, Bayes factors)",
    )
    options.add_engine(p)
    options.add_scenario(p, "scenarios", nargs="+")
    _add_observations(p)
    options.add_set(p, "every scenario")
    options.add_replicates(p, "prior replicates per scenario (default 20000)", default=20_000)
    options.add_seed(p, "seed (default 0)", default=0)
    options.add_workers(p)
    p.add_argument(
        "--out",
        "-o",
        type=Path,
        help="folder for scores.csv, predictive.csv (each observation's probability under each scenario) and "
        "report.html (default: print the table only)",
    )
    p.add_argument("--force", action="store_true", help="write into a folder that holds other files")
    options.add_progress(p)

    p = options.command(
        sub,
        "calibrate",
        cmd_calibrate,
        "condition a scenario's ensemble on dated observations (ABC rejection) and write the posterior as a "
        "scenario",
    )
    options.add_engine(p)
    options.add_scenario(p)
    _add_observations(p)
    options.add_set(p)
    options.add_replicates(p, "prior replicates (default 50000)")
    options.add_seed(p)
    p.add_argument(
        "--min-accepted",
        type=options.positive_int,
        default=None,
        help="refuse below this many accepted replicates (default 200)",
    )
    options.add_workers(p)
    p.add_argument(
        "--exclude",
        action="append",
        metavar="ID",
        default=None,
        help="leave out an observation (repeatable), to see what it does",
    )
    options.add_output(p, "results/<name>-calibrated", force="a calibration")
    options.add_progress(p)
    options.add_report_switch(p, "do not write report.html (with the projection to the scenario's horizon)")


def _add_observations(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--observations", type=Path, required=True, help="observations file (e.g. seeds/observations.toml)"
    )


def cmd_score(args: argparse.Namespace) -> int:
    """`score`: rank scenarios by the probability each gave the record."""
    from sim.analysis.calibration import score_scenarios

    if args.out:
        options.hold(args.out, own="scores.csv", force=args.force, what="scores")
    predictive: dict = {}
    table = score_scenarios(
        args.scenarios,
        args.observations,
        replicates=args.replicates,
        seed=args.seed,
        progress=not args.no_progress,
        workers=args.workers,
        predictive=predictive,
        engine=args.engine,
        values=options.set_values(args),
    )
    print(text.scores(table))
    if args.out:
        from sim.files import atomic_write
        from sim.present.calibration_pages import predictive_by_scenario, write_scores_report

        atomic_write(table.to_csv, args.out / "scores.csv", index=False)
        atomic_write(predictive_by_scenario(predictive).to_csv, args.out / "predictive.csv", index=False)
        page = write_scores_report(
            table,
            predictive,
            args.out / "report.html",
            f"{args.observations.name}, {args.replicates:,} replicates per scenario, seed {args.seed}",
        )
        print(
            text.written(
                {"tables": f"{args.out / 'scores.csv'}, {args.out / 'predictive.csv'}", "report": page}
            )
        )
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    """`calibrate`: condition a scenario on observations and write the posterior."""
    from sim.analysis.calibration import DEFAULT_REPLICATES, MIN_ACCEPTED, calibrate

    out = args.out or options.results_folder(args.scenario.stem, "calibrated")
    options.hold(out)  # calibrate itself refuses a folder that holds anything but a calibration
    cal = calibrate(
        args.scenario,
        args.observations,
        replicates=args.replicates or DEFAULT_REPLICATES,
        seed=args.seed,
        out=out,
        min_accepted=args.min_accepted or MIN_ACCEPTED,
        progress=not args.no_progress,
        force=args.force,
        workers=args.workers,
        exclude=args.exclude,
        engine=args.engine,
        values=options.set_values(args),
    )
    print(cal.summary())
    print(text.posterior_written(out))
    if not args.no_report:
        from sim.analysis.calibration import project
        from sim.present.calibration_pages import write_history_report

        proj = project(out)
        print(proj.sentence())
        print(text.written({"report": write_history_report(cal, out / "report.html", projection=proj)}))
    return EXIT_OK


def cmd_project(args: argparse.Namespace) -> int:
    """`run --from-observations`: continue a calibration's accepted replicates."""
    from sim.analysis.calibration import project

    options.refuse(
        args,
        _NOT_WITH_PROJECTION,
        "with --from-observations (it continues the accepted replicates of the calibration as they are)",
    )
    folder = args.scenario if args.scenario.is_dir() else args.scenario.parent
    out = args.out or options.results_folder(folder.name, "from-observations")
    options.hold(out, own="projection.json", force=args.force, what="a projection")
    proj = project(
        args.scenario,
        steps=args.steps,
        until=args.until,
        seed=args.seed,
        out=out,
        dtype=args.dtype or "float32",
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(text.projection(proj))
    written: dict[str, object] = {"projection": out}
    if not args.no_report:
        from sim.present.view_from_today import write_projection_report

        written["report"] = write_projection_report(proj, out / "report.html", str(folder))
    print(text.written(written))
    return EXIT_OK
