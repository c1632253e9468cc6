"""Exploration: ``sweep``, ``experiment``, ``sensitivity``, ``discover``, ``landscape``, ``app``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim.cli import options
from sim.cli.options import UsageError
from sim.errors import EXIT_OK
from sim.extras import install_hint
from sim.present import text
from sim.vocabulary import Fate

COMMANDS = ("sweep", "experiment", "sensitivity", "discover", "landscape", "app")

#: what marks a folder as a sensitivity analysis's (Sobol or Morris, or Sobol over time)
SENSITIVITY_MARKS = ("sensitivity.json", "sobol_over_time_ST.csv")

# What `sensitivity` on a result directory (no new runs) does not use.
_NEW_RUNS_ONLY = (
    "samples",
    "replicates",
    "over_time",
    "include",
    "groups",
    "steps",
    "workers",
    "oversubscribe",
    "engine",
    "no_progress",
    "set",
)


def register(sub) -> None:
    """Add the group's commands to the sub-parsers ``sub``."""
    _register_sweep(sub)
    _register_experiment(sub)
    _register_sensitivity(sub)
    _register_discover(sub)

    p = options.command(
        sub,
        "landscape",
        cmd_landscape,
        "Axelrod-Bennett configurations for a scenario's initial ties and capabilities, or a result "
        "directory's final mean ties",
    )
    options.add_scenario(
        p, help="a scenario (initial ties) or a result directory (final ties averaged over its replicates)"
    )
    options.add_set(p)
    p.add_argument("--top", type=options.positive_int, default=5, help="how many minima to print")

    p = options.command(
        sub,
        "app",
        cmd_app,
        "prepare the interactive page's browser packages (npm, once) and serve it (needs alliance-sim[app])",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=options.positive_int, default=8765, help="port (default 8765)")
    p.add_argument("--no-open", action="store_true", help="do not open a browser")
    p.add_argument(
        "--assets",
        type=Path,
        help="folder of the page's browser packages (default: Solara's asset cache, "
        "SOLARA_ASSETS_PROXY_CACHE_DIR)",
    )
    p.add_argument("--prepare-only", action="store_true", help="prepare the packages, do not serve")


def _register_sweep(sub) -> None:
    p = options.command(
        sub,
        "sweep",
        cmd_sweep,
        "run one parameter across values on common random numbers and plot the fates against it",
    )
    options.add_engine(p)
    options.add_scenario(p)
    options.add_set(p)
    p.add_argument("path", help="the parameter, as alliance-sim show lists it (e.g. mechanisms.pressure)")
    p.add_argument("--values", type=options.number_list, help="comma-separated values, e.g. 0,0.05,0.1")
    p.add_argument(
        "--range",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="evenly spaced values from LOW to HIGH (with --points)",
    )
    p.add_argument("--points", type=options.positive_int, default=7, help="values in --range (default 7)")
    options.add_replicates(p, "runs per value (default 500)", default=500)
    options.add_steps(p, "steps per run (default: the scenario's)")
    options.add_seed(p)
    p.add_argument("--alliance", help="whose fates (default: the focal alliance)")
    options.add_workers(p)
    options.add_output(
        p,
        "results/<scenario>-sweep-<path>",
        force="a sweep",
        what="folder for the table, figure and page",
    )
    options.add_progress(p)


def _register_experiment(sub) -> None:
    p = options.command(
        sub,
        "experiment",
        cmd_experiment,
        "run several parameters together (full factorial or Latin hypercube) on common random numbers: "
        "one result folder, main effects, interactions and PRIM over the factors",
    )
    options.add_engine(p)
    options.add_scenario(p)
    options.add_set(p)
    options.add_factor(p)
    p.add_argument(
        "--design",
        choices=["full", "lhs"],
        default="full",
        help="full: every combination of the values (default); lhs: --points N over the factors' ranges",
    )
    p.add_argument("--points", type=options.positive_int, help="points of an lhs design")
    options.add_replicates(p, "runs per point (default 1000)", default=1000)
    options.add_steps(p, "steps per run (default: the scenario's)")
    options.add_seed(p)
    p.add_argument("--alliance", help="whose fates (default: the focal alliance)")
    options.add_workers(p)
    options.add_output(
        p,
        "results/<scenario>-experiment",
        force="an experiment",
        what="result folder (the replicate table of every point, the tables and the page)",
    )
    p.add_argument("--resume", action="store_true", help="finish an interrupted experiment in --out")
    options.add_progress(p)


