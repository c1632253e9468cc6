"""The ``alliance-sim`` command line.

Exit codes: 0 ok, 2 bad input (one line: file, line, field, what was expected), 1 internal error,
130 interrupted (finished chunks kept; ``--resume`` finishes the run).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from sim.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    AllianceError,
    InputError,
)
from sim.vocabulary import Fate


class UsageError(InputError):
    """Bad command-line input, shown as one line (exit 2)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer below 2^63, got {value}")
    return value


def _date(text: str):
    import datetime

    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--replicates", "-n", type=_positive_int, help="number of replicates "
                   "(default: the scenario's)")
    p.add_argument("--steps", "-t", type=_positive_int, help="steps per replicate (default: the "
                   "scenario's)")
    p.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    p.add_argument("--chunk-size", type=_positive_int, default=None,
                   help="replicates per chunk (default 4096)")
    p.add_argument("--workers", "-j", type=_positive_int, default=None,
                   help="local worker processes (default: all cores)")
    p.add_argument("--scheduler", help="a Dask scheduler address, or 'local' for a LocalCluster "
                   "(needs alliance-sim[dask])")
    p.add_argument("--point", action="store_true", help="use the point value of every uncertain "
                   "parameter instead of sampling")
    p.add_argument("--dtype", choices=["float32", "float64"], default=None,
                   help="precision of the ties (default float32: within 1e-5 of float64)")
    _add_engine_option(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_engine_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=["numpy", "numba"], default="numpy",
                   help="what steps the replicates: numpy (default) or numba, a compiled engine "
                   "about three times faster (needs alliance-sim[fast])")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(prog="alliance-sim", description="Scenario simulator for the stability of "
                     "alignments between states.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("run", help="run the replicates of a scenario and write a result directory")
    p.add_argument("scenario", type=Path)
    _add_run_options(p)
    p.add_argument("--out", "-o", type=Path, help="result directory (default results/<name>)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    p.add_argument("--force", action="store_true", help="replace results already in --out")
    p.add_argument("--trajectories", action="store_true", help="keep full tie trajectories "
                   "(small runs)")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    p.add_argument("--from-observations", action="store_true", help="continue the accepted "
                   "replicates of the calibration beside SCENARIO (posterior.toml) from their states "
                   "at the last observation; -t sets how many steps, --until the date to reach")
    p.add_argument("--until", type=_date, help="with --from-observations: the date to run to "
                   "(YYYY-MM-DD)")

    p = sub.add_parser("calibrate", help="condition a scenario's ensemble on dated observations "
                       "(ABC rejection) and write the posterior as a scenario")
    p.add_argument("scenario", type=Path)
    p.add_argument("--observations", type=Path, required=True, help="observations file "
                   "(e.g. seeds/observations.toml)")
    p.add_argument("--replicates", "-n", type=_positive_int, default=None,
                   help="prior replicates (default 50000)")
    p.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    p.add_argument("--min-accepted", type=_positive_int, default=None,
                   help="refuse below this many accepted replicates (default 200)")
    p.add_argument("--workers", "-j", type=_positive_int, default=1,
                   help="local worker processes (default 1)")
    p.add_argument("--exclude", action="append", metavar="ID", default=None,
                   help="leave out an observation (repeatable), to see what it does")
    p.add_argument("--out", "-o", type=Path, help="folder (default results/<name>-calibrated)")
    p.add_argument("--force", action="store_true", help="replace a calibration already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-report", action="store_true", help="do not write report.html (with the "
                   "projection to the scenario's horizon)")

    p = sub.add_parser("score", help="rank scenarios by the probability each gave the observed "
                       "record (log scores, Bayes factors)")
    p.add_argument("scenarios", type=Path, nargs="+")
    p.add_argument("--observations", type=Path, required=True)
    p.add_argument("--replicates", "-n", type=_positive_int, default=20_000,
                   help="prior replicates per scenario (default 20000)")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--workers", "-j", type=_positive_int, default=1,
                   help="local worker processes (default 1)")
    p.add_argument("--out", "-o", type=Path, help="folder for scores.csv, predictive.csv (each "
                   "observation's probability under each scenario) and report.html")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("compare", help="run several scenarios and write a comparison report")
    p.add_argument("scenarios", type=Path, nargs="+")
    _add_run_options(p)
    p.add_argument("--out", "-o", type=Path, default=Path("results/comparison"),
                   help="folder for the runs and the report (default results/comparison)")
    p.add_argument("--force", action="store_true", help="rerun even where matching results exist")

    p = sub.add_parser("report", help="write the HTML report of one or more result directories")
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--out", "-o", type=Path, help="HTML file (default <first dir>/report.html)")

    p = sub.add_parser("validate", help="check scenario files")
    p.add_argument("files", type=Path, nargs="+")

    p = sub.add_parser("show", help="print a resolved scenario with the provenance of its values")
    p.add_argument("file", type=Path)
    p.add_argument("--point", action="store_true", help="show point values")

    p = sub.add_parser("list", help="list ready scenarios with their titles")
    p.add_argument("folder", type=Path, nargs="?", default=None)

    p = sub.add_parser("landscape", help="Axelrod-Bennett configurations for a scenario's "
                       "initial ties and capabilities")
    p.add_argument("scenario", type=Path)
    p.add_argument("--top", type=_positive_int, default=5, help="how many minima to print")

    p = sub.add_parser("sensitivity", help="Sobol or Morris sensitivity of the focal alliance's "
                       "fate to the scenario's uncertain values (needs alliance-sim[explore])")
    p.add_argument("scenario", type=Path)
    p.add_argument("--method", choices=["sobol", "morris"], default="sobol")
    p.add_argument("--samples", "-N", type=_positive_int, default=1024,
                   help="Sobol base samples (a power of two) or Morris trajectories (default 1024)")
    p.add_argument("--replicates", "-R", type=_positive_int, default=16,
                   help="replicates per design point (default 16)")
    p.add_argument("--alliance", help="the alliance whose fate is analysed (default: the focal)")
    p.add_argument("--include", action="append", metavar="PATTERN",
                   help="vary only parameters matching this glob (repeatable), e.g. 'mechanisms.*'")
    p.add_argument("--groups", action="store_true", help="Sobol indices of parameter groups "
                   "(an actor's positions, an event, ...) instead of single parameters")
    p.add_argument("--steps", "-t", type=_positive_int, help="steps per replicate (default: the "
                   "scenario's)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the design and the replicates")
    p.add_argument("--workers", "-j", type=_positive_int, default=None,
                   help="worker processes (default: all cores)")
    _add_engine_option(p)
    p.add_argument("--top", type=_positive_int, default=12, help="rows of the printed tables")
    p.add_argument("--out", "-o", type=Path, help="folder for the tables, figure and page "
                   "(default results/<scenario>-sensitivity)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("discover", help="scenario discovery: PRIM boxes of the sampled parameters "
                       "where an outcome happens (needs alliance-sim[explore])")
    p.add_argument("results", type=Path, help="a result directory (alliance-sim run --out)")
    p.add_argument("--outcome", default=Fate.STAB.word,
                   help="holds, stab_in_the_back or drift_apart, or 'stab_in_the_back by NAME' "
                   "(default stab_in_the_back)")
    p.add_argument("--alliance", help="default: the run's focal alliance")
    p.add_argument("--boxes", type=_positive_int, default=1, help="how many boxes (default 1)")
    p.add_argument("--min-coverage", type=float, default=0.5,
                   help="read each box at its densest point with at least this coverage (0.5)")
    p.add_argument("--max-qp", type=float, default=0.05,
                   help="drop restrictions whose quasi-p value exceeds this (0.05; 1 keeps all)")
    p.add_argument("--out", "-o", type=Path, help="folder for the tables, figure and page "
                   "(default <results>/discovery)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK

    def say(text: str) -> None:  # always one line, whatever the message holds
        print(" ".join(str(text).split()), file=sys.stderr)

    try:
        return COMMANDS[args.command](args)
    except AllianceError as e:  # the error family carries its exit code
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
        if isinstance(e, OSError) and e.filename:
            say(f"alliance-sim: error: {e.filename}: {e.strerror}")
            return EXIT_BAD_INPUT
        if args.debug:
            raise
        if isinstance(e, MemoryError):
            say("alliance-sim: error: out of memory; use fewer replicates per chunk "
                "(--chunk-size), fewer steps or leave out --trajectories")
            return EXIT_INTERNAL
        say(f"alliance-sim: internal error: {type(e).__name__}: {e} (rerun with --debug for "
            "the traceback)")
        return EXIT_INTERNAL


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

def _executor(args):
    """The executor asked for with --scheduler, or None for the local pool."""
    address = getattr(args, "scheduler", None)
    if not address:
        return None, None
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--scheduler needs Dask: pip install 'alliance-sim[dask]'") from None
    if address == "local":
        cluster = LocalCluster(n_workers=args.workers or 2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        address = scheduler_address(address)
        cluster = None
        try:
            client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise UsageError(f"--scheduler: no Dask scheduler answered at {address} "
                             f"({type(e).__name__})") from None
    return client, cluster


_SCHEDULER = re.compile(r"^(?:(?P<scheme>tcp|tls)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)"
                        r":(?P<port>[0-9]{1,5})$")


def scheduler_address(text: str) -> str:
    """A Dask scheduler address checked for form (``[tcp://|tls://]HOST:PORT``) and for something
    listening there: connect only to the address given, fail fast, never fall back to another."""
    import socket

    m = _SCHEDULER.match(text)
    if not m or not 0 < int(m["port"]) < 65536:
        raise UsageError(f"--scheduler: expected 'local' or HOST:PORT (optionally tcp:// or "
                         f"tls://), got {text!r}")
    host = m["host"].strip("[]")
    try:
        socket.create_connection((host, int(m["port"])), timeout=5).close()
    except OSError as e:
        raise UsageError(f"--scheduler: cannot reach {text} ({e.strerror or type(e).__name__}); "
                         "expected a running Dask scheduler there") from None
    return text if m["scheme"] else f"tcp://{text}"


def _run_one(args, scenario_path: Path, out: Path, force: bool, resume: bool = False,
             trajectories: bool = False):
    from sim.run.engine import DEFAULT_CHUNK_SIZE, DEFAULT_DTYPE, run_ensemble

    client, cluster = _executor(args)
    try:
        return run_ensemble(
            scenario_path, replicates=args.replicates, steps=args.steps, seed=args.seed, out=out,
            chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE, workers=args.workers,
            executor=client.get_executor() if client is not None else None, resume=resume,
            force=force, trajectories=trajectories, progress=not args.no_progress,
            point=args.point, dtype=args.dtype or DEFAULT_DTYPE, engine=args.engine)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _print_summary(results) -> None:
    from sim.analysis.outcomes import fate_table, format_fate_table

    n = results.n
    print(f"{results.name}: {n} replicates x {results.steps} steps -> {results.directory}")
    if not results.alliances:
        print("  (no declared alliances)")
    for al in results.alliances:
        print(format_fate_table(fate_table(results.outcomes, al, results.actors),
                                title=f"alliance {al}"))


def cmd_run(args) -> int:
    """`run`: one scenario's ensemble, its summary and report."""
    from sim.run.store import safe_name

    if args.from_observations:
        clash = [flag for flag, on in (("--resume", args.resume), ("--force", args.force),
                                       ("--trajectories", args.trajectories), ("--point", args.point),
                                       ("--replicates", args.replicates is not None)) if on]
        if clash:
            raise UsageError(f"{clash[0]} does not apply with --from-observations (it continues the "
                             "accepted replicates of the calibration as they are)")
        return cmd_project(args)
    if args.until is not None:
        raise UsageError("--until applies with --from-observations only")
    out = args.out or Path("results") / safe_name(args.scenario.stem)
    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    results = _run_one(args, args.scenario, out, args.force, args.resume, args.trajectories)
    _print_summary(results)
    if not args.no_report:
        from sim.present.report import write_report

        path = write_report([results], out / "report.html")
        print(f"report: {path}")
    return EXIT_OK


def cmd_compare(args) -> int:
    """`compare`: several scenarios (finished results reused) and one comparison report."""
    from sim.run.engine import reusable
    from sim.run.store import safe_name

    runs = []
    folders: set[str] = set()
    for path in args.scenarios:
        folder = base = safe_name(path.stem)  # one folder per scenario, inside --out
        n = 2
        while folder in folders:  # two files with the same stem: x, x-2
            folder, n = f"{base}-{n}", n + 1
        folders.add(folder)
        out = args.out / folder
        existing = None if args.force else reusable(path, out, args)
        if existing is not None:
            print(f"{path.stem}: reusing finished results in {out}")
            runs.append(existing)
        else:
            runs.append(_run_one(args, path, out, force=True))
    for r in runs:
        _print_summary(r)
    from sim.present.report import write_report

    path = write_report(runs, args.out / "report.html")
    print(f"report: {path}")
    return EXIT_OK


def cmd_report(args) -> int:
    """`report`: an HTML report of finished result directories."""
    from sim.present.report import write_report
    from sim.run.store import load_results

    runs = [load_results(d) for d in args.results]
    path = write_report(runs, args.out or args.results[0] / "report.html")
    print(f"report: {path}")
    return EXIT_OK


def cmd_validate(args) -> int:
    """`validate`: check scenario files, one line per file."""
    from sim.spec.scenario import load_scenario

    bad = 0
    for f in args.files:
        try:
            s = load_scenario(f)
        except InputError as e:
            print(f"alliance-sim: error: {e}", file=sys.stderr)
            bad += 1
            continue
        print(f"ok  {f}  ({len(s.actors)} actors, {len(s.issues)} issues, {len(s.alliances)} "
              f"alliances, {len(s.events)} events)")
    return EXIT_BAD_INPUT if bad else EXIT_OK


def cmd_show(args) -> int:
    """`show`: every parameter of a scenario with its range and claim."""
    from sim.present.show import render

    print(render(args.file, point=args.point))
    return EXIT_OK


def cmd_list(args) -> int:
    """`list`: the ready scenarios with their titles."""
    from sim.spec.scenario import load_scenario

    folder = args.folder or _default_scenarios()
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise UsageError(f"{folder}: no scenario files (*.toml)")
    width = max(len(f.stem) for f in files)
    for f in files:
        try:
            title = load_scenario(f).title or "(untitled)"
        except InputError as e:
            title = f"INVALID: {e}"
        print(f"{f.stem:<{width}}  {title}")
    return EXIT_OK


def _default_scenarios() -> Path:
    here = Path("scenarios")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "scenarios"


def cmd_landscape(args) -> int:
    """`landscape`: Axelrod-Bennett configurations of a scenario's initial ties."""
    from sim.model.landscape import minima
    from sim.spec.params import compile_params
    from sim.spec.scenario import load_scenario

    scenario = load_scenario(args.scenario, point=True)
    params = compile_params(scenario, 1)
    W = params.ties[0]
    propensity = (W + W.T) / 2
    found = minima(params.capability[0], propensity)
    names = params.actors
    print(f"{args.scenario}: {len(found)} local minima of the Axelrod-Bennett energy "
          f"({len(names)} actors, initial ties, point values)")
    for rank, m in enumerate(found[: args.top], 1):
        blocs = [[names[i] for i in range(len(names)) if m.blocs[i] == b] for b in (0, 1)]
        print(f"{rank}. energy {m.energy:+.4f}  basin {m.basin}")
        for b, members in enumerate(blocs):
            print(f"   bloc {b + 1}: {', '.join(members) if members else '(empty)'}")
    return EXIT_OK


def cmd_sensitivity(args) -> int:
    """`sensitivity`: Sobol or Morris indices of the focal alliance's fate."""
    from sim.analysis.sensitivity import format_indices, run_sensitivity
    from sim.present.exploration import write_sensitivity

    result = run_sensitivity(args.scenario, method=args.method, samples=args.samples,
                             replicates=args.replicates, seed=args.seed, alliance=args.alliance,
                             include=args.include, grouped=args.groups, steps=args.steps,
                             workers=args.workers, progress=not args.no_progress, engine=args.engine)
    out = args.out or Path("results") / f"{args.scenario.stem}-sensitivity"
    paths = write_sensitivity(result, out)
    for output in ("p_stab", "p_holds"):
        print(format_indices(result, output, args.top))
        print()
    print(f"{result.settings['replicate_runs']:,} runs in {result.settings['seconds']:.1f} s")
    print(f"indices: {paths['indices']}\ndesign: {paths['design']}\nreport: {paths['report']}")
    return EXIT_OK


def cmd_discover(args) -> int:
    """`discover`: PRIM boxes of the sampled parameters where an outcome happens."""
    from sim.analysis.discovery import discover, format_discovery
    from sim.present.exploration import write_discovery
    from sim.run.store import load_results

    if not 0.0 <= args.min_coverage <= 1.0:
        raise UsageError(f"--min-coverage: expected a number in [0, 1], got {args.min_coverage}")
    if not 0.0 <= args.max_qp <= 1.0:
        raise UsageError(f"--max-qp: expected a number in [0, 1], got {args.max_qp}")
    results = load_results(args.results)
    found = discover(results, args.outcome, args.alliance, boxes=args.boxes,
                     min_coverage=args.min_coverage, max_qp=args.max_qp)
    claims = None
    path = (results.manifest.get("scenario") or {}).get("claims")
    if path:
        try:
            from sim.spec.claims import claims_by_param, load_claims

            claims = claims_by_param(load_claims(path))
        except Exception:  # noqa: BLE001 - the boxes stand without their citations
            claims = None
    print(format_discovery(found, claims))
    paths = write_discovery(found, args.out or args.results / "discovery", claims)
    print(f"boxes: {paths['boxes']}\nreport: {paths['report']}")
    return EXIT_OK


def cmd_project(args) -> int:
    """`run --from-observations`: continue a calibration's accepted replicates."""
    from sim.analysis.calibration import project
    from sim.run.store import safe_name

    folder = args.scenario if args.scenario.is_dir() else args.scenario.parent
    out = args.out or Path("results") / f"{safe_name(folder.name)}-from-observations"
    proj = project(args.scenario, steps=args.steps, until=args.until, seed=args.seed, out=out,
                   dtype=args.dtype or "float32")
    print(proj.sentence())
    for fate in ("stab_in_the_back", "drift_apart"):
        p, lo, hi = proj.p(fate)
        print(f"  P({fate.replace('_', ' ')}) = {p:.2f} ({lo:.2f}-{hi:.2f})")
    print(f"projection: {out}")
    return EXIT_OK


def cmd_calibrate(args) -> int:
    """`calibrate`: condition a scenario on observations and write the posterior."""
    from sim.analysis.calibration import DEFAULT_REPLICATES, MIN_ACCEPTED, calibrate
    from sim.run.store import safe_name

    out = args.out or Path("results") / f"{safe_name(args.scenario.stem)}-calibrated"
    cal = calibrate(args.scenario, args.observations, replicates=args.replicates or DEFAULT_REPLICATES,
                    seed=args.seed, out=out, min_accepted=args.min_accepted or MIN_ACCEPTED,
                    progress=not args.no_progress, force=args.force, workers=args.workers,
                    exclude=args.exclude)
    print(cal.summary())
    print(f"posterior: {out / 'posterior.toml'} (samples in posterior.parquet, states in states.npz)")
    if not args.no_report:
        from sim.analysis.calibration import project
        from sim.present.history import write_history_report

        proj = project(out)
        print(proj.sentence())
        print(f"report: {write_history_report(cal, out / 'report.html', projection=proj)}")
    return EXIT_OK


def cmd_score(args) -> int:
    """`score`: rank scenarios by the probability each gave the record."""
    from sim.analysis.calibration import score_scenarios

    predictive: dict = {}
    table = score_scenarios(args.scenarios, args.observations, replicates=args.replicates,
                            seed=args.seed, progress=not args.no_progress, workers=args.workers,
                            predictive=predictive)
    print(f"{'rank':>4}  {'scenario':<22} {'P(record)':>10} {'log score':>10} {'+-':>6} "
          f"{'log BF vs best':>15} {'+-':>6}  binding")
    for r in table.itertuples():
        print(f"{r.rank:>4}  {r.scenario:<22} {r.p_record:>10.3g} {r.log_score:>10.2f} "
              f"{r.log_se:>6.2f} {r.log_bf_vs_best:>15.2f} {r.log_bf_se:>6.2f}  {r.binding}")
    if args.out:
        from sim.present.history import predictive_by_scenario, write_scores_report

        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "scores.csv", index=False)
        predictive_by_scenario(predictive).to_csv(args.out / "predictive.csv", index=False)
        page = write_scores_report(table, predictive, args.out / "report.html",
                                   f"{args.observations.name}, {args.replicates:,} replicates per "
                                   f"scenario, seed {args.seed}")
        print(f"tables: {args.out / 'scores.csv'}, {args.out / 'predictive.csv'}\nreport: {page}")
    return EXIT_OK


COMMANDS = {
    "calibrate": cmd_calibrate, "score": cmd_score,
    "run": cmd_run, "compare": cmd_compare, "report": cmd_report, "validate": cmd_validate,
    "show": cmd_show, "list": cmd_list, "landscape": cmd_landscape,
    "sensitivity": cmd_sensitivity, "discover": cmd_discover,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
