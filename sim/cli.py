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


def _number_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


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
    p.add_argument(
        "--replicates", "-n", type=_positive_int, help="number of replicates (default: the scenario's)"
    )
    p.add_argument("--steps", "-t", type=_positive_int, help="steps per replicate (default: the scenario's)")
    p.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    p.add_argument(
        "--chunk-size", type=_positive_int, default=None, help="replicates per chunk (default 4096)"
    )
    p.add_argument(
        "--workers",
        "-j",
        type=_positive_int,
        default=None,
        help="local worker processes (default: all cores)",
    )
    p.add_argument(
        "--scheduler",
        help="a Dask scheduler address, or 'local' for a LocalCluster (needs alliance-sim[dask])",
    )
    p.add_argument(
        "--point",
        action="store_true",
        help="use the point value of every uncertain parameter instead of sampling",
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default=None,
        help="precision of the ties (default float32: within 1e-5 of float64)",
    )
    _add_engine_option(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--why",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="book each force's part in the alliances' ties (why: columns; default: on "
        "up to 10,000 replicates)",
    )


def _add_engine_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=["numpy", "numba"],
        default="numpy",
        help="what steps the replicates: numpy (default) or numba, a compiled engine "
        "about three times faster (needs alliance-sim[fast])",
    )


def _add_method_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--method",
        choices=["auto", "rejection", "smc"],
        default="auto",
        help="rejection (whole replicates weighed by the whole record), smc (assimilated date by "
        "date, for informative records) or auto (default: a pilot chooses, and says why)",
    )
    p.add_argument(
        "--particles", type=_positive_int, default=None, help="smc: parameter particles (default 400)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(
        prog="alliance-sim", description="Scenario simulator for the stability of alignments between states."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("run", help="run the replicates of a scenario and write a result directory")
    p.add_argument("scenario", type=Path)
    _add_run_options(p)
    p.add_argument("--out", "-o", type=Path, help="result directory (default results/<name>)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    p.add_argument("--force", action="store_true", help="replace results already in --out")
    p.add_argument("--trajectories", action="store_true", help="keep full tie trajectories (small runs)")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML report")
    p.add_argument(
        "--from-observations",
        action="store_true",
        help="continue the accepted "
        "replicates of the calibration beside SCENARIO (posterior.toml) from their states "
        "at the last observation; -t sets how many steps, --until the date to reach",
    )
    p.add_argument("--until", type=_date, help="with --from-observations: the date to run to (YYYY-MM-DD)")

    p = sub.add_parser(
        "calibrate",
        help="condition a scenario's ensemble on dated observations "
        "(ABC rejection or sequential Monte Carlo) and write the posterior as a scenario",
    )
    _add_engine_option(p)
    _add_method_options(p)
    p.add_argument("scenario", type=Path)
    p.add_argument(
        "--observations", type=Path, required=True, help="observations file (e.g. seeds/observations.toml)"
    )
    p.add_argument(
        "--replicates", "-n", type=_positive_int, default=None, help="prior replicates (default 50000)"
    )
    p.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    p.add_argument(
        "--min-accepted",
        type=_positive_int,
        default=None,
        help="refuse below this many accepted replicates (default 200)",
    )
    p.add_argument(
        "--workers", "-j", type=_positive_int, default=1, help="local worker processes (default 1)"
    )
    p.add_argument(
        "--exclude",
        action="append",
        metavar="ID",
        default=None,
        help="leave out an observation (repeatable), to see what it does",
    )
    p.add_argument("--out", "-o", type=Path, help="folder (default results/<name>-calibrated)")
    p.add_argument("--force", action="store_true", help="replace a calibration already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--no-report",
        action="store_true",
        help="do not write report.html (with the projection to the scenario's horizon)",
    )

    p = sub.add_parser(
        "score",
        help="rank scenarios by the probability each gave the observed record (log scores, Bayes factors)",
    )
    _add_engine_option(p)
    p.add_argument(
        "--method",
        choices=["prior", "smc"],
        default="prior",
        help="the evidence by the prior replicates' mean likelihood (default) or by sequential "
        "Monte Carlo (for informative records)",
    )
    p.add_argument(
        "--particles", type=_positive_int, default=None, help="smc: parameter particles (default 400)"
    )
    p.add_argument("scenarios", type=Path, nargs="+")
    p.add_argument("--observations", type=Path, required=True)
    p.add_argument(
        "--replicates",
        "-n",
        type=_positive_int,
        default=20_000,
        help="prior replicates per scenario (default 20000)",
    )
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument(
        "--workers", "-j", type=_positive_int, default=1, help="local worker processes (default 1)"
    )
    p.add_argument(
        "--out",
        "-o",
        type=Path,
        help="folder for scores.csv, predictive.csv (each "
        "observation's probability under each scenario) and report.html",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "backtest",
        help="calibrate on the readings up to a date, predict the later ones, and score the "
        "predictions against the prior and persistence",
    )
    _add_engine_option(p)
    _add_method_options(p)
    p.add_argument("scenario", type=Path)
    p.add_argument("--observations", type=Path, required=True, help="observations file")
    p.add_argument("--until", type=_date, required=True, help="the last date calibrated on (YYYY-MM-DD)")
    p.add_argument(
        "--replicates", "-n", type=_positive_int, default=None, help="prior replicates (default 50000)"
    )
    p.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    p.add_argument(
        "--workers", "-j", type=_positive_int, default=1, help="local worker processes (default 1)"
    )
    p.add_argument("--out", "-o", type=Path, help="folder for backtest.csv and report.html")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("compare", help="run several scenarios and write a comparison report")
    p.add_argument("scenarios", type=Path, nargs="+")
    _add_run_options(p)
    p.add_argument(
        "--out",
        "-o",
        type=Path,
        default=Path("results/comparison"),
        help="folder for the runs and the report (default results/comparison)",
    )
    p.add_argument("--force", action="store_true", help="rerun even where matching results exist")

    p = sub.add_parser("report", help="write the HTML report of one or more result directories")
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--out", "-o", type=Path, help="HTML file (default <first dir>/report.html)")

    p = sub.add_parser("validate", help="check scenario files")
    p.add_argument("files", type=Path, nargs="+")

    p = sub.add_parser("show", help="print a resolved scenario with the provenance of its values")
    p.add_argument("file", type=Path)
    p.add_argument("--point", action="store_true", help="show point values")
    p.add_argument("--wide", "-w", action="store_true", help="never cut rows to the terminal's width")
    p.add_argument(
        "--replicates",
        "-n",
        type=_positive_int,
        help="as for run: the hash printed is then the one a run with this setting records",
    )
    p.add_argument("--steps", "-t", type=_positive_int, help="as for run (changes the hash)")
    p.add_argument("--seed", type=_seed, help="as for run (changes the hash)")

    p = sub.add_parser(
        "sweep", help="run one parameter across values on common random numbers and plot the fates against it"
    )
    _add_engine_option(p)
    p.add_argument("scenario", type=Path)
    p.add_argument("path", help="the parameter, as alliance-sim show lists it (e.g. mechanisms.pressure)")
    p.add_argument("--values", type=_number_list, help="comma-separated values, e.g. 0,0.05,0.1")
    p.add_argument(
        "--range",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="evenly spaced values from LOW to HIGH (with --points)",
    )
    p.add_argument("--points", type=_positive_int, default=7, help="values in --range (default 7)")
    p.add_argument("--replicates", "-n", type=_positive_int, default=500, help="runs per value (default 500)")
    p.add_argument("--steps", "-t", type=_positive_int, help="steps per run (default: the scenario's)")
    p.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    p.add_argument("--alliance", help="whose fates (default: the focal alliance)")
    p.add_argument(
        "--workers", "-j", type=_positive_int, default=None, help="worker processes (default: all cores)"
    )
    p.add_argument(
        "--out",
        "-o",
        type=Path,
        help="folder for the table, figure and page (default results/<scenario>-sweep-<path>)",
    )
    p.add_argument("--force", action="store_true", help="replace a sweep already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "app",
        help="prepare the interactive page's browser packages (npm, once) "
        "and serve it (needs alliance-sim[app])",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=_positive_int, default=8765, help="port (default 8765)")
    p.add_argument("--no-open", action="store_true", help="do not open a browser")
    p.add_argument(
        "--assets",
        type=Path,
        help="folder of the page's browser packages (default: "
        "Solara's asset cache, SOLARA_ASSETS_PROXY_CACHE_DIR)",
    )
    p.add_argument("--prepare-only", action="store_true", help="prepare the packages, do not serve")

    p = sub.add_parser(
        "diff",
        help="print the parameters that differ between two scenarios, with "
        "their values and claims on each side",
    )
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--wide", "-w", action="store_true", help="never cut rows to the terminal's width")

    p = sub.add_parser("new", help="write a commented starter scenario that extends the shipped baseline")
    p.add_argument("name", type=Path, help="file to write (.toml is added)")
    p.add_argument("--force", action="store_true", help="replace an existing file")

    p = sub.add_parser("list", help="list ready scenarios with their titles")
    p.add_argument("folder", type=Path, nargs="?", default=None)

    p = sub.add_parser(
        "landscape",
        help="Axelrod-Bennett configurations for a scenario's "
        "initial ties and capabilities, or a result directory's final mean ties",
    )
    p.add_argument(
        "scenario",
        type=Path,
        help="a scenario (initial ties) or a result directory (final ties averaged over its replicates)",
    )
    p.add_argument("--top", type=_positive_int, default=5, help="how many minima to print")

    p = sub.add_parser(
        "sensitivity",
        help="Sobol or Morris sensitivity of the focal alliance's "
        "fate to the scenario's uncertain values (needs alliance-sim[explore]); or, "
        "given a result directory, delta or PAWN indices from its replicates",
    )
    p.add_argument(
        "scenario",
        type=Path,
        help="a scenario file (new runs) or a result directory (no new runs: --method delta or pawn)",
    )
    p.add_argument(
        "--method",
        choices=["sobol", "morris", "delta", "pawn"],
        default=None,
        help="sobol or morris for a scenario (default sobol); delta or pawn for a result "
        "directory (default delta)",
    )
    p.add_argument(
        "--samples",
        "-N",
        type=_positive_int,
        default=1024,
        help="Sobol base samples (rounded up to a power of two) or Morris trajectories (default 1024)",
    )
    p.add_argument(
        "--replicates", "-R", type=_positive_int, default=16, help="replicates per design point (default 16)"
    )
    p.add_argument("--alliance", help="the alliance whose fate is analysed (default: the focal)")
    p.add_argument(
        "--over-time",
        action="store_true",
        help="Sobol indices of P(alliance active "
        "after step t) at 12 steps over the run, instead of the end-of-run fate",
    )
    p.add_argument(
        "--include",
        action="append",
        metavar="PATTERN",
        help="vary only parameters matching this glob (repeatable), e.g. 'mechanisms.*'",
    )
    p.add_argument(
        "--groups",
        action="store_true",
        help="Sobol indices of parameter groups "
        "(an actor's positions, an event, ...) instead of single parameters",
    )
    p.add_argument("--steps", "-t", type=_positive_int, help="steps per replicate (default: the scenario's)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the design and the replicates")
    p.add_argument(
        "--workers", "-j", type=_positive_int, default=None, help="worker processes (default: all cores)"
    )
    _add_engine_option(p)
    p.add_argument("--top", type=_positive_int, default=12, help="rows of the printed tables")
    p.add_argument(
        "--out",
        "-o",
        type=Path,
        help="folder for the tables, figure and page (default results/<scenario>-sensitivity)",
    )
    p.add_argument("--force", action="store_true", help="replace an analysis already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "discover",
        help="scenario discovery: PRIM boxes of the sampled parameters "
        "where an outcome happens (needs alliance-sim[explore])",
    )
    p.add_argument("results", type=Path, help="a result directory (alliance-sim run --out)")
    p.add_argument(
        "--outcome",
        default=Fate.STAB.word,
        help="holds, stab_in_the_back or drift_apart, or 'stab_in_the_back by NAME' "
        "(default stab_in_the_back)",
    )
    p.add_argument("--alliance", help="default: the run's focal alliance")
    p.add_argument(
        "--policy",
        type=int,
        default=None,
        help="for the folder of 'alliance-sim levers': the policy whose failures to "
        "explain (default: the most robust)",
    )
    p.add_argument(
        "--include",
        action="append",
        metavar="PATTERN",
        help="for the folder of 'alliance-sim levers': only the uncertain values whose "
        "path matches this glob (repeatable)",
    )
    p.add_argument("--boxes", type=_positive_int, default=1, help="how many boxes (default 1)")
    p.add_argument(
        "--min-coverage",
        type=float,
        default=0.5,
        help="read each box at its densest point with at least this coverage (0.5)",
    )
    p.add_argument(
        "--max-qp",
        type=float,
        default=0.05,
        help="drop restrictions whose quasi-p value exceeds this (0.05; 1 keeps all)",
    )
    p.add_argument(
        "--out", "-o", type=Path, help="folder for the tables, figure and page (default <results>/discovery)"
    )
    p = sub.add_parser(
        "levers",
        help="evaluate policies (settings of the scenario's levers) on "
        "common sampled worlds: metrics, regret, satisficing",
    )
    _add_engine_option(p)
    p.add_argument("scenario", type=Path)
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--policies",
        "-N",
        type=_positive_int,
        default=None,
        help="Latin hypercube of N policies (default 64), plus the status quo",
    )
    group.add_argument(
        "--grid",
        "-K",
        type=_positive_int,
        default=None,
        help="full grid of K values per lever (every option of an options lever)",
    )
    p.add_argument(
        "--worlds",
        "-S",
        type=_positive_int,
        default=256,
        help="sampled worlds (draws of the uncertain values), common to every policy",
    )
    p.add_argument(
        "--replicates",
        "-R",
        type=_positive_int,
        default=8,
        help="replicates per policy and world (default 8)",
    )
    p.add_argument("--owner", help="vary only this actor's levers and judge by its metrics")
    p.add_argument("--steps", "-t", type=_positive_int, help="steps per replicate (default: the scenario's)")
    p.add_argument(
        "--seed", type=_seed, help="seed of worlds, policies and replicates (default: the scenario's)"
    )
    p.add_argument(
        "--workers", "-j", type=_positive_int, default=None, help="worker processes (default: all cores)"
    )
    p.add_argument("--chunk-size", type=_positive_int, default=4096, help="rows per chunk")
    p.add_argument("--out", "-o", type=Path, help="result folder (default results/<name>-levers)")
    p.add_argument("--resume", action="store_true", help="finish an interrupted evaluation in --out")
    p.add_argument("--force", action="store_true", help="replace results already in --out")
    p.add_argument("--top", type=_positive_int, default=10, help="rows of the printed table")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML page")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "optimize",
        help="search the levers for non-dominated policies (NSGA-II), each generation run as one design",
    )
    _add_engine_option(p)
    p.add_argument("scenario", type=Path)
    p.add_argument(
        "--evaluations",
        "-e",
        type=_positive_int,
        default=5000,
        help="policy evaluations in all (default 5000)",
    )
    p.add_argument(
        "--population", type=_positive_int, default=100, help="policies per generation (default 100)"
    )
    p.add_argument(
        "--worlds",
        "-S",
        type=_positive_int,
        default=64,
        help="common sampled worlds every policy is evaluated on (default 64)",
    )
    p.add_argument(
        "--replicates",
        "-R",
        type=_positive_int,
        default=4,
        help="replicates per policy and world (default 4)",
    )
    p.add_argument(
        "--statistic",
        choices=["mean", "p10"],
        default="mean",
        help="each metric's mean over the worlds, or its worse decile (robust)",
    )
    p.add_argument("--owner", help="search only this actor's levers, judged by its metrics")
    p.add_argument("--steps", "-t", type=_positive_int, help="steps per replicate (default: the scenario's)")
    p.add_argument("--seed", type=_seed, help="seed of worlds, replicates and search")
    p.add_argument(
        "--workers", "-j", type=_positive_int, default=None, help="worker processes (default: all cores)"
    )
    p.add_argument("--out", "-o", type=Path, help="result folder (default results/<name>-optimize)")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML page")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
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
            say(
                "alliance-sim: error: out of memory; use fewer replicates per chunk "
                "(--chunk-size), fewer steps or leave out --trajectories"
            )
            return EXIT_INTERNAL
        say(f"alliance-sim: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)")
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
        cluster = LocalCluster(
            n_workers=args.workers or 2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        address = scheduler_address(address)
        cluster = None
        try:
            client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise UsageError(
                f"--scheduler: no Dask scheduler answered at {address} ({type(e).__name__})"
            ) from None
    return client, cluster


_SCHEDULER = re.compile(
    r"^(?:(?P<scheme>tcp|tls)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)"
    r":(?P<port>[0-9]{1,5})$"
)


def scheduler_address(text: str) -> str:
    """A Dask scheduler address checked for form (``[tcp://|tls://]HOST:PORT``) and for something
    listening there: connect only to the address given, fail fast, never fall back to another."""
    import socket

    m = _SCHEDULER.match(text)
    if not m or not 0 < int(m["port"]) < 65536:
        raise UsageError(
            f"--scheduler: expected 'local' or HOST:PORT (optionally tcp:// or tls://), got {text!r}"
        )
    host = m["host"].strip("[]")
    try:
        socket.create_connection((host, int(m["port"])), timeout=5).close()
    except OSError as e:
        raise UsageError(
            f"--scheduler: cannot reach {text} ({e.strerror or type(e).__name__}); "
            "expected a running Dask scheduler there"
        ) from None
    return text if m["scheme"] else f"tcp://{text}"


def _run_one(
    args, scenario_path: Path, out: Path, force: bool, resume: bool = False, trajectories: bool = False
):
    from sim.run.engine import DEFAULT_CHUNK_SIZE, DEFAULT_DTYPE, run_ensemble

    client, cluster = _executor(args)
    try:
        return run_ensemble(
            scenario_path,
            replicates=args.replicates,
            steps=args.steps,
            seed=args.seed,
            out=out,
            chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE,
            workers=args.workers,
            executor=client.get_executor() if client is not None else None,
            resume=resume,
            force=force,
            trajectories=trajectories,
            progress=not args.no_progress,
            point=args.point,
            dtype=args.dtype or DEFAULT_DTYPE,
            why=getattr(args, "why", None),
            engine=args.engine,
        )
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
        print(format_fate_table(fate_table(results.outcomes, al, results.actors), title=f"alliance {al}"))


def _print_differences(runs) -> None:
    """Each fate's B − A against the first run, with the paired and the unpaired interval."""
    from sim.analysis.compare import fate_differences, pairing

    base = runs[0]
    for other in runs[1:]:
        alliance = base.focal
        if alliance is None or alliance not in other.alliances:
            continue
        why = pairing(base, other)
        print(
            f"{other.name} − {base.name}, alliance {alliance} (percentage points; 95 % intervals, "
            + ("paired by replicate and unpaired)" if why is None else f"unpaired only: {why})")
        )
        for t in fate_differences(base, other, alliance).itertuples(index=False):
            paired = (
                f"paired [{100 * t.paired_low:+.1f}, {100 * t.paired_high:+.1f}]  " if why is None else ""
            )
            print(
                f"  {t.fate:<18}{100 * t.diff:+7.1f}   {paired}unpaired "
                f"[{100 * t.unpaired_low:+.1f}, {100 * t.unpaired_high:+.1f}]"
            )


def cmd_run(args) -> int:
    """`run`: one scenario's ensemble, its summary and report."""
    from sim.run.store import safe_name

    if args.from_observations:
        clash = [
            flag
            for flag, on in (
                ("--resume", args.resume),
                ("--force", args.force),
                ("--trajectories", args.trajectories),
                ("--point", args.point),
                ("--replicates", args.replicates is not None),
            )
            if on
        ]
        if clash:
            raise UsageError(
                f"{clash[0]} does not apply with --from-observations (it continues the "
                "accepted replicates of the calibration as they are)"
            )
        return cmd_project(args)
    if args.until is not None:
        raise UsageError("--until applies with --from-observations only")
    args.scenario = _scenario_path(args.scenario)
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
    args.scenarios = [_scenario_path(p) for p in args.scenarios]
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
    _print_differences(runs)
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
        print(
            f"ok  {f}  ({len(s.actors)} actors, {len(s.issues)} issues, {len(s.alliances)} "
            f"alliances, {len(s.events)} events)"
        )
    return EXIT_BAD_INPUT if bad else EXIT_OK


def cmd_show(args) -> int:
    """`show`: every parameter of a scenario with its range and claim."""
    from sim.present.show import render

    print(
        render(
            _scenario_path(args.file),
            point=args.point,
            wide=args.wide,
            replicates=args.replicates,
            steps=args.steps,
            seed=args.seed,
        )
    )
    return EXIT_OK


def cmd_sweep(args) -> int:
    """`sweep`: one parameter across values, the fates against it."""
    from sim.analysis.sweep import format_sweep, run_sweep, sweep_values
    from sim.present.exploration import write_sweep
    from sim.run.store import safe_name
    from sim.spec.scenario import load_scenario

    args.scenario = _scenario_path(args.scenario)
    if args.values is not None and args.range is not None:
        raise UsageError("--values and --range exclude each other")
    low, high = args.range or (None, None)
    values = sweep_values(args.values, low, high, args.points)
    out = args.out or Path("results") / safe_name(f"{args.scenario.stem}-sweep-{args.path}")
    if (out / "sweep.csv").exists() and not args.force:
        raise UsageError(f"{out} holds a sweep already; pass --force to replace it or choose another --out")
    scenario = load_scenario(args.scenario).with_run(steps=args.steps)
    sw = run_sweep(
        scenario,
        args.path,
        values,
        replicates=args.replicates,
        alliance=args.alliance,
        seed=args.seed,
        workers=args.workers,
        progress=not args.no_progress,
        engine=args.engine,
    )
    print(format_sweep(sw))
    paths = write_sweep(sw, out)
    print(f"table: {paths['table']}\nreport: {paths['report']}")
    return EXIT_OK


def cmd_app(args) -> int:
    """`app`: prepare the page's browser packages from the npm registry, then serve the page."""
    try:
        import solara  # noqa: F401
    except ImportError:
        raise UsageError("the app needs Solara: pip install 'alliance-sim[app]'") from None
    from sim.integrations import solara_assets

    folder = solara_assets.prepare(args.assets, log=lambda m: print(m, file=sys.stderr))
    print(f"browser packages ready in {folder}", file=sys.stderr)
    if args.prepare_only:
        return EXIT_OK
    print(f"serving the page on http://{args.host}:{args.port}/ (Ctrl-C stops it)", file=sys.stderr)
    return solara_assets.serve(folder, args.host, args.port, open_browser=not args.no_open)


def cmd_diff(args) -> int:
    """`diff`: the parameters that differ between two scenarios."""
    from sim.present.show import render_diff

    print(render_diff(_scenario_path(args.a), _scenario_path(args.b), wide=args.wide))
    return EXIT_OK


def cmd_new(args) -> int:
    """`new`: write a commented starter scenario."""
    from sim.spec.starter import write_starter

    try:
        path = write_starter(args.name, force=args.force)
    except FileExistsError as e:
        raise UsageError(f"{e}: exists already; choose another name or pass --force") from None
    print(f"wrote {path}; next: alliance-sim show {path}, then alliance-sim run {path}")
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


def _scenario_path(path: Path) -> Path:
    """A scenario argument: a file, or the name of a ready scenario (``back_to_back``, as ``list``
    prints it), which means ``<scenarios folder>/back_to_back.toml``."""
    if path.exists() or path.parent != Path("."):
        if not path.exists() and path.suffix == ".toml":
            shipped = _default_scenarios() / path.name
            if shipped.is_file():
                raise UsageError(
                    f"{path}: no such file; did you mean {shipped}? (alliance-sim list "
                    "shows the ready scenarios, which run by name too)"
                )
        return path
    name = path.name[:-5] if path.name.endswith(".toml") else path.name
    folder = _default_scenarios()
    candidate = folder / f"{name}.toml"
    if candidate.is_file():
        return candidate
    if path.suffix == ".toml":
        return path  # a missing file: load_scenario says so
    import difflib

    names = sorted(f.stem for f in folder.glob("*.toml"))
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UsageError(
        f"{path}: no such file and no ready scenario of that name; {hint}ready "
        f"scenarios (alliance-sim list): {', '.join(names)}"
    )


def _default_scenarios() -> Path:
    here = Path("scenarios")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "scenarios"


def cmd_landscape(args) -> int:
    """`landscape`: Axelrod-Bennett configurations of a scenario's initial ties, or of the final
    mean ties of a result directory."""
    import numpy as np

    from sim.model.landscape import minima

    source = args.scenario
    if source.is_dir():
        from sim.analysis.outcomes import mean_capability, mean_ties
        from sim.run.store import load_results

        results = load_results(source)
        names = results.actors
        W = mean_ties(results.summary, names).to_numpy()
        capability = np.nan_to_num(mean_capability(results.outcomes, names).to_numpy(), nan=0.0)
        what = f"final ties averaged over the {results.n:,} replicates of {source}"
    else:
        from sim.spec.params import compile_params
        from sim.spec.scenario import load_scenario

        source = _scenario_path(source)
        params = compile_params(load_scenario(source, point=True), 1)
        names, W, capability = params.actors, params.ties[0], params.capability[0]
        what = f"initial ties of {source} (point values; pass a result directory for final ties)"
    propensity = (W + W.T) / 2
    found = minima(capability, propensity)
    print(f"Axelrod-Bennett landscape of the {what}: {len(found)} local minima, {len(names)} actors")
    print(
        "energy: the capability-weighted sum of the ties that cross between the two blocs "
        "(friendly ties split apart raise it, hostile ones lower it): the lower, the less the "
        "split frustrates its members"
    )
    print(
        f"basin: of the {2 ** (len(names) - 1):,} possible splits, how many end in this minimum "
        "when actors switch sides one at a time, each time the switch that lowers the "
        "energy most"
    )
    for rank, m in enumerate(found[: args.top], 1):
        blocs = [[names[i] for i in range(len(names)) if m.blocs[i] == b] for b in (0, 1)]
        print(f"{rank}. energy {m.energy:+.4f}  basin {m.basin}")
        for b, members in enumerate(blocs):
            print(f"   bloc {b + 1}: {', '.join(members) if members else '(empty)'}")
    return EXIT_OK


def cmd_sensitivity_given(args) -> int:
    """Delta or PAWN indices from a finished result directory (no new simulations)."""
    from sim.analysis.given_data import format_given_data, given_data
    from sim.present.given_data import write_given_data
    from sim.present.plots import time_unit
    from sim.run.store import load_results

    method = args.method or "delta"
    if method not in ("delta", "pawn"):
        raise UsageError(
            f"--method {method} runs new simulations of a scenario file; for a result "
            "directory expected --method delta or pawn"
        )
    results = load_results(args.scenario)
    result = given_data(results, method, args.alliance, seed=args.seed)
    unit, dt = time_unit(results)
    paths = write_given_data(result, args.out or args.scenario / f"sensitivity-{method}", dt, unit)
    for output in ("stab", "holds", "fate"):
        print(format_given_data(result, output, args.top))
        print()
    print(
        f"{result.settings['replicates']:,} replicates, {result.settings['parameters']} parameters "
        f"in {result.settings['seconds']:.1f} s (no new runs)"
    )
    print(f"indices: {paths['indices']}\nover time: {paths['over_time']}\nfigure: {paths['figure']}")
    return EXIT_OK


def cmd_sensitivity_over_time(args) -> int:
    """Sobol indices of P(active after step t) from a new Saltelli design."""
    from sim.analysis.over_time import sobol_over_time
    from sim.present.given_data import write_sobol_over_time
    from sim.spec.scenario import load_scenario

    if args.method != "sobol":
        raise UsageError("--over-time: expected --method sobol")
    scenario = load_scenario(args.scenario)
    result = sobol_over_time(
        scenario,
        samples=args.samples,
        replicates=args.replicates,
        seed=args.seed,
        alliance=args.alliance,
        include=args.include,
        workers=args.workers,
        progress=not args.no_progress,
        steps=args.steps,
    )
    unit = scenario.run.unit if scenario.run.unit.endswith("s") else scenario.run.unit + "s"
    out = args.out or Path("results") / f"{args.scenario.stem}-sensitivity"
    paths = write_sobol_over_time(result, out, scenario.run.dt, unit)
    top = result.ST.mean().sort_values(ascending=False).head(args.top)
    print(f"Sobol ST of P({result.alliance} active after step t), mean over {len(result.steps)} steps:")
    for k, (name, value) in enumerate(top.items(), 1):
        print(f"  {k:2d}. {value:.3f}  {name}")
    print(f"{result.settings['replicate_runs']:,} runs in {result.settings['seconds']:.1f} s")
    print(f"indices: {paths['ST']}\nfigure: {paths['figure']}")
    return EXIT_OK


def _claims_of(path) -> dict | None:
    """Claims by parameter path from a claims file, or None when there is none or it is unreadable."""
    if not path:
        return None
    try:
        from sim.spec.claims import claims_by_param, load_claims

        return claims_by_param(load_claims(path))
    except Exception:  # noqa: BLE001 - tables stand without their citations
        return None


def cmd_sensitivity(args) -> int:
    """`sensitivity`: Sobol or Morris indices of the focal alliance's fate."""
    from sim.analysis.sensitivity import format_indices, next_power_of_two, run_sensitivity
    from sim.present.exploration import write_sensitivity
    from sim.present.show import readable_label
    from sim.spec.scenario import load_scenario

    if args.scenario.is_dir():
        return cmd_sensitivity_given(args)
    if args.method in ("delta", "pawn"):
        raise UsageError(
            f"--method {args.method} reads a finished run: expected a result directory, got {args.scenario}"
        )
    args.method = args.method or "sobol"
    if args.over_time:
        return cmd_sensitivity_over_time(args)
    args.scenario = _scenario_path(args.scenario)
    out = args.out or Path("results") / f"{args.scenario.stem}-sensitivity"
    if (out / "sensitivity.json").exists() and not args.force:
        raise UsageError(
            f"{out} holds a sensitivity analysis already; pass --force to replace it or choose another --out"
        )
    if args.method == "sobol" and next_power_of_two(args.samples) != args.samples:
        print(
            f"--samples {args.samples}: using {next_power_of_two(args.samples)}, the next power "
            "of two (the Sobol' sequence is balanced at powers of two)",
            file=sys.stderr,
        )
    claims = _claims_of(load_scenario(args.scenario).claims)
    result = run_sensitivity(
        args.scenario,
        method=args.method,
        samples=args.samples,
        replicates=args.replicates,
        seed=args.seed,
        alliance=args.alliance,
        include=args.include,
        grouped=args.groups,
        steps=args.steps,
        workers=args.workers,
        progress=not args.no_progress,
        engine=args.engine,
    )
    paths = write_sensitivity(result, out, claims)
    for output in ("p_stab", "p_holds"):
        print(format_indices(result, output, args.top, names=lambda p: readable_label(p, claims)))
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
    from sim.present.show import describe_path

    if _is_levers_folder(args.results):
        from sim.analysis.policy import load_policy_results, vulnerability

        policy_results = load_policy_results(args.results)
        found = vulnerability(
            policy_results,
            args.policy,
            boxes=args.boxes,
            min_coverage=args.min_coverage,
            max_qp=args.max_qp,
            include=args.include,
        )
        claims = _claims_of(policy_results.scenario.claims)
    else:
        results = load_results(args.results)
        found = discover(
            results,
            args.outcome,
            args.alliance,
            boxes=args.boxes,
            min_coverage=args.min_coverage,
            max_qp=args.max_qp,
        )
        claims = _claims_of((results.manifest.get("scenario") or {}).get("claims"))

    def name(path: str) -> str:
        words = describe_path(path)
        return path if words == path else f"{path} ({words})"

    print(format_discovery(found, claims, names=name))
    paths = write_discovery(found, args.out or args.results / "discovery", claims)
    print(f"boxes: {paths['boxes']}\nreport: {paths['report']}")
    return EXIT_OK


def _is_levers_folder(path: Path) -> bool:
    import json

    try:
        return json.loads((Path(path) / "manifest.json").read_text()).get("kind") == "levers"
    except (OSError, ValueError, AttributeError):
        return False


def cmd_levers(args) -> int:
    """`levers`: evaluate policies on common worlds and write their robustness."""
    from sim.analysis.policy import evaluate, format_policies, lever_importance, vulnerability
    from sim.spec.scenario import load_scenario

    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    scenario = load_scenario(args.scenario)
    from sim.run.store import safe_name

    out = args.out or Path("results") / f"{safe_name(args.scenario.stem)}-levers"
    import shlex

    again = ["alliance-sim", "levers", str(args.scenario)]
    again += ["--grid", str(args.grid)] if args.grid else ["--policies", str(args.policies or 64)]
    again += [
        "--worlds",
        str(args.worlds),
        "--replicates",
        str(args.replicates),
        "--seed",
        str(scenario.run.seed if args.seed is None else args.seed),
        "--chunk-size",
        str(args.chunk_size),
    ]
    again += ["--owner", args.owner] if args.owner else []
    again += ["--steps", str(args.steps)] if args.steps else []
    hint = shlex.join([*again, "--resume", "--out", str(out)])
    result = evaluate(
        scenario,
        policies=args.policies or 64,
        grid_values=args.grid,
        worlds=args.worlds,
        replicates=args.replicates,
        seed=args.seed,
        owner=args.owner,
        steps=args.steps,
        out=out,
        chunk_size=args.chunk_size,
        workers=args.workers,
        progress=not args.no_progress,
        resume=args.resume,
        force=args.force,
        hint=hint,
        engine=args.engine,
    )
    s = result.settings
    print(
        f"{s['policies']} policies x {s['worlds']} worlds x {s['replicates']} replicates x "
        f"{s['steps']} steps = {s['replicate_runs']:,} runs in {s['seconds']:.1f} s"
    )
    print(format_policies(result, args.top))
    importance = lever_importance(result)
    if not importance.empty:
        print(
            "\nwhich levers matter (standardised regression coefficient of each metric's mean on "
            "the levers; R^2 of the fit):"
        )
        for metric, part in importance.groupby("metric", sort=False):
            shown = ", ".join(f"{r.lever} {r.src:+.2f}" for r in part.itertuples())
            print(f"  {metric} (R^2 {part.r2.iloc[0]:.2f}): {shown}")
    paths = {
        k: out / f"{k}.{ext}"
        for k, ext in (
            ("policies", "parquet"),
            ("evaluations", "parquet"),
            ("worlds", "parquet"),
            ("importance", "csv"),
            ("manifest", "json"),
        )
    }
    if not args.no_report:
        from sim.present.policy import write_policy_report

        found = None
        if not all(m.threshold is None for m in result.objectives.metrics):
            try:
                found = vulnerability(result)
            except Exception as e:  # noqa: BLE001 - the page stands without the box
                print(f"(no vulnerability box: {e})")
        paths["report"] = write_policy_report(result, out / "report.html", found)
    for k, v in paths.items():
        print(f"{k}: {v}")
    return EXIT_OK


def cmd_optimize(args) -> int:
    """`optimize`: NSGA-II over the levers, one generation per design."""
    from sim.analysis.search import optimize
    from sim.spec.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    from sim.run.store import safe_name

    out = args.out or Path("results") / f"{safe_name(args.scenario.stem)}-optimize"

    def show(row):
        if not args.no_progress:
            print(
                f"generation {row['generation']:4d}  evaluations {row['evaluations']:6d}  "
                f"front {row['front']:4d}  hypervolume {row['hypervolume']:.4g}  "
                f"{row['seconds']:.1f} s",
                file=sys.stderr,
            )

    result = optimize(
        scenario,
        evaluations=args.evaluations,
        population=args.population,
        worlds=args.worlds,
        replicates=args.replicates,
        seed=args.seed,
        owner=args.owner,
        statistic=args.statistic,
        steps=args.steps,
        out=out,
        workers=args.workers,
        progress=False,
        on_generation=show,
        engine=args.engine,
    )
    s = result.settings
    print(
        f"{s['evaluations']:,} evaluations ({s['worlds']} worlds x {s['replicates']} replicates x "
        f"{s['steps']} steps each) in {s['seconds']:.1f} s; {len(result.pareto)} non-dominated "
        f"policies; final hypervolume {result.convergence.hypervolume.iloc[-1]:.4g}"
    )
    with_levers = [
        c for c in result.pareto.columns if result.pareto[c].nunique() > 1 or c.startswith("metric:")
    ]
    print(result.pareto[with_levers].head(20).to_string(index=False, float_format="%.3f"))
    print(f"pareto: {out / 'pareto.parquet'}\nconvergence: {out / 'convergence.csv'}")
    if not args.no_report:
        from sim.present.policy import write_search_report

        print(f"report: {write_search_report(result, out / 'report.html')}")
    return EXIT_OK


def cmd_project(args) -> int:
    """`run --from-observations`: continue a calibration's posterior draws; the same report as `run`."""
    from sim.analysis.projection import project, projected_results
    from sim.run.store import safe_name

    folder = args.scenario if args.scenario.is_dir() else args.scenario.parent
    out = args.out or Path("results") / f"{safe_name(folder.name)}-from-observations"
    proj = project(
        args.scenario,
        steps=args.steps,
        until=args.until,
        seed=args.seed,
        out=out,
        dtype=args.dtype or "float32",
        workers=args.workers,
        progress=not args.no_progress,
        engine=args.engine,
    )
    print(proj.sentence())
    for fate in ("stab_in_the_back", "drift_apart") if proj.alliance else ():
        p, lo, hi = proj.p(fate)
        print(f"  P({fate.replace('_', ' ')}) = {p:.2f} ({lo:.2f}-{hi:.2f})")
    results = projected_results(proj)
    _print_summary(results)
    print(f"projection: {out}")
    if not args.no_report:
        from sim.present.report import write_report

        print(f"report: {write_report([results], out / 'report.html')}")
    return EXIT_OK


def cmd_calibrate(args) -> int:
    """`calibrate`: condition a scenario on observations and write the posterior."""
    from sim.analysis.calibration import DEFAULT_REPLICATES, MIN_ACCEPTED, calibrate
    from sim.run.store import safe_name

    out = args.out or Path("results") / f"{safe_name(args.scenario.stem)}-calibrated"
    from sim.present.history import summary_lines

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
    )
    print("\n".join(summary_lines(cal)))
    print(f"posterior: {out / 'posterior.toml'} (samples in posterior.parquet, states in states.npz)")
    if not args.no_report:
        from sim.analysis.calibration import project
        from sim.present.history import write_history_report

        proj = project(out, workers=args.workers)
        print(proj.sentence())
        print(f"report: {write_history_report(cal, out / 'report.html', projection=proj)}")
    return EXIT_OK