def _register_sensitivity(sub) -> None:
    p = options.command(
        sub,
        "sensitivity",
        cmd_sensitivity,
        "Sobol or Morris sensitivity of the focal alliance's fate to the scenario's uncertain values "
        "(needs alliance-sim[explore]); or, given a result directory, delta or PAWN indices from its "
        "replicates",
    )
    options.add_scenario(
        p, help="a scenario file (new runs) or a result directory (no new runs: --method delta or pawn)"
    )
    options.add_set(p)
    p.add_argument(
        "--method",
        choices=["sobol", "morris", "delta", "pawn"],
        default=None,
        help="sobol or morris for a scenario (default sobol); delta or pawn for a result directory "
        "(default delta)",
    )
    p.add_argument(
        "--samples",
        "-N",
        type=options.positive_int,
        default=1024,
        help="Sobol base samples (rounded up to a power of two) or Morris trajectories (default 1024)",
    )
    options.add_replicates(p, "replicates per design point (default 16)", short="-R", default=16)
    p.add_argument("--alliance", help="the alliance whose fate is analysed (default: the focal)")
    p.add_argument(
        "--over-time",
        action="store_true",
        help="Sobol indices of P(alliance active after step t) at 12 steps over the run, instead of the "
        "end-of-run fate",
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
        help="Sobol indices of parameter groups (an actor's positions, an event, ...) instead of single "
        "parameters",
    )
    options.add_steps(p)
    options.add_seed(p, "seed of the design and the replicates", default=0)
    options.add_workers(p)
    options.add_engine(p)
    p.add_argument("--top", type=options.positive_int, default=12, help="rows of the printed tables")
    options.add_output(
        p,
        "results/<scenario>-sensitivity; for a result directory <results>/sensitivity-<method>",
        force="an analysis",
        what="folder for the tables, figure and page",
    )
    options.add_progress(p)


def _register_discover(sub) -> None:
    p = options.command(
        sub,
        "discover",
        cmd_discover,
        "scenario discovery: PRIM boxes of the sampled parameters where an outcome happens "
        "(needs alliance-sim[explore])",
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
        help="for the folder of 'alliance-sim levers': the policy whose failures to explain "
        "(default: the most robust)",
    )
    p.add_argument(
        "--include",
        action="append",
        metavar="PATTERN",
        help="only the uncertain values whose path matches this glob (repeatable), e.g. 'mechanisms.*'",
    )
    p.add_argument("--boxes", type=options.positive_int, default=1, help="how many boxes (default 1)")
    p.add_argument(
        "--min-coverage",
        type=options.share,
        default=0.5,
        help="read each box at its densest point with at least this coverage (0.5)",
    )
    p.add_argument(
        "--max-qp",
        type=options.share,
        default=0.05,
        help="drop restrictions whose quasi-p value exceeds this (0.05; 1 keeps all)",
    )
    options.add_output(p, "<results>/discovery", what="folder for the tables, figure and page")
    p.add_argument("--force", action="store_true", help="write into a folder that holds other files")


# -- sweep ------------------------------------------------------------------------------------


def cmd_sweep(args: argparse.Namespace) -> int:
    """`sweep`: one parameter across values, the fates against it."""
    from sim.analysis.sweep import run_sweep, sweep_values
    from sim.present.exploration import write_sweep

    if args.values is not None and args.range is not None:
        raise UsageError("--values and --range exclude each other")
    low, high = args.range or (None, None)
    values = sweep_values(args.values, low, high, args.points)
    out = args.out or options.results_folder(args.scenario.stem, "sweep", args.path)
    options.hold(out, own="sweep.csv", force=args.force, what="a sweep")
    if (out / "sweep.csv").exists() and not args.force:
        raise UsageError(f"{out} holds a sweep already; pass --force to replace it or choose another --out")
    scenario = options.load(args).with_run(steps=args.steps)
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
    print(text.format_sweep(sw))
    paths = write_sweep(sw, out)
    print(text.written({"table": paths["table"], "report": paths["report"]}))
    return EXIT_OK


# -- experiment -------------------------------------------------------------------------------


def cmd_experiment(args: argparse.Namespace) -> int:
    """`experiment`: a multi-factor design in one result folder, its tables and page."""
    import shlex

    from sim.analysis.experiment import run_experiment
    from sim.extras import command
    from sim.present.experiment_page import summary_text, write_experiment

    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    out = args.out or options.results_folder(args.scenario.stem, "experiment")
    options.hold(out, own=("manifest.json", "experiment.csv"), force=args.force, what="an experiment")
    scenario = options.load(args).with_run(steps=args.steps)
    again = (
        [a for a in sys.argv[1:] if a not in ("--force", "--resume")]
        if sys.argv[1:2] == ["experiment"]
        else []
    )
    hint = (
        command(shlex.join([*again, "--resume", "--out", str(out)]))
        if again
        else (f"the same experiment command with --resume --out {out}")
    )
    result = run_experiment(
        scenario,
        args.factor,
        design=args.design,
        points=args.points,
        replicates=args.replicates,
        alliance=args.alliance,
        seed=args.seed,
        out=out,
        workers=args.workers,
        progress=not args.no_progress,
        engine=args.engine,
        resume=args.resume,
        force=args.force,
        hint=hint,
    )
    print(summary_text(result))
    paths = write_experiment(result, out)
    print(text.written({"table": paths["table"], "report": paths["report"]}))
    return EXIT_OK


