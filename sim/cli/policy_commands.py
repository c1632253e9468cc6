"""Policy: ``levers``, ``optimize``."""

from __future__ import annotations

import argparse
import shlex
import sys

from sim.cli import options
from sim.cli.options import UsageError
from sim.errors import EXIT_OK
from sim.present import text

COMMANDS = ("levers", "optimize")

#: what a lever evaluation writes besides its page
LEVER_FILES = (
    ("policies", "parquet"),
    ("evaluations", "parquet"),
    ("worlds", "parquet"),
    ("importance", "csv"),
    ("manifest", "json"),
)


def register(sub) -> None:
    """Add the group's commands to the sub-parsers ``sub``."""
    _register_levers(sub)
    _register_optimize(sub)


def _register_levers(sub) -> None:
    p = options.command(
        sub,
        "levers",
        cmd_levers,
        "evaluate policies (settings of the scenario's levers) on common sampled worlds: metrics, regret, "
        "satisficing",
    )
    options.add_engine(p)
    options.add_scenario(p)
    options.add_set(p)
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--policies",
        "-N",
        type=options.positive_int,
        default=None,
        help="Latin hypercube of N policies (default 64), plus the status quo",
    )
    group.add_argument(
        "--grid",
        "-K",
        type=options.positive_int,
        default=None,
        help="full grid of K values per lever (every option of an options lever)",
    )
    _add_worlds(p, worlds=256, replicates=8)
    p.add_argument("--owner", help="vary only this actor's levers and judge by its metrics")
    options.add_steps(p)
    options.add_seed(p, "seed of worlds, policies and replicates (default: the scenario's)")
    options.add_workers(p)
    p.add_argument("--chunk-size", type=options.positive_int, default=4096, help="rows per chunk")
    options.add_output(p, "results/<name>-levers", force="results", what="result folder")
    p.add_argument("--resume", action="store_true", help="finish an interrupted evaluation in --out")
    p.add_argument("--top", type=options.positive_int, default=10, help="rows of the printed table")
    options.add_report_switch(p)
    options.add_progress(p)


def _register_optimize(sub) -> None:
    p = options.command(
        sub,
        "optimize",
        cmd_optimize,
        "search the levers for non-dominated policies (NSGA-II), each generation run as one design",
    )
    options.add_engine(p)
    options.add_scenario(p)
    options.add_set(p)
    p.add_argument(
        "--evaluations",
        "-e",
        type=options.positive_int,
        default=5000,
        help="policy evaluations in all (default 5000)",
    )
    p.add_argument(
        "--population", type=options.positive_int, default=100, help="policies per generation (default 100)"
    )
    _add_worlds(p, worlds=64, replicates=4)
    p.add_argument(
        "--statistic",
        choices=["mean", "p10"],
        default="mean",
        help="each metric's mean over the worlds, or its worse decile (robust)",
    )
    p.add_argument("--owner", help="search only this actor's levers, judged by its metrics")
    options.add_steps(p)
    options.add_seed(p, "seed of worlds, replicates and search")
    options.add_workers(p)
    options.add_output(p, "results/<name>-optimize", what="result folder")
    p.add_argument("--force", action="store_true", help="write into a folder that holds other files")
    p.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted search in --out (same options): its finished generations are reused",
    )
    options.add_report_switch(p)
    options.add_progress(p)


def _add_worlds(p, *, worlds: int, replicates: int) -> None:
    """``--worlds/-S`` and ``--replicates/-R``: what every policy is evaluated on."""
    p.add_argument(
        "--worlds",
        "-S",
        type=options.positive_int,
        default=worlds,
        help=f"sampled worlds (draws of the uncertain values), common to every policy (default {worlds})",
    )
    options.add_replicates(
        p, f"replicates per policy and world (default {replicates})", short="-R", default=replicates
    )


def cmd_levers(args: argparse.Namespace) -> int:
    """`levers`: evaluate policies on common worlds and write their robustness."""
    from sim.analysis.levers import evaluate
    from sim.analysis.policy_tables import lever_importance, vulnerability

    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    scenario = options.load(args)
    from sim.spec.lever_values import lever_names

    policies = args.grid ** len(lever_names(scenario, args.owner)) if args.grid else (args.policies or 64) + 1
    runs = policies * args.worlds * args.replicates
    options.check_runs(runs, "levers", held=runs * 16 * (len(scenario.metrics) + 4))
    out = args.out or options.results_folder(args.scenario.stem, "levers")
    options.hold(
        out, own=("runs", "policies.parquet"), force=args.force or args.resume, what="a levers evaluation"
    )
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
        hint=levers_resume_command(args, scenario.run.seed, out),
        engine=args.engine,
    )
    print(text.policy_evaluation(result.settings))
    print(text.format_policies(result, args.top))
    importance = text.lever_importance(lever_importance(result))
    if importance:
        print(importance)
    paths = {k: out / f"{k}.{ext}" for k, ext in LEVER_FILES}
    if not args.no_report:
        from sim.present.policy_pages import write_policy_report

        found = None
        if not all(m.threshold is None for m in result.objectives.metrics):
            try:
                found = vulnerability(result)
            except Exception as e:  # noqa: BLE001 - the page stands without the box
                print(text.no_box(e))
        paths["report"] = write_policy_report(result, out / "report.html", found)
    print(text.written(paths))
    return EXIT_OK


def levers_resume_command(args: argparse.Namespace, scenario_seed: int, out) -> str:
    """The command that finishes an interrupted lever evaluation (same scenario, same design)."""
    again = ["alliance-sim", "levers", str(args.scenario)]
    again += ["--grid", str(args.grid)] if args.grid else ["--policies", str(args.policies or 64)]
    again += ["--worlds", str(args.worlds), "--replicates", str(args.replicates)]
    again += [
        "--seed",
        str(scenario_seed if args.seed is None else args.seed),
        "--chunk-size",
        str(args.chunk_size),
    ]
    again += ["--owner", args.owner] if args.owner else []
    again += ["--steps", str(args.steps)] if args.steps else []
    return shlex.join([*again, "--resume", "--out", str(out)])


def cmd_optimize(args: argparse.Namespace) -> int:
    """`optimize`: NSGA-II over the levers, one generation per design."""
    from sim.analysis.optimize import optimize

    runs = args.evaluations * args.worlds * args.replicates
    options.check_runs(runs, "optimize", held=args.population * args.worlds * args.replicates * 64)
    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    out = args.out or options.results_folder(args.scenario.stem, "optimize")
    options.hold(out, own=("pareto.parquet", "generations"), force=args.force, what="an optimisation")

    def show(row):
        if not args.no_progress:
            print(text.generation(row), file=sys.stderr)

    result = optimize(
        options.load(args),
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
        resume=args.resume,
    )
    print(text.search_result(result))
    print(text.written({"pareto": out / "pareto.parquet", "convergence": out / "convergence.csv"}))
    if not args.no_report:
        from sim.present.policy_pages import write_search_report

        print(text.written({"report": write_search_report(result, out / "report.html")}))
    return EXIT_OK
