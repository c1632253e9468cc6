"""History: ``score``, ``calibrate``, ``backtest``, ``identify`` and ``run --from-observations``.

Each command reads an observations file and runs the scenario's prior ensemble against the dated
record (or assimilates it date by date: ``--method smc``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli import options
from sim.errors import EXIT_OK
from sim.files import all_or_nothing
from sim.present import text
from sim.vocabulary import DEFAULT_DTYPE

COMMANDS = ("score", "calibrate", "backtest", "identify")

# The options of `run` that a continuation of a calibration's posterior draws does not use: it
# continues them as they are (their draws, states, chunking).
_NOT_WITH_PROJECTION = (
    "resume",
    "force",
    "trajectories",
    "point",
    "replicates",
    "chunk_size",
    "scheduler",
    "scheduler_timeout",
    "why",
    "set",
)


def register(sub) -> None:
    """Add the group's commands to the sub-parsers ``sub``."""
    _register_score(sub)
    _register_calibrate(sub)
    _register_backtest(sub)
    _register_identify(sub)


def _register_score(sub) -> None:
    """``score``: rank scenarios by the probability each gave the record."""
    p = options.command(
        sub,
        "score",
        cmd_score,
        "rank scenarios by the probability each gave the observed record (log scores, Bayes factors)",
    )
    options.add_engine(p)
    p.add_argument(
        "--method",
        choices=["prior", "smc"],
        default="prior",
        help="the evidence by the prior replicates' mean likelihood (default) or by sequential "
        "Monte Carlo (for informative records)",
    )
    _add_particles(p)
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


def _register_calibrate(sub) -> None:
    """``calibrate``: condition a scenario on the record and write its posterior."""
    p = options.command(
        sub,
        "calibrate",
        cmd_calibrate,
        "condition a scenario's ensemble on dated observations (ABC rejection or sequential Monte Carlo) "
        "and write the posterior as a scenario",
    )
    options.add_engine(p)
    _add_method(p)
    options.add_scenario(p)
    _add_observations(p)
    options.add_set(p)
    options.add_replicates(p, "prior replicates (default 50000)")
    options.add_seed(p)
    p.add_argument(
        "--min-accepted",
        type=options.positive_int,
        default=None,
        help="refuse below this many effective posterior draws (default 200)",
    )
    options.add_workers(p)
    _add_exclude(p, "leave out an observation (repeatable), to see what it does")
    options.add_output(p, "results/<name>-calibrated", force="a calibration")
    options.add_progress(p)
    options.add_report_switch(p, "do not write report.html (with the projection to the scenario's horizon)")


def _register_backtest(sub) -> None:
    """``backtest``: calibrate up to a date and score the predictions of what came after."""
    p = options.command(
        sub,
        "backtest",
        cmd_backtest,
        "calibrate on the readings up to a date, predict the later ones, and score the predictions against "
        "the prior and persistence",
    )
    options.add_engine(p)
    _add_method(p)
    options.add_scenario(p)
    _add_observations(p)
    p.add_argument(
        "--until", type=options.date, required=True, help="the last date calibrated on (YYYY-MM-DD)"
    )
    options.add_replicates(p, "prior replicates (default 50000)")
    options.add_seed(p)
    options.add_workers(p)
    options.add_output(
        p,
        "print the tables only",
        force="a backtest",
        what="folder for backtest.csv, backtest_readings.csv and report.html",
    )
    options.add_progress(p)


def _register_identify(sub) -> None:
    """``identify``: how far the record's readings, were they exact, could narrow each value."""
    p = options.command(
        sub,
        "identify",
        cmd_identify,
        "before calibrating: how far the record's readings, were every one exact, could narrow each "
        "uncertain value (posterior sd over prior sd at best, and how often the mean moves toward the truth)",
    )
    options.add_engine(p)
    options.add_scenario(p)
    _add_observations(p)
    options.add_set(p)
    options.add_replicates(p, "prior replicates (default 20000)", default=20_000)
    options.add_seed(p, "seed (default 0)", default=0)
    options.add_workers(p)
    p.add_argument(
        "--values",
        type=options.name_list,
        default=None,
        metavar="PATH,...",
        help="the uncertain values to show, by path (default: the mechanisms' coefficients and the five "
        "values the record narrows most)",
    )
    _add_exclude(p, "leave out an observation (repeatable)")
    options.add_progress(p)


