"""Every documented option of every command reaches what it configures.

The table below names, for each command (and each mode of a command: ``run --from-observations``,
``sensitivity`` on a result directory or ``--over-time``), the library function the command calls
and, for each option, the value that must arrive there. The library functions, the writers and
the terminal text are replaced by recorders, so nothing runs; the test then checks the recorded
call. A command's option that the table does not cover fails the test: an option added without
being passed on (as ``sensitivity --over-time`` once dropped ``--engine`` and ``--force``) cannot
go unnoticed. Options that do not apply in a mode must be refused in one line, never dropped.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import defaultdict
from pathlib import Path
from unittest.mock import MagicMock

import pytest

from sim.cli import build_parser, main
from sim.present import text
from tests.conftest import ROOT

SCENARIO = "scenarios/status_quo.toml"
EXPERIMENT = "sim.analysis.experiment.run_experiment"
EXPORT = "sim.run.export.export_table"

# mode -> (argv before the option, the functions replaced, the function the options configure)
MODES = {
    "run": (["run", "status_quo"], ["sim.run.ensemble.run_ensemble", "sim.present.report.write_report"]),
    "project": (
        ["run", "cal/posterior.toml", "--from-observations"],
        [
            "sim.analysis.calibration.project",
            "sim.analysis.projection.projected_results",
            "sim.present.report.write_report",
            "sim.present.view_from_today.write_projection_report",
        ],
    ),
    "compare": (
        ["compare", "status_quo", "back_to_back"],
        ["sim.analysis.compare.compare", "sim.present.report.write_report"],
    ),
    "report": (
        ["report", "{tmp}"],
        [
            "sim.run.store.load_results",
            "sim.present.report.write_report",
            "sim.run.integrity.refuse_overwrite",
        ],
    ),
    "verify": (["verify", "{tmp}"], [("sim.run.integrity.verify", [])]),
    "export": (
        ["export", "{tmp}"],
        [(EXPORT, {"rows": 1, "columns": 1, "path": "x.csv"}), "sim.run.integrity.refuse_overwrite"],
    ),
    "index": (["index", "{tmp}"], [("sim.present.index_page.write_index", ("index.html", 0))]),
    "list": (["list", "{tmp}/scenarios"], []),
    "show": (["show", "status_quo"], ["sim.present.show.render"]),
    "validate": (["validate"], ["sim.run.footprint.check_summaries"]),
    "diff": (["diff", "status_quo", "back_to_back"], ["sim.present.show.render_diff"]),
    "new": (["new", "{tmp}/mine"], ["sim.spec.starter.write_starter"]),
    "sweep": (
        ["sweep", "status_quo", "mechanisms.pressure", "--values", "0,1"],
        ["sim.analysis.sweep.run_sweep", "sim.present.exploration.write_sweep"],
    ),
    "sweep-range": (
        ["sweep", "status_quo", "mechanisms.pressure", "--range", "0", "1"],
        ["sim.analysis.sweep.run_sweep", "sim.present.exploration.write_sweep"],
    ),
    "experiment": (
        ["experiment", "status_quo", "--factor", "mechanisms.pressure=0,0.1"],
        [
            EXPERIMENT,
            "sim.present.experiment_page.write_experiment",
            ("sim.present.experiment_page.summary_text", ""),
        ],
    ),
    "sensitivity": (
        ["sensitivity", "status_quo"],
        ["sim.analysis.sensitivity.run_sensitivity", "sim.present.exploration.write_sensitivity"],
    ),
    "over-time": (
        ["sensitivity", "status_quo", "--over-time"],
        ["sim.analysis.over_time.sobol_over_time", "sim.present.given_data_pages.write_sobol_over_time"],
    ),
    "given-data": (
        ["sensitivity", "{tmp}"],
        [
            "sim.analysis.given_data.given_data",
            "sim.run.store.load_results",
            "sim.present.given_data_pages.write_given_data",
            ("sim.present.plots.time_unit", ("months", 1.0)),
        ],
    ),
    "discover": (
        ["discover", "{tmp}"],
        [
            "sim.analysis.discovery.discover",
            "sim.run.store.load_results",
            "sim.present.exploration.write_discovery",
            "sim.cli.options.hold",
        ],
    ),
    "discover-levers": (
        ["discover", "{levers}"],
        [
            "sim.analysis.policy_tables.vulnerability",
            "sim.analysis.levers.load_policy_results",
            "sim.present.exploration.write_discovery",
        ],
    ),
    "landscape": (["landscape", "status_quo"], ["sim.model.landscape.tie_landscape"]),
    "app": (["app"], ["sim.integrations.solara_assets.prepare", ("sim.integrations.solara_assets.serve", 0)]),
    "levers": (
        ["levers", "policy"],
        [
            "sim.analysis.levers.evaluate",
            "sim.analysis.policy_tables.lever_importance",
            "sim.analysis.policy_tables.vulnerability",
            "sim.present.policy_pages.write_policy_report",
        ],
    ),
    "optimize": (
        ["optimize", "policy"],
        [
            "sim.analysis.optimize.optimize",
            "sim.present.policy_pages.write_search_report",
            "sim.cli.options.hold",
        ],
    ),
    "score": (
        ["score", "status_quo", "--observations", "obs.toml"],
        [
            "sim.analysis.calibration.score_scenarios",
            "sim.present.calibration_pages.predictive_by_scenario",
            "sim.present.calibration_pages.write_scores_report",
            "sim.files.atomic_write",
            "sim.cli.options.hold",
        ],
    ),
    "calibrate": (
        ["calibrate", "status_quo", "--observations", "obs.toml"],
        [
            "sim.analysis.calibration.calibrate",
            "sim.analysis.calibration.project",
            "sim.present.calibration_pages.write_history_report",
        ],
    ),
    "backtest": (
        ["backtest", "status_quo", "--observations", "obs.toml", "--until", "2024-12-31"],
        [
            "sim.analysis.backtest.backtest",
            "sim.present.calibration_pages.write_backtest_report",
            "sim.files.atomic_write",
            "sim.cli.options.hold",
        ],
    ),
    "identify": (
        ["identify", "status_quo", "--observations", "obs.toml"],
        ["sim.analysis.identifiability.reach_of"],
    ),
}

RUN = "sim.run.ensemble.run_ensemble"
COMPARE = "sim.analysis.compare.compare"
PROJECT = "sim.analysis.calibration.project"
SWEEP = "sim.analysis.sweep.run_sweep"
SENS = "sim.analysis.sensitivity.run_sensitivity"
OVER = "sim.analysis.over_time.sobol_over_time"
GIVEN = "sim.analysis.given_data.given_data"
DISCOVER = "sim.analysis.discovery.discover"
VULNERABLE = "sim.analysis.policy_tables.vulnerability"
EVALUATE = "sim.analysis.levers.evaluate"
OPTIMIZE = "sim.analysis.optimize.optimize"
SCORE = "sim.analysis.calibration.score_scenarios"
CALIBRATE = "sim.analysis.calibration.calibrate"
BACKTEST = "sim.analysis.backtest.backtest"
IDENTIFY = "sim.analysis.identifiability.reach_of"
SERVE = "sim.integrations.solara_assets.serve"
PREPARE = "sim.integrations.solara_assets.prepare"
REFUSED = "refused"  # the option does not apply in this mode: exit 2, one line naming it


def kw(target, name, value):
    """The check: ``target`` was called with keyword ``name`` equal to ``value``."""
    return ("kw", target, name, value)


def called(target, yes=True):
    """The check: ``target`` was (not) called."""
    return ("called", target, yes)


def forced(target):
    """The check: without ``--force`` the command refuses the folder that holds results already;
    with it, ``target`` runs."""
    return ("forced", target)


def positional(target, index, value):
    """The check: ``target``'s positional argument ``index`` equals ``value``."""
    return ("arg", target, index, value)