# -- sensitivity ------------------------------------------------------------------------------


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """`sensitivity`: Sobol or Morris indices of the focal alliance's fate; delta or PAWN from a
    result directory."""
    if args.scenario.is_dir():
        return _sensitivity_given(args)
    if args.method in ("delta", "pawn"):
        raise UsageError(
            f"--method {args.method} reads a finished run: expected a result directory, got {args.scenario}"
        )
    args.method = args.method or "sobol"
    out = args.out or options.results_folder(args.scenario.stem, "sensitivity")
    options.hold(out, own=SENSITIVITY_MARKS, force=args.force, what="a sensitivity analysis")
    if args.over_time:
        return _sensitivity_over_time(args, out)
    if (out / "sensitivity.json").exists() and not args.force:
        raise UsageError(
            f"{out} holds a sensitivity analysis already; pass --force to replace it or choose another --out"
        )
    from sim.analysis.sensitivity import next_power_of_two, run_sensitivity
    from sim.present.exploration import write_sensitivity
    from sim.present.show import readable_label

    if args.method == "sobol" and next_power_of_two(args.samples) != args.samples:
        print(text.samples_rounded(args.samples, next_power_of_two(args.samples)), file=sys.stderr)
    scenario = options.load(args)
    check_design(scenario, args)
    claims = claims_of(scenario.claims)
    result = run_sensitivity(
        scenario,
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
        print(text.format_indices(result, output, args.top, names=lambda p: readable_label(p, claims)))
        print()
    print(text.runs_in(result.settings["replicate_runs"], result.settings["seconds"]))
    print(text.written({k: paths[k] for k in ("indices", "design", "report")}))
    return EXIT_OK


def check_design(scenario, args: argparse.Namespace) -> None:
    """The limits of ``run`` for a Saltelli or Morris design: at most ``samples`` (rounded up to a
    power of two) times ``D + 2`` points of ``D`` uncertain values, each run ``--replicates``
    times, the points held in memory as numbers."""
    from sim.analysis.sensitivity import next_power_of_two
    from sim.spec.parammap import uncertain_slots

    factors = len(uncertain_slots(scenario))
    points = next_power_of_two(args.samples) * (factors + 2)
    options.check_runs(points * args.replicates, "sensitivity", held=points * 8 * (factors + 8))


def _sensitivity_over_time(args: argparse.Namespace, out: Path) -> int:
    """Sobol indices of P(active after step t) from a new Saltelli design."""
    from sim.analysis.over_time import sobol_over_time
    from sim.present.given_data_pages import write_sobol_over_time

    if args.method != "sobol":
        raise UsageError("--over-time: expected --method sobol")
    options.refuse(args, ["groups"], "with --over-time (the indices over time are of single parameters)")
    if (out / "sobol_over_time_ST.csv").exists() and not args.force:
        raise UsageError(
            f"{out} holds sensitivity indices over time already; pass --force to replace them or choose "
            "another --out"
        )
    scenario = options.load(args)
    check_design(scenario, args)
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
        engine=args.engine,
    )
    unit = scenario.run.unit if scenario.run.unit.endswith("s") else scenario.run.unit + "s"
    paths = write_sobol_over_time(result, out, scenario.run.dt, unit)
    print(text.over_time_indices(result, args.top))
    print(text.runs_in(result.settings["replicate_runs"], result.settings["seconds"]))
    print(text.written({"indices": paths["ST"], "figure": paths["figure"], "report": paths["report"]}))
    return EXIT_OK


def _sensitivity_given(args: argparse.Namespace) -> int:
    """Delta or PAWN indices from a finished result directory (no new simulations)."""
    from sim.analysis.given_data import given_data
    from sim.present.given_data_pages import write_given_data
    from sim.present.plots import time_unit
    from sim.run.store import load_results

    method = args.method or "delta"
    if method not in ("delta", "pawn"):
        raise UsageError(
            f"--method {method} runs new simulations of a scenario file; for a result directory expected "
            "--method delta or pawn"
        )
    options.refuse(args, _NEW_RUNS_ONLY, "to a result directory (its replicates are read, no new runs)")
    out = args.out or args.scenario / f"sensitivity-{method}"
    options.hold(out, own=("indices.csv", "over_time.csv"), force=args.force, what="a sensitivity analysis")
    if (out / "indices.csv").exists() and not args.force:
        raise UsageError(
            f"{out} holds {method} indices already; pass --force to replace them or choose another --out"
        )
    results = load_results(args.scenario)
    result = given_data(results, method, args.alliance, seed=args.seed)
    unit, dt = time_unit(results)
    claims = claims_of((results.manifest.get("scenario") or {}).get("claims"))
    paths = write_given_data(result, out, dt, unit, claims, results.name or "")
    print(text.format_given_data(result, args.top))
    print(text.given_data_footer(result))
    print(
        text.written(
            {
                "indices": paths["indices"],
                "over time": paths["over_time"],
                "figure": paths["figure"],
                "report": paths["report"],
            }
        )
    )
    return EXIT_OK


