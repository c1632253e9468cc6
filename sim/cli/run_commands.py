"""Running and reports: ``run``, ``compare``, ``report``, ``verify``, ``export``, ``index``."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from sim.cli import options
from sim.cli.options import UsageError
from sim.errors import EXIT_OK, AllianceError, RunError
from sim.files import all_or_nothing
from sim.present import text
from sim.vocabulary import DEFAULT_DTYPE

COMMANDS = ("run", "compare", "report", "verify", "export", "index")


def register(sub) -> None:
    """Add the group's commands to the sub-parsers ``sub``."""
    p = options.command(sub, "run", cmd_run, "run the replicates of a scenario and write a result directory")
    options.add_scenario(p)
    options.add_run_options(p)
    options.add_set(p)
    options.add_output(p, "results/<name>", force="results", what="result directory")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    p.add_argument("--trajectories", action="store_true", help="keep full tie trajectories (small runs)")
    options.add_report_switch(p, "do not write the HTML report")
    p.add_argument(
        "--from-observations",
        action="store_true",
        help="continue the accepted "
        "replicates of the calibration beside SCENARIO (posterior.toml) from their states "
        "at the last observation; -t sets how many steps, --until the date to reach",
    )
    p.add_argument(
        "--until", type=options.date, help="with --from-observations: the date to run to (YYYY-MM-DD)"
    )

    p = options.command(sub, "compare", cmd_compare, "run several scenarios and write a comparison report")
    options.add_scenario(p, "scenarios", nargs="+")
    options.add_run_options(p)
    options.add_set(p, "every scenario")
    options.add_output(p, "results/<A>-vs-<B>", what="folder for the runs and the report")
    p.add_argument(
        "--force",
        action="store_true",
        help="rerun even where matching results exist, and replace a comparison already in --out",
    )

    p = options.command(sub, "report", cmd_report, "write the HTML report of one or more result directories")
    p.add_argument("results", type=Path, nargs="+")
    options.add_output(p, "<first dir>/report.html", what="HTML file")
    p.add_argument("--force", action="store_true", help="replace an existing file that is not a report")
    options.add_progress(p)

    p = options.command(
        sub,
        "verify",
        cmd_verify,
        "check result folders: the manifest, every file's checksum, the row count, and a re-run of the "
        "first and last chunks",
    )
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--no-replay", action="store_true", help="do not re-run the first and last chunks")

    p = options.command(
        sub,
        "export",
        cmd_export,
        "write a result folder's replicate table as CSV (a spreadsheet, R) or plain Parquet, row group "
        "by row group",
    )
    p.add_argument("results", type=Path, help="a folder written by run or experiment")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_const", const="csv", dest="format", help="CSV (the default)")
    form.add_argument("--parquet", action="store_const", const="parquet", dest="format", help="plain Parquet")
    p.add_argument(
        "--columns",
        type=options.name_list,
        action="extend",
        metavar="NAME,...",
        help="only these columns (names or patterns such as 'fate:*,param:*'; default: all)",
    )
    options.add_output(p, "RESULTS/export.csv (or .parquet); - for standard output", what="file")
    p.add_argument("--force", action="store_true", help="replace a file that is not an export")
    options.add_progress(p)

    p = options.command(
        sub,
        "index",
        cmd_index,
        "write one page linking every result folder's report under a folder, with its scenario, date, "
        "replicates, status and headline answer",
    )
    p.add_argument("folder", type=Path, nargs="?", default=Path("results"), help="default: results/")
    options.add_output(p, "FOLDER/index.html", what="page")


def cmd_run(args: argparse.Namespace) -> int:
    """`run`: one scenario's ensemble, its summary and report."""
    if args.from_observations:
        from sim.cli.history_commands import cmd_project

        return cmd_project(args)
    if args.until is not None:
        raise UsageError("--until applies with --from-observations only")
    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    from sim.run.ensemble import run_ensemble
    from sim.run.lanes import cores, side_by_side
    from sim.run.store import load_results

    out = args.out or options.results_folder(args.scenario.stem)
    options.hold(out)  # one writer per folder, for the life of the command

    def run(_: int):
        return run_with_executor(
            args,
            run_ensemble,
            args.scenario,
            out=out,
            resume=args.resume,
            force=args.force,
            trajectories=args.trajectories,
            **run_settings(args),
        )

    # with a page to write and a core to spare, the run goes to a process of its own while this
    # one loads what the page needs
    away = not args.no_report and args.scheduler is None and cores() > 1
    meanwhile = None if args.no_report else _load_report
    with finishing_hint():
        results = side_by_side([0], run, lambda _: load_results(out), 1, meanwhile=meanwhile, away=away)[0]
    if not args.no_report:  # the summary and the page from one read of the table
        from sim.analysis.digest import digested

        results = digested(results)
    print(text.run_summary(results))
    if not args.no_report:
        from sim.present.report import write_report

        print(
            text.written(
                {"report": write_report([results], out / "report.html", progress=not args.no_progress)}
            )
        )
    return EXIT_OK