def _add_exclude(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--exclude", action="append", metavar="ID", default=None, help=help)


def _add_method(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--method",
        choices=["auto", "rejection", "smc"],
        default="auto",
        help="rejection (whole replicates weighed by the whole record), smc (assimilated date by "
        "date, for informative records) or auto (default: a pilot chooses, and says why)",
    )
    _add_particles(p)


def _add_particles(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--particles", type=options.positive_int, default=None, help="smc: parameter particles (default 400)"
    )


def _check_particles(args: argparse.Namespace) -> None:
    """``--particles`` configures sequential Monte Carlo only: refused with a method that has none."""
    if args.particles is not None and args.method in ("prior", "rejection"):
        raise options.UsageError(
            "--particles sets the particles of sequential Monte Carlo; it does not apply to "
            f"--method {args.method}"
        )


def _add_observations(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--observations", type=Path, required=True, help="observations file (e.g. seeds/observations.toml)"
    )


@all_or_nothing()  # a failure leaves none of its files
def cmd_score(args: argparse.Namespace) -> int:
    """`score`: rank scenarios by the probability each gave the record."""
    from sim.analysis.calibration import score_scenarios

    _check_particles(args)
    for scenario in args.scenarios:
        options.check_history(scenario, args.observations, args.replicates, "score")
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
        method=args.method,
        particles=args.particles,
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


@all_or_nothing()  # a failure leaves none of its files
def cmd_calibrate(args: argparse.Namespace) -> int:
    """`calibrate`: condition a scenario on observations and write the posterior."""
    from sim.analysis.calibration import DEFAULT_REPLICATES, MIN_ACCEPTED, calibrate

    _check_particles(args)
    options.check_history(
        args.scenario, args.observations, args.replicates or DEFAULT_REPLICATES, "calibrate"
    )
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
        method=args.method,
        particles=args.particles,
        say=print,
        values=options.set_values(args),
    )
    print(text.calibration(cal))
    print(text.posterior_written(out))
    if not args.no_report:
        from sim.analysis.calibration import project
        from sim.present.calibration_pages import write_history_report

        proj = project(out, workers=args.workers, engine=args.engine)
        print(proj.sentence())
        print(text.written({"report": write_history_report(cal, out / "report.html", projection=proj)}))
    return EXIT_OK


def cmd_project(args: argparse.Namespace) -> int:
    """`run --from-observations`: continue a calibration's posterior draws; the same full report as
    `run` (fates, who stabs whom, figures) and the page of the view from today."""
    from sim.analysis.calibration import project
    from sim.analysis.projection import projected_results

    options.refuse(
        args,
        _NOT_WITH_PROJECTION,
        "with --from-observations (it continues the posterior draws of the calibration as they are)",
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
        dtype=args.dtype or DEFAULT_DTYPE,
        workers=args.workers,
        progress=not args.no_progress,
        engine=args.engine,
    )
    print(text.projection(proj))
    results = projected_results(proj)
    print(text.run_summary(results))
    written: dict[str, object] = {"projection": out}
    if not args.no_report:
        from sim.present.report import write_report
        from sim.present.view_from_today import write_projection_report

        written["report"] = write_report([results], out / "report.html")
        if proj.alliance:  # the page of one alliance's fate from today
            written["view from today"] = write_projection_report(proj, out / "today.html", str(folder))
    print(text.written(written))
    return EXIT_OK


@all_or_nothing()  # a failure leaves none of its files
def cmd_backtest(args: argparse.Namespace) -> int:
    """`backtest`: calibrate up to a date, predict the later readings, score against baselines."""
    from sim.analysis.backtest import backtest
    from sim.analysis.calibration import DEFAULT_REPLICATES

    _check_particles(args)
    options.check_history(args.scenario, args.observations, args.replicates or DEFAULT_REPLICATES, "backtest")
    if args.out:
        options.hold(args.out, own="backtest.csv", force=args.force, what="a backtest")
    bt = backtest(
        args.scenario,
        args.observations,
        args.until,
        replicates=args.replicates,
        seed=args.seed,
        method=args.method,
        particles=args.particles,
        workers=args.workers,
        engine=args.engine,
        progress=not args.no_progress,
        say=print,
    )
    print(text.backtest(bt))
    if args.out:
        from sim.files import atomic_write
        from sim.present.calibration_pages import write_backtest_report

        atomic_write(bt.readings.to_csv, args.out / "backtest_readings.csv", index=False)
        atomic_write(bt.table.to_csv, args.out / "backtest.csv", index=False)
        tables = f"{args.out / 'backtest.csv'}, {args.out / 'backtest_readings.csv'}"
        print(text.written({"tables": tables, "report": write_backtest_report(bt, args.out / "report.html")}))
    return EXIT_OK


def cmd_identify(args: argparse.Namespace) -> int:
    """`identify`: what the record could tell of each value, were every reading exact."""
    from sim.analysis.identifiability import reach_of

    options.check_history(args.scenario, args.observations, args.replicates, "identify")
    reach = reach_of(
        args.scenario,
        args.observations,
        values=options.set_values(args),
        exclude=args.exclude,
        replicates=args.replicates,
        seed=args.seed,
        workers=args.workers,
        engine=args.engine,
        progress=not args.no_progress,
        show=args.values,
    )
    print(text.reach(reach, args.values))
    return EXIT_OK