def cmd_score(args) -> int:
    """`score`: rank scenarios by the probability each gave the record."""
    from sim.analysis.calibration import score_scenarios

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
    )
    print(
        f"{'rank':>4}  {'scenario':<22} {'P(record)':>10} {'log score':>10} {'+-':>6} "
        f"{'log BF vs best':>15} {'+-':>6}  binding"
    )
    for r in table.itertuples():
        print(
            f"{r.rank:>4}  {r.scenario:<22} {r.p_record:>10.3g} {r.log_score:>10.2f} "
            f"{r.log_se:>6.2f} {r.log_bf_vs_best:>15.2f} {r.log_bf_se:>6.2f}  {r.binding}"
        )
    if args.out:
        from sim.present.history import predictive_by_scenario, write_scores_report

        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "scores.csv", index=False)
        predictive_by_scenario(predictive).to_csv(args.out / "predictive.csv", index=False)
        page = write_scores_report(
            table,
            predictive,
            args.out / "report.html",
            f"{args.observations.name}, {args.replicates:,} replicates per scenario, seed {args.seed}",
        )
        print(f"tables: {args.out / 'scores.csv'}, {args.out / 'predictive.csv'}\nreport: {page}")
    return EXIT_OK


def cmd_backtest(args) -> int:
    """`backtest`: calibrate up to a date, predict the later readings, score against baselines."""
    from sim.analysis.backtest import backtest
    from sim.present.history import backtest_lines, write_backtest_report

    bt = backtest(
        _scenario_path(args.scenario),
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
    print("\n".join(backtest_lines(bt)))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        bt.readings.to_csv(args.out / "backtest_readings.csv", index=False)
        bt.table.to_csv(args.out / "backtest.csv", index=False)
        print(f"tables: {args.out / 'backtest.csv'}, {args.out / 'backtest_readings.csv'}")
        print(f"report: {write_backtest_report(bt, args.out / 'report.html')}")
    return EXIT_OK


COMMANDS = {
    "calibrate": cmd_calibrate,
    "backtest": cmd_backtest,
    "score": cmd_score,
    "run": cmd_run,
    "compare": cmd_compare,
    "report": cmd_report,
    "validate": cmd_validate,
    "show": cmd_show,
    "diff": cmd_diff,
    "new": cmd_new,
    "sweep": cmd_sweep,
    "app": cmd_app,
    "list": cmd_list,
    "landscape": cmd_landscape,
    "sensitivity": cmd_sensitivity,
    "discover": cmd_discover,
    "levers": cmd_levers,
    "optimize": cmd_optimize,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