def _load_report() -> None:
    """Load what a report needs (its modules, matplotlib's canvas and font list)."""
    from sim.present.early import EarlyFigures

    EarlyFigures.prepare()


def cmd_compare(args: argparse.Namespace) -> int:
    """`compare`: several scenarios (finished results reused) and one comparison report."""
    from sim.analysis.compare import compare, run_folders
    from sim.present.early import EarlyFigures

    out = args.out or options.results_folder("-vs-".join(run_folders(args.scenarios)))
    options.hold(out, own=("report.html", "*/manifest.json"), force=args.force, what="a comparison")
    early = EarlyFigures()  # each scenario's part of the report made as its run finishes
    try:  # stopped, the comparison is finished by the same command (it resumes its runs)
        with finishing_hint(lambda resume: comparison_command(args.scenarios, out, resume)):
            comparison = run_with_executor(
                args,
                compare,
                args.scenarios,
                out,
                force=args.force,
                on_run=early.start,
                meanwhile=early.prepare,  # the report's modules loaded while the runs go on
                **run_settings(args),
            )
        from sim.present.report import write_report

        runs = [early.runs[k] for k in range(len(comparison.runs))]  # summaries and page from one read each
        for run, reused, resumed in zip(runs, comparison.reused, comparison.resumed):
            if reused:
                print(text.reused(run.name, run.directory))
            elif resumed:
                print(text.resumed(run.name, run.directory))
        for run in runs:
            print(text.run_summary(run))
        for d in comparison.differences():
            print(text.differences(d.base.name, d.other.name, d.alliance, d.table, d.unpaired_because))
        page = write_report(runs, out / "report.html", progress=not args.no_progress, early=early)
    finally:
        early.close()
    print(text.written({"report": page}))
    return EXIT_OK


@all_or_nothing()  # a failure leaves none of its files
def cmd_report(args: argparse.Namespace) -> int:
    """`report`: an HTML report of finished result directories."""
    from sim.present.page import is_page
    from sim.present.report import write_report
    from sim.run.folders import kind_of
    from sim.run.integrity import refuse_overwrite
    from sim.run.store import load_results

    for d in args.results:
        if kind_of(d) == "experiment":  # a run's report would pool its points as one scenario
            raise UsageError(
                f"{d}: an experiment folder; its page is {d / 'report.html'}, written by experiment "
                "(read_experiment and write_experiment rewrite it from Python)"
            )
    target = args.out or args.results[0] / "report.html"
    refuse_overwrite(target, force=args.force, ours=is_page, what="a report page")
    options.hold(target.parent)
    runs = [load_results(d) for d in args.results]
    print(text.written({"report": write_report(runs, target, progress=not args.no_progress)}))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    """`verify`: check result folders on demand (:func:`sim.run.integrity.verify`)."""
    from sim.run.integrity import verify

    for folder in args.folders:
        print(text.verified(folder, verify(folder, replay=not args.no_replay)))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """`export`: a replicate table as CSV or Parquet, streamed by row groups."""
    from sim.run.export import STDOUT, export_table
    from sim.run.integrity import refuse_overwrite

    fmt = args.format or "csv"
    out = args.out or args.results / f"export.{fmt}"
    if str(out) != STDOUT:
        if Path(out).resolve() == (args.results / "replicates.parquet").resolve():
            raise UsageError(f"--out {out}: is the folder's own replicate table; expected another file")
        refuse_overwrite(
            Path(out), force=args.force, ours=lambda p: p.name.startswith("export"), what="an export"
        )
    bars: list = []

    def advance(rows: int) -> None:  # the bar starts with the first row group, after the checks
        if not bars:
            from tqdm.auto import tqdm

            from sim.run.export import table_rows

            bars.append(
                tqdm(total=table_rows(args.results), unit="row", desc="export", leave=False, file=sys.stderr)
            )
        bars[0].update(rows)

    quiet = args.no_progress or str(out) == STDOUT
    try:
        done = export_table(
            args.results, out, fmt=fmt, columns=args.columns, progress=None if quiet else advance
        )
    finally:
        for bar in bars:
            bar.close()
    if str(out) != STDOUT:
        print(text.written({f"{done['rows']:,} rows x {done['columns']} columns": done["path"]}))
    return EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    """`index`: one page linking every report under a folder."""
    from sim.present.index_page import write_index

    out = args.out or args.folder / "index.html"
    page, count = write_index(args.folder, out)
    print(text.written({f"index of {count} result folders": page}))
    return EXIT_OK