# Shared rows: the run options of `run` and `compare`, each reaching the function that runs.
def _run_options(target):
    return {
        "--replicates": (["-n", "123"], kw(target, "replicates", 123)),
        "--steps": (["-t", "7"], kw(target, "steps", 7)),
        "--seed": (["--seed", "99"], kw(target, "seed", 99)),
        "--chunk-size": (["--chunk-size", "512"], kw(target, "chunk_size", 512)),
        "--workers": (["-j", "3"], kw(target, "workers", 3)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(target, "workers", 999)),
        "--scheduler-timeout": (
            ["--scheduler", "local", "--scheduler-timeout", "2.5"],
            kw(target, "executor", "timeout 2.5"),
        ),
        "--scheduler": (["--scheduler", "local"], kw(target, "executor", "the dask executor")),
        "--point": (["--point"], kw(target, "point", True)),
        "--dtype": (["--dtype", "float64"], kw(target, "dtype", "float64")),
        "--engine": (["--engine", "numba"], kw(target, "engine", "numba")),
        "--no-progress": (["--no-progress"], kw(target, "progress", False)),
        "--why": (["--no-why"], kw(target, "why", False)),
        "--set": (["--set", "mechanisms.pressure=0.05"], kw(target, "values", {"mechanisms.pressure": 0.05})),
    }