def claims_of(path) -> dict | None:
    """Claims by parameter path from a claims file, or None when there is none or it is unreadable."""
    if not path:
        return None
    try:
        from sim.spec.claims import claims_by_param, load_claims

        return claims_by_param(load_claims(path))
    except Exception:  # noqa: BLE001 - tables stand without their citations
        return None


# -- discover ---------------------------------------------------------------------------------


def cmd_discover(args: argparse.Namespace) -> int:
    """`discover`: PRIM boxes of the sampled parameters where an outcome happens."""
    from sim.present.exploration import write_discovery
    from sim.present.show import describe_path

    settings = {"boxes": args.boxes, "min_coverage": args.min_coverage, "max_qp": args.max_qp}
    out = args.out or args.results / "discovery"
    options.hold(out, own=("prim_*.csv", "discovery_*.html"), force=args.force, what="a discovery")
    if _is_levers_folder(args.results):
        from sim.analysis.levers import load_policy_results
        from sim.analysis.policy_tables import vulnerability

        options.refuse(
            args, ["outcome", "alliance"], "to the folder of 'alliance-sim levers' (its metrics decide)"
        )
        policy_results = load_policy_results(args.results)
        found = vulnerability(policy_results, args.policy, include=args.include, **settings)
        claims = claims_of(policy_results.scenario.claims)
    else:
        from sim.analysis.discovery import discover
        from sim.run.store import load_results

        options.refuse(args, ["policy"], "to a run's result directory (only to the folder of 'levers')")
        results = load_results(args.results)
        found = discover(results, args.outcome, args.alliance, include=args.include, **settings)
        claims = claims_of((results.manifest.get("scenario") or {}).get("claims"))

    def name(path: str) -> str:
        words = describe_path(path)
        return path if words == path else f"{path} ({words})"

    print(text.format_discovery(found, claims, names=name))
    paths = write_discovery(found, out, claims)
    print(text.written({"boxes": paths["boxes"], "report": paths["report"]}))
    return EXIT_OK


def _is_levers_folder(path: Path) -> bool:
    try:
        return json.loads((Path(path) / "manifest.json").read_text()).get("kind") == "levers"
    except (OSError, ValueError, AttributeError):
        return False


# -- landscape, app ---------------------------------------------------------------------------


def cmd_landscape(args: argparse.Namespace) -> int:
    """`landscape`: Axelrod-Bennett configurations of a scenario's initial ties, or of the final
    mean ties of a result directory."""
    from sim.model.landscape import tie_landscape

    source = args.scenario
    if source.is_dir():
        from sim.analysis.digest import streamed_capability
        from sim.analysis.outcomes import mean_ties
        from sim.run.store import load_results

        options.refuse(args, ["set"], "to a result directory (its final ties are read as they are)")
        results = load_results(source)
        names = results.actors
        ties = mean_ties(results.summary, names).to_numpy()
        capability = streamed_capability(results, names)
        what = f"final ties averaged over the {results.n:,} replicates of {source}"
    else:
        from sim.spec.params import compile_params

        params = compile_params(options.load(args, point=True), 1)
        names, ties, capability = params.actors, params.ties[0], params.capability[0]
        what = f"initial ties of {source} (point values; pass a result directory for final ties)"
    print(text.landscape(names, tie_landscape(capability, ties), what, args.top))
    return EXIT_OK


def cmd_app(args: argparse.Namespace) -> int:
    """`app`: prepare the page's browser packages from the npm registry, then serve the page."""
    try:
        import solara  # noqa: F401
    except ImportError:
        raise UsageError(f"the app needs Solara: {install_hint('app')}") from None
    from sim.integrations import solara_assets

    folder = solara_assets.prepare(args.assets, log=lambda m: print(m, file=sys.stderr))
    print(text.app_ready(folder), file=sys.stderr)
    if args.prepare_only:
        return EXIT_OK
    print(text.app_serving(f"http://{args.host}:{args.port}/"), file=sys.stderr)
    return solara_assets.serve(folder, args.host, args.port, open_browser=not args.no_open)