# -- shared by the commands that run plain ensembles --------------------------------------------


def run_settings(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`sim.run.ensemble.run_ensemble` that the run options set."""
    from sim.run.ensemble import DEFAULT_CHUNK_SIZE

    return {
        "replicates": args.replicates,
        "steps": args.steps,
        "seed": args.seed,
        "chunk_size": args.chunk_size or DEFAULT_CHUNK_SIZE,
        "workers": args.workers,
        "progress": not args.no_progress,
        "point": args.point,
        "dtype": args.dtype or DEFAULT_DTYPE,
        "why": args.why,
        "engine": args.engine,
        "values": options.set_values(args),
    }


def run_with_executor(args: argparse.Namespace, fn, *positional, **kw):
    """``fn(*positional, **kw)`` on the executor ``--scheduler`` asks for (the local pool when
    none), closed afterwards."""
    client, cluster = options.executor(args)
    try:
        return fn(*positional, executor=client.get_executor() if client is not None else None, **kw)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def finishing_hint(finish: Callable[[dict], str] | None = None):
    """Turn a run error that keeps chunks into one that names the command finishing the run
    (``finish(resume)``; by default ``run --resume``)."""
    try:
        yield
    except RunError as e:
        if not e.resume:
            raise
        said = e.with_hint(finish(e.resume) if finish is not None else resume_command(**e.resume))
        said.resume = None  # its way to finish is said: main's with_resume_hint has nothing to add
        raise said from e.__cause__


def with_resume_hint(error: AllianceError) -> AllianceError:
    """``error`` naming the command that finishes its run, when it carries what that takes (an
    interrupted run refused by a reader, say); unchanged otherwise."""
    if not error.resume:
        return error
    try:
        return error.with_hint(resume_command(**error.resume))
    except (KeyError, TypeError, ValueError):  # settings too damaged to rebuild the command
        return error


def resume_command(
    source: Path | None, out: Path, settings: dict, point: bool = False, values: dict | None = None
) -> str:
    """The command that finishes an interrupted run (same scenario, same values set on it, same
    settings), as the user types it (``./alliance`` through the script)."""
    from sim.extras import command

    parts = ["run", str(source) if source else "SCENARIO.toml", "--resume", "--out", str(out)]
    return command(shlex.join(parts + _run_options(settings, point, values)))


def comparison_command(scenarios: list, out: Path, resume: dict) -> str:
    """The command that finishes an interrupted comparison: the same scenarios, folder and run
    settings (``resume`` as one of its runs records them); run again, it keeps what finished."""
    from sim.extras import command

    parts = ["compare", *map(str, scenarios), "--out", str(out)]
    options = _run_options(resume["settings"], resume.get("point", False), resume.get("values"))
    return command(shlex.join(parts + options))


def _run_options(settings: dict, point: bool = False, values: dict | None = None) -> list[str]:
    """The options that give a run exactly these recorded settings and values."""
    from sim.run.ensemble import why_window
    from sim.spec.set_values import assignment_text

    parts = [
        "-n",
        str(settings["replicates"]),
        "-t",
        str(settings["steps"]),
        "--seed",
        str(settings["seed"]),
    ]
    parts += ["--chunk-size", str(settings["chunk_size"])]
    if settings.get("trajectories"):
        parts.append("--trajectories")
    if point:
        parts.append("--point")
    if settings.get("dtype") != DEFAULT_DTYPE:
        parts += ["--dtype", str(settings["dtype"])]
    engine = settings.get("engine", "numpy")
    if engine != "numpy":
        parts += ["--engine", str(engine)]
    if settings.get("why") != why_window(None, settings["replicates"], engine):
        parts.append("--why" if settings.get("why") else "--no-why")
    for path, value in (values or {}).items():
        parts += ["--set", assignment_text(path, value)]
    return parts