TABLE: dict[str, dict[str, tuple[list[str], tuple]]] = {
    "run": {
        "scenario": ([], positional(RUN, 0, Path("scenarios/status_quo.toml"))),
        **_run_options(RUN),
        "--out": (["--out", "{tmp}/o"], kw(RUN, "out", Path("{tmp}/o"))),
        "--force": (["--force"], kw(RUN, "force", True)),
        "--resume": (["--resume"], kw(RUN, "resume", True)),
        "--trajectories": (["--trajectories"], kw(RUN, "trajectories", True)),
        "--no-report": (["--no-report"], called("sim.present.report.write_report", False)),
    },
    "project": {
        "--from-observations": ([], positional(PROJECT, 0, Path("cal/posterior.toml"))),
        "--until": (["--until", "2030-01-01"], kw(PROJECT, "until", dt.date(2030, 1, 1))),
        "--steps": (["-t", "9"], kw(PROJECT, "steps", 9)),
        "--seed": (["--seed", "5"], kw(PROJECT, "seed", 5)),
        "--out": (["--out", "{tmp}/p"], kw(PROJECT, "out", Path("{tmp}/p"))),
        "--dtype": (["--dtype", "float64"], kw(PROJECT, "dtype", "float64")),
        "--workers": (["-j", "2"], kw(PROJECT, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(PROJECT, "workers", 999)),
        "--no-progress": (["--no-progress"], kw(PROJECT, "progress", False)),
        "--engine": (["--engine", "numba"], kw(PROJECT, "engine", "numba")),
        "--no-report": (
            ["--no-report"],
            called("sim.present.view_from_today.write_projection_report", False),
        ),
        **{
            flag: (argv, REFUSED)
            for flag, argv in {
                "--resume": ["--resume"],
                "--force": ["--force"],
                "--trajectories": ["--trajectories"],
                "--point": ["--point"],
                "--replicates": ["-n", "10"],
                "--chunk-size": ["--chunk-size", "8"],
                "--scheduler": ["--scheduler", "local"],
                "--scheduler-timeout": ["--scheduler-timeout", "3"],
                "--why": ["--why"],
                "--set": ["--set", "mechanisms.pressure=0.05"],
            }.items()
        },
    },
    "compare": {
        "scenarios": ([], positional(COMPARE, 0, [Path(SCENARIO), Path("scenarios/back_to_back.toml")])),
        **_run_options(COMPARE),
        "--out": (["--out", "{tmp}/c"], positional(COMPARE, 1, Path("{tmp}/c"))),
        "--force": (["--force"], kw(COMPARE, "force", True)),
    },
    "report": {
        "results": ([], positional("sim.run.store.load_results", 0, Path("{tmp}"))),
        "--out": (
            ["--out", "{tmp}/r.html"],
            positional("sim.present.report.write_report", 1, Path("{tmp}/r.html")),
        ),
        "--force": (["--force"], kw("sim.run.integrity.refuse_overwrite", "force", True)),
        "--no-progress": (["--no-progress"], kw("sim.present.report.write_report", "progress", False)),
    },
    "verify": {
        "folders": ([], positional("sim.run.integrity.verify", 0, Path("{tmp}"))),
        "--no-replay": (["--no-replay"], kw("sim.run.integrity.verify", "replay", False)),
    },
    "export": {
        "results": ([], positional(EXPORT, 0, Path("{tmp}"))),
        "--csv": (["--csv"], kw(EXPORT, "fmt", "csv")),
        "--parquet": (["--parquet"], kw(EXPORT, "fmt", "parquet")),
        "--columns": (["--columns", "a,b*", "--columns", "c"], kw(EXPORT, "columns", ["a", "b*", "c"])),
        "--out": (["--out", "{tmp}/x.csv"], positional(EXPORT, 1, Path("{tmp}/x.csv"))),
        "--force": (["--force"], kw("sim.run.integrity.refuse_overwrite", "force", True)),
        "--no-progress": (["--no-progress"], kw(EXPORT, "progress", None)),
    },
    "index": {
        "folder": ([], positional("sim.present.index_page.write_index", 0, Path("{tmp}"))),
        "--out": (
            ["--out", "{tmp}/i.html"],
            positional("sim.present.index_page.write_index", 1, Path("{tmp}/i.html")),
        ),
    },
    "list": {"folder": ([], positional("sim.present.text.scenario_list", 0, "rows of only"))},
    "show": {
        "file": ([], positional("sim.present.show.render", 0, Path(SCENARIO))),
        "--point": (["--point"], kw("sim.present.show.render", "point", True)),
        "--wide": (["-w"], kw("sim.present.show.render", "wide", True)),
        "--replicates": (["-n", "11"], kw("sim.present.show.render", "replicates", 11)),
        "--steps": (["-t", "12"], kw("sim.present.show.render", "steps", 12)),
        "--seed": (["--seed", "13"], kw("sim.present.show.render", "seed", 13)),
        "--set": (
            ["--set", "mechanisms.pressure=0.05"],
            kw("sim.present.show.render", "values", {"mechanisms.pressure": 0.05}),
        ),
    },
    "validate": {
        "files": (["status_quo"], positional("sim.run.footprint.check_summaries", 1, Path(SCENARIO))),
        "--set": (
            ["status_quo", "--set", "mechanisms.pressure=0.05"],
            positional("sim.run.footprint.check_summaries", 0, "pressure set"),
        ),
    },
    "diff": {
        "a": ([], positional("sim.present.show.render_diff", 0, Path(SCENARIO))),
        "b": ([], positional("sim.present.show.render_diff", 1, Path("scenarios/back_to_back.toml"))),
        "--wide": (["--wide"], kw("sim.present.show.render_diff", "wide", True)),
        "--set": (
            ["--set", "mechanisms.pressure=0.05"],
            kw("sim.present.show.render_diff", "values", {"mechanisms.pressure": 0.05}),
        ),
    },
    "new": {
        "name": ([], positional("sim.spec.starter.write_starter", 0, Path("{tmp}/mine"))),
        "--force": (["--force"], kw("sim.spec.starter.write_starter", "force", True)),
    },
    "sweep": {
        "scenario": ([], called(SWEEP)),
        "path": ([], positional(SWEEP, 1, "mechanisms.pressure")),
        "--values": ([], positional(SWEEP, 2, "values 0, 1")),
        "--replicates": (["-n", "40"], kw(SWEEP, "replicates", 40)),
        "--steps": (["-t", "6"], positional(SWEEP, 0, "steps 6")),
        "--seed": (["--seed", "8"], kw(SWEEP, "seed", 8)),
        "--alliance": (["--alliance", "china_russia"], kw(SWEEP, "alliance", "china_russia")),
        "--workers": (["-j", "2"], kw(SWEEP, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(SWEEP, "workers", 999)),
        "--engine": (["--engine", "numba"], kw(SWEEP, "engine", "numba")),
        "--out": (
            ["--out", "{tmp}/s"],
            positional("sim.present.exploration.write_sweep", 1, Path("{tmp}/s")),
        ),
        "--force": (["--force", "--out", "{tmp}/has-sweep"], forced(SWEEP)),
        "--no-progress": (["--no-progress"], kw(SWEEP, "progress", False)),
        "--set": (["--set", "mechanisms.pressure=0.05"], positional(SWEEP, 0, "pressure set")),
    },
    "sweep-range": {
        "--range": ([], positional(SWEEP, 2, "seven values from 0 to 1")),
        "--points": (["--points", "3"], positional(SWEEP, 2, "values 0, 0.5, 1")),
        "--values": (["--values", "0,1"], REFUSED),  # with --range: they exclude each other
    },
    "experiment": {
        "scenario": ([], positional(EXPERIMENT, 0, "status quo")),
        "--factor": (
            ["-f", "mechanisms.noise=0.01,0.02,0.03"],
            positional(EXPERIMENT, 1, "factors pressure and noise"),
        ),
        "--design": (["--design", "lhs", "--points", "5"], kw(EXPERIMENT, "design", "lhs")),
        "--points": (["--design", "lhs", "--points", "5"], kw(EXPERIMENT, "points", 5)),
        "--replicates": (["-n", "40"], kw(EXPERIMENT, "replicates", 40)),
        "--steps": (["-t", "6"], positional(EXPERIMENT, 0, "steps 6")),
        "--seed": (["--seed", "8"], kw(EXPERIMENT, "seed", 8)),
        "--alliance": (["--alliance", "china_russia"], kw(EXPERIMENT, "alliance", "china_russia")),
        "--workers": (["-j", "2"], kw(EXPERIMENT, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(EXPERIMENT, "workers", 999)),
        "--engine": (["--engine", "numba"], kw(EXPERIMENT, "engine", "numba")),
        "--set": (["--set", "mechanisms.pressure=0.05"], positional(EXPERIMENT, 0, "pressure set")),
        "--out": (["--out", "{tmp}/e"], kw(EXPERIMENT, "out", Path("{tmp}/e"))),
        "--force": (["--force", "--out", "{tmp}/has-sweep"], forced(EXPERIMENT)),
        "--resume": (["--resume"], kw(EXPERIMENT, "resume", True)),
        "--no-progress": (["--no-progress"], kw(EXPERIMENT, "progress", False)),
    },
    "sensitivity": {
        "scenario": ([], positional(SENS, 0, "status quo")),
        "--set": (["--set", "mechanisms.pressure=0.05"], positional(SENS, 0, "pressure set")),
        "--method": (["--method", "morris"], kw(SENS, "method", "morris")),
        "--samples": (["-N", "64"], kw(SENS, "samples", 64)),
        "--replicates": (["-R", "5"], kw(SENS, "replicates", 5)),
        "--alliance": (["--alliance", "china_russia"], kw(SENS, "alliance", "china_russia")),
        "--include": (["--include", "mechanisms.*"], kw(SENS, "include", ["mechanisms.*"])),
        "--groups": (["--groups"], kw(SENS, "grouped", True)),
        "--steps": (["-t", "9"], kw(SENS, "steps", 9)),
        "--seed": (["--seed", "3"], kw(SENS, "seed", 3)),
        "--workers": (["-j", "2"], kw(SENS, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(SENS, "workers", 999)),
        "--engine": (["--engine", "numba"], kw(SENS, "engine", "numba")),
        "--top": (["--top", "4"], positional("sim.present.text.format_indices", 2, 4)),
        "--out": (
            ["--out", "{tmp}/x"],
            positional("sim.present.exploration.write_sensitivity", 1, Path("{tmp}/x")),
        ),
        "--force": (["--force", "--out", "{tmp}/has-sensitivity"], forced(SENS)),
        "--no-progress": (["--no-progress"], kw(SENS, "progress", False)),
    },
    "over-time": {
        "--over-time": ([], called(OVER)),
        "--samples": (["-N", "64"], kw(OVER, "samples", 64)),
        "--replicates": (["-R", "5"], kw(OVER, "replicates", 5)),
        "--alliance": (["--alliance", "china_russia"], kw(OVER, "alliance", "china_russia")),
        "--include": (["--include", "mechanisms.*"], kw(OVER, "include", ["mechanisms.*"])),
        "--groups": (["--groups"], REFUSED),
        "--steps": (["-t", "9"], kw(OVER, "steps", 9)),
        "--seed": (["--seed", "3"], kw(OVER, "seed", 3)),
        "--workers": (["-j", "2"], kw(OVER, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(OVER, "workers", 999)),
        "--engine": (["--engine", "numba"], kw(OVER, "engine", "numba")),
        "--top": (["--top", "4"], positional("sim.present.text.over_time_indices", 1, 4)),
        "--out": (
            ["--out", "{tmp}/t"],
            positional("sim.present.given_data_pages.write_sobol_over_time", 1, Path("{tmp}/t")),
        ),
        "--force": (["--force", "--out", "{tmp}/has-over-time"], forced(OVER)),
        "--no-progress": (["--no-progress"], kw(OVER, "progress", False)),
        "--set": (["--set", "mechanisms.pressure=0.05"], positional(OVER, 0, "pressure set")),
    },
    "given-data": {
        "scenario": ([], positional("sim.run.store.load_results", 0, Path("{tmp}"))),
        "--method": (["--method", "pawn"], positional(GIVEN, 1, "pawn")),
        "--alliance": (["--alliance", "china_russia"], positional(GIVEN, 2, "china_russia")),
        "--seed": (["--seed", "4"], kw(GIVEN, "seed", 4)),
        "--top": (["--top", "3"], positional("sim.present.text.format_given_data", 1, 3)),
        "--out": (
            ["--out", "{tmp}/g"],
            positional("sim.present.given_data_pages.write_given_data", 1, Path("{tmp}/g")),
        ),
        "--force": (["--force", "--out", "{tmp}/has-given"], forced(GIVEN)),
        **{
            flag: (argv, REFUSED)
            for flag, argv in {
                "--samples": ["-N", "64"],
                "--replicates": ["-R", "4"],
                "--over-time": ["--over-time"],
                "--include": ["--include", "x"],
                "--groups": ["--groups"],
                "--steps": ["-t", "4"],
                "--workers": ["-j", "2"],
                "--oversubscribe": ["--oversubscribe"],
                "--engine": ["--engine", "numba"],
                "--no-progress": ["--no-progress"],
                "--set": ["--set", "mechanisms.pressure=0.05"],
            }.items()
        },
    },
    "discover": {
        "results": ([], positional("sim.run.store.load_results", 0, Path("{tmp}"))),
        "--outcome": (["--outcome", "holds"], positional(DISCOVER, 1, "holds")),
        "--alliance": (["--alliance", "china_russia"], positional(DISCOVER, 2, "china_russia")),
        "--boxes": (["--boxes", "2"], kw(DISCOVER, "boxes", 2)),
        "--min-coverage": (["--min-coverage", "0.3"], kw(DISCOVER, "min_coverage", 0.3)),
        "--max-qp": (["--max-qp", "0.2"], kw(DISCOVER, "max_qp", 0.2)),
        "--out": (
            ["--out", "{tmp}/d"],
            positional("sim.present.exploration.write_discovery", 1, Path("{tmp}/d")),
        ),
        "--policy": (["--policy", "3"], REFUSED),
        "--include": (["--include", "x"], kw(DISCOVER, "include", ["x"])),
        "--force": (["--force"], kw("sim.cli.options.hold", "force", True)),
    },
    "discover-levers": {
        "--policy": (["--policy", "3"], positional(VULNERABLE, 1, 3)),
        "--include": (["--include", "mech*"], kw(VULNERABLE, "include", ["mech*"])),
        "--boxes": (["--boxes", "2"], kw(VULNERABLE, "boxes", 2)),
        "--min-coverage": (["--min-coverage", "0.3"], kw(VULNERABLE, "min_coverage", 0.3)),
        "--max-qp": (["--max-qp", "0.2"], kw(VULNERABLE, "max_qp", 0.2)),
        "--outcome": (["--outcome", "holds"], REFUSED),
        "--alliance": (["--alliance", "x"], REFUSED),
    },
    "landscape": {
        "scenario": ([], called("sim.model.landscape.tie_landscape")),
        "--top": (["--top", "2"], positional("sim.present.text.landscape", 3, 2)),
        "--set": (["--set", "mechanisms.pressure=0.05"], called("sim.model.landscape.tie_landscape")),
    },
    "app": {
        "--host": (["--host", "0.0.0.0"], positional(SERVE, 1, "0.0.0.0")),
        "--port": (["--port", "9000"], positional(SERVE, 2, 9000)),
        "--no-open": (["--no-open"], kw(SERVE, "open_browser", False)),
        "--assets": (["--assets", "{tmp}/a"], positional(PREPARE, 0, Path("{tmp}/a"))),
        "--prepare-only": (["--prepare-only"], called(SERVE, False)),
    },
    "levers": {
        "scenario": ([], positional(EVALUATE, 0, "scenario policy")),
        "--engine": (["--engine", "numba"], kw(EVALUATE, "engine", "numba")),
        "--policies": (["-N", "12"], kw(EVALUATE, "policies", 12)),
        "--grid": (["-K", "3"], kw(EVALUATE, "grid_values", 3)),
        "--worlds": (["-S", "5"], kw(EVALUATE, "worlds", 5)),
        "--replicates": (["-R", "2"], kw(EVALUATE, "replicates", 2)),
        "--owner": (["--owner", "NATO"], kw(EVALUATE, "owner", "NATO")),
        "--steps": (["-t", "6"], kw(EVALUATE, "steps", 6)),
        "--seed": (["--seed", "4"], kw(EVALUATE, "seed", 4)),
        "--workers": (["-j", "2"], kw(EVALUATE, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(EVALUATE, "workers", 999)),
        "--chunk-size": (["--chunk-size", "256"], kw(EVALUATE, "chunk_size", 256)),
        "--out": (["--out", "{tmp}/l"], kw(EVALUATE, "out", Path("{tmp}/l"))),
        "--force": (["--force"], kw(EVALUATE, "force", True)),
        "--resume": (["--resume"], kw(EVALUATE, "resume", True)),
        "--top": (["--top", "3"], positional("sim.present.text.format_policies", 1, 3)),
        "--no-report": (["--no-report"], called("sim.present.policy_pages.write_policy_report", False)),
        "--no-progress": (["--no-progress"], kw(EVALUATE, "progress", False)),
        "--set": (["--set", "mechanisms.pressure=0.05"], positional(EVALUATE, 0, "pressure set")),
    },
    "optimize": {
        "scenario": ([], positional(OPTIMIZE, 0, "scenario policy")),
        "--engine": (["--engine", "numba"], kw(OPTIMIZE, "engine", "numba")),
        "--evaluations": (["-e", "50"], kw(OPTIMIZE, "evaluations", 50)),
        "--population": (["--population", "10"], kw(OPTIMIZE, "population", 10)),
        "--worlds": (["-S", "5"], kw(OPTIMIZE, "worlds", 5)),
        "--replicates": (["-R", "2"], kw(OPTIMIZE, "replicates", 2)),
        "--statistic": (["--statistic", "p10"], kw(OPTIMIZE, "statistic", "p10")),
        "--owner": (["--owner", "NATO"], kw(OPTIMIZE, "owner", "NATO")),
        "--steps": (["-t", "6"], kw(OPTIMIZE, "steps", 6)),
        "--seed": (["--seed", "4"], kw(OPTIMIZE, "seed", 4)),
        "--workers": (["-j", "2"], kw(OPTIMIZE, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(OPTIMIZE, "workers", 999)),
        "--out": (["--out", "{tmp}/z"], kw(OPTIMIZE, "out", Path("{tmp}/z"))),
        "--force": (["--force"], kw("sim.cli.options.hold", "force", True)),
        "--resume": (["--resume"], kw(OPTIMIZE, "resume", True)),
        "--no-report": (["--no-report"], called("sim.present.policy_pages.write_search_report", False)),
        "--no-progress": (["--no-progress"], ("generation shown", False)),
        "--set": (["--set", "mechanisms.pressure=0.05"], positional(OPTIMIZE, 0, "pressure set")),
    },
    "score": {
        "--engine": (["--engine", "numba"], kw(SCORE, "engine", "numba")),
        "--method": (["--method", "smc"], kw(SCORE, "method", "smc")),
        "--particles": (["--method", "smc", "--particles", "64"], kw(SCORE, "particles", 64)),
        "scenarios": ([], positional(SCORE, 0, [Path(SCENARIO)])),
        "--observations": ([], positional(SCORE, 1, Path("obs.toml"))),
        "--replicates": (["-n", "100"], kw(SCORE, "replicates", 100)),
        "--seed": (["--seed", "6"], kw(SCORE, "seed", 6)),
        "--workers": (["-j", "2"], kw(SCORE, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(SCORE, "workers", 999)),
        "--out": (
            ["--out", "{tmp}/sc"],
            positional("sim.present.calibration_pages.write_scores_report", 2, Path("{tmp}/sc/report.html")),
        ),
        "--no-progress": (["--no-progress"], kw(SCORE, "progress", False)),
        "--set": (["--set", "mechanisms.pressure=0.05"], kw(SCORE, "values", {"mechanisms.pressure": 0.05})),
        "--force": (["--out", "{tmp}/sc", "--force"], kw("sim.cli.options.hold", "force", True)),
    },
    "calibrate": {
        "--engine": (["--engine", "numba"], kw(CALIBRATE, "engine", "numba")),
        "--method": (["--method", "smc"], kw(CALIBRATE, "method", "smc")),
        "--particles": (["--particles", "64"], kw(CALIBRATE, "particles", 64)),
        "scenario": ([], positional(CALIBRATE, 0, Path(SCENARIO))),
        "--observations": ([], positional(CALIBRATE, 1, Path("obs.toml"))),
        "--replicates": (["-n", "100"], kw(CALIBRATE, "replicates", 100)),
        "--seed": (["--seed", "6"], kw(CALIBRATE, "seed", 6)),
        "--min-accepted": (["--min-accepted", "7"], kw(CALIBRATE, "min_accepted", 7)),
        "--workers": (["-j", "2"], kw(CALIBRATE, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(CALIBRATE, "workers", 999)),
        "--exclude": (["--exclude", "a", "--exclude", "b"], kw(CALIBRATE, "exclude", ["a", "b"])),
        "--out": (["--out", "{tmp}/cal"], kw(CALIBRATE, "out", Path("{tmp}/cal"))),
        "--force": (["--force"], kw(CALIBRATE, "force", True)),
        "--no-progress": (["--no-progress"], kw(CALIBRATE, "progress", False)),
        "--set": (
            ["--set", "mechanisms.pressure=0.05"],
            kw(CALIBRATE, "values", {"mechanisms.pressure": 0.05}),
        ),
        "--no-report": (["--no-report"], called("sim.analysis.calibration.project", False)),
    },
    "backtest": {
        "--engine": (["--engine", "numba"], kw(BACKTEST, "engine", "numba")),
        "--method": (["--method", "rejection"], kw(BACKTEST, "method", "rejection")),
        "--particles": (["--particles", "64"], kw(BACKTEST, "particles", 64)),
        "scenario": ([], positional(BACKTEST, 0, Path(SCENARIO))),
        "--observations": ([], positional(BACKTEST, 1, Path("obs.toml"))),
        "--until": ([], positional(BACKTEST, 2, dt.date(2024, 12, 31))),
        "--replicates": (["-n", "100"], kw(BACKTEST, "replicates", 100)),
        "--seed": (["--seed", "6"], kw(BACKTEST, "seed", 6)),
        "--workers": (["-j", "2"], kw(BACKTEST, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(BACKTEST, "workers", 999)),
        "--out": (
            ["--out", "{tmp}/bt"],
            positional(
                "sim.present.calibration_pages.write_backtest_report", 1, Path("{tmp}/bt/report.html")
            ),
        ),
        "--force": (["--out", "{tmp}/bt", "--force"], kw("sim.cli.options.hold", "force", True)),
        "--no-progress": (["--no-progress"], kw(BACKTEST, "progress", False)),
    },
    "identify": {
        "--engine": (["--engine", "numba"], kw(IDENTIFY, "engine", "numba")),
        "scenario": ([], positional(IDENTIFY, 0, Path(SCENARIO))),
        "--observations": ([], positional(IDENTIFY, 1, Path("obs.toml"))),
        "--set": (
            ["--set", "mechanisms.pressure=0.05"],
            kw(IDENTIFY, "values", {"mechanisms.pressure": 0.05}),
        ),
        "--replicates": (["-n", "100"], kw(IDENTIFY, "replicates", 100)),
        "--seed": (["--seed", "6"], kw(IDENTIFY, "seed", 6)),
        "--workers": (["-j", "2"], kw(IDENTIFY, "workers", 2)),
        "--oversubscribe": (["-j", "999", "--oversubscribe"], kw(IDENTIFY, "workers", 999)),
        "--values": (
            ["--values", "mechanisms.pressure, mechanisms.threat"],
            kw(IDENTIFY, "show", ["mechanisms.pressure", "mechanisms.threat"]),
        ),
        "--exclude": (["--exclude", "a", "--exclude", "b"], kw(IDENTIFY, "exclude", ["a", "b"])),
        "--no-progress": (["--no-progress"], kw(IDENTIFY, "progress", False)),
    },
}

# Values checked through what they become rather than as given.
DERIVED = {
    "values 0, 1": lambda v: list(v) == [0.0, 1.0],
    "values 0, 0.5, 1": lambda v: list(v) == [0.0, 0.5, 1.0],
    "seven values from 0 to 1": lambda v: len(v) == 7 and (v[0], v[-1]) == (0.0, 1.0),
    "rows of only": lambda rows: [name for name, _ in rows] == ["only"],
    "steps 6": lambda scenario: scenario.run.steps == 6,
    "scenario policy": lambda scenario: scenario.title.startswith("Policy"),
    "factors pressure and noise": lambda fs: (
        [(f.path, f.values) for f in fs]
        == [("mechanisms.pressure", (0.0, 0.1)), ("mechanisms.noise", (0.01, 0.02, 0.03))]
    ),
    "status quo": lambda scenario: scenario.title.startswith("Status quo"),
    "pressure set": lambda scenario: (
        scenario.overrides == {"mechanisms.pressure": 0.05} and scenario.mechanisms.pressure == 0.05
    ),
}


def _options_of(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        a.option_strings[0] if a.option_strings else a.dest
        for a in sub.choices[command]._actions
        if not isinstance(a, argparse._HelpAction)
    }


def test_every_option_of_every_command_is_in_the_table():
    """The table covers each command's every option (in at least one of its modes)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command in sub.choices:
        modes = [m for m, (argv, _) in MODES.items() if argv[0] == command]
        covered = set().union(*(TABLE[m] for m in modes)) if modes else set()
        assert _options_of(command) <= covered, (command, sorted(_options_of(command) - covered))


def _fill(value, tmp: Path):
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp)).replace("{levers}", str(tmp / "levers"))
    if isinstance(value, Path):
        return Path(_fill(str(value), tmp))
    if isinstance(value, list):
        return [_fill(v, tmp) for v in value]
    return value


class Recorder:
    """Stands in for library functions: records each call, returns a mock."""

    def __init__(self, monkeypatch):
        self.calls: dict[str, list] = defaultdict(list)
        self.monkeypatch = monkeypatch

    def replace(self, dotted: str | tuple, returns=None):
        if isinstance(dotted, tuple):
            dotted, returns = dotted
        module, name = dotted.rsplit(".", 1)

        def fake(*args, **kwargs):
            self.calls[dotted].append((args, kwargs))
            return MagicMock() if returns is None else returns

        self.monkeypatch.setattr(f"{module}.{name}", fake)


@pytest.fixture
def folders(tmp_path):
    (tmp_path / "levers").mkdir()
    (tmp_path / "levers" / "manifest.json").write_text('{"kind": "levers"}')
    for name, marker in (
        ("has-sweep", "sweep.csv"),
        ("has-sensitivity", "sensitivity.json"),
        ("has-over-time", "sobol_over_time_ST.csv"),
        ("has-given", "indices.csv"),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / marker).write_text("")
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "only.toml").write_text("title = 1\n")
    return tmp_path


CASES = [(mode, option) for mode, rows in TABLE.items() for option in rows]


@pytest.mark.parametrize("mode, option", CASES, ids=[f"{m}:{o}" for m, o in CASES])
def test_the_option_reaches_what_it_configures(mode, option, folders, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    base, replaced = MODES[mode]
    extra, check = TABLE[mode][option]
    rec = Recorder(monkeypatch)
    for dotted in replaced:
        rec.replace(dotted)
    for name in dir(text):  # the terminal text: recorded, never formatted from mocks
        if (
            not name.startswith("_")
            and callable(getattr(text, name))
            and getattr(text, name).__module__ == text.__name__
        ):
            rec.replace(f"sim.present.text.{name}", returns="")
    client = MagicMock()
    client.get_executor.return_value = "the dask executor"

    def executor(args):
        if not args.scheduler:
            return None, None
        if args.scheduler_timeout != 10:  # the timeout reaches the executor
            client.get_executor.return_value = f"timeout {args.scheduler_timeout:g}"
        return client, None

    monkeypatch.setattr("sim.cli.options.executor", executor)
    monkeypatch.setattr("sim.cli.options.cores", lambda: 64)  # -j is capped at the cores
    monkeypatch.setattr("sim.run.lanes.can_fork", lambda: False)  # runs here, where the recorder is
    argv = [_fill(a, folders) for a in [*base, *extra]]
    if check[0] == "forced":
        assert main([a for a in argv if a != "--force"]) == 2
        assert "--force" in capsys.readouterr().err and not rec.calls[check[1]]
    code = main(argv)
    err = capsys.readouterr().err
    if check == REFUSED:
        assert code == 2 and err.count("\n") == 1, err
        assert option in err or "exclude each other" in err, err
        return
    assert code == 0, err
    kind, *rest = check
    if kind == "forced":
        assert rec.calls[rest[0]], (option, "not run with --force")
        return
    if kind == "called":
        target, yes = rest
        assert bool(rec.calls[target]) == yes, (target, dict(rec.calls))
        return
    if kind == "generation shown":  # --no-progress silences the per-generation line
        ((_, k),) = rec.calls[OPTIMIZE]
        k["on_generation"](
            {"generation": 1, "evaluations": 10, "front": 2, "hypervolume": 0.5, "seconds": 1.0}
        )
        assert bool(rec.calls["sim.present.text.generation"]) == rest[0]
        return
    target, where, expected = rest
    assert rec.calls[target], (target, "not called", dict(rec.calls))
    args, kwargs = rec.calls[target][-1]
    got = kwargs[where] if kind == "kw" else args[where]
    expected = _fill(expected, folders)
    if isinstance(expected, str) and expected in DERIVED:
        assert DERIVED[expected](got), (option, got)
    else:
        assert got == expected, (option, got)


def test_scenario_names_work_in_every_command_that_takes_a_scenario(monkeypatch):
    """`calibrate status_quo` and `levers policy` once answered "no such file"."""
    monkeypatch.chdir(ROOT)
    rec = Recorder(monkeypatch)
    rec.replace(CALIBRATE)
    rec.replace(EVALUATE)
    for name in (
        "calibration",
        "posterior_written",
        "written",
        "policy_evaluation",
        "format_policies",
        "lever_importance",
    ):
        rec.replace(f"sim.present.text.{name}", returns="")
    assert main(["calibrate", "status_quo", "--observations", "o.toml", "--no-report"]) == 0
    assert rec.calls[CALIBRATE][0][0][0] == Path(SCENARIO)
    assert main(["levers", "policy", "--no-report"]) == 0
    assert rec.calls[EVALUATE][0][0][0].title.startswith("Policy")


def test_an_unknown_scenario_name_lists_the_ready_ones(capsys):
    assert main(["levers", "polcy"]) == 2
    err = capsys.readouterr().err
    assert "no ready scenario of that name; did you mean policy?" in err and err.count("\n") == 1


def test_every_command_defaults_to_all_cores():
    """One default for --workers everywhere (score and calibrate once ran on one core)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    with_workers = [
        c for c, p in sub.choices.items() if any("--workers" in a.option_strings for a in p._actions)
    ]
    assert {"run", "compare", "sweep", "sensitivity", "levers", "optimize", "score", "calibrate"} <= set(
        with_workers
    )
    for command in with_workers:
        assert sub.choices[command].get_default("workers") is None, command
