"""Speed and memory of the experiment runner and the engines, printed as tables (not a test).

    ./alliance test --co -q >/dev/null   # (once) make sure .venv exists
    .venv/bin/python benchmarks/bench.py            # everything, about 10 minutes on 2 cores
    .venv/bin/python benchmarks/bench.py --quick    # skip the 1,000,000-replicate run
    .venv/bin/python benchmarks/bench.py --phases   # only where a step's time goes (seconds)
    .venv/bin/python benchmarks/bench.py --pages    # only the pages (tables 8 and 9)

Every figure is measured in this run, side by side, so ratios hold even on a noisy machine. The
numba engine's figures appear beside the numpy engine's when numba is installed
(``alliance-sim[fast]``). The benchmark unsets ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (some
machines set them; they slow numpy's small matrix products by 15-20 %) and says so; it prints the
load average beside the tables, since other work on the machine slows every figure.

0. the numba engine's one-off compile time (empty cache) and its load time from the cache;
1. replicate-steps per second on the 10-actor ``status_quo`` scenario for
   (a) ``mesa.batch_run`` over :class:`sim.model.reference.ReferenceModel` (one Mesa model per replicate,
       agents deciding in turn: what a Mesa user would write),
   (b) ``mesa.batch_run`` over :class:`sim.AllianceModel` (one replicate per model, on the kernel),
   (c) :func:`sim.run_ensemble` with 1 worker and with all cores, numpy engine then numba engine,
   and the ratios (c)/(a), (c)/(b) and numba/numpy;
2. wall time and peak resident memory (the run's whole process tree) of a 1,000,000-replicate,
   120-step run through the command line, with each engine;
3. how time grows with replicates (10^3..10^6), steps and actors (5..40);
4. replicate-steps per second by chunk size (how the default was chosen);
5. where one replicate-step's time goes: one 4,096-replicate chunk in this process, each phase
   of the step timed around its function (numpy engine), and the same chunk on the numba engine
   (the compiled stretches, per-chunk work);
6. what a user waits for, through the command line (start-up, writing and merging included):
   ``alliance-sim run status_quo -n 65536 --workers 1`` on each engine side by side (wall and CPU
   seconds, the numba/numpy ratio), and ``run -n 524288 -j 2 --engine numba`` in replicate-steps
   per second against 3,000,000;
7. warm workers: consecutive designs in one process on two workers, each starting its own pool
   (as before) against the process's warm pool.
8. simulation against page time for ``run -n 2000`` and the README's first command, before and
   after the pages were made fast, side by side (``benchmarks/page_bench.py``);
9. ``report`` on 2,000, 100,000 and 1,000,000 replicates: wall time and the process tree's peak
   memory (``benchmarks/page_bench.py``).

    .venv/bin/python benchmarks/bench.py --cli      # tables 6 and 7 only (about 3 minutes)
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sim import AllianceModel, load_scenario  # noqa: E402
from sim.model import dynamics  # noqa: E402
from sim.model.reference import ReferenceModel  # noqa: E402
from sim.run import chunks, collectors  # noqa: E402
from sim.run.chunks import replicate_task, run_chunk  # noqa: E402
from sim.run.ensemble import run_ensemble  # noqa: E402
from sim.spec.scenario import Scenario  # noqa: E402

STATUS_QUO = ROOT / "scenarios" / "status_quo.toml"


def rate(fn, rep_steps: int, repeat: int = 1) -> float:
    """Best replicate-steps per second over ``repeat`` calls."""
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return rep_steps / best


def batch_run_rate(model_cls, runs: int, steps: int) -> float:
    import mesa

    scenario = load_scenario(STATUS_QUO).with_run(steps=steps)
    # a Scenario is iterable (pydantic), so it goes in a one-element list
    return rate(
        lambda: mesa.batch_run(
            model_cls,
            parameters={"scenario": [scenario]},
            rng=list(range(runs)),
            max_steps=steps,
            number_processes=1,
            display_progress=False,
        ),
        runs * steps,
    )


def ensemble_rate(
    n: int,
    steps: int,
    workers: int,
    scenario=STATUS_QUO,
    chunk_size=4096,
    engine: str = "numpy",
    repeat: int = 1,
) -> float:
    def go():
        with tempfile.TemporaryDirectory() as out:
            run_ensemble(
                scenario,
                replicates=n,
                steps=steps,
                workers=workers,
                out=Path(out) / "r",
                progress=False,
                chunk_size=chunk_size,
                engine=engine,
            )

    return rate(go, n * steps, repeat)


OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: what an ordinary machine does not set: OpenBLAS tuned for another core (it slows numpy's small
#: matrix products here), and Python told not to write its bytecode (every command would compile
#: the modules changed since the bytecode was last written, and all of a tree exported for a
#: comparison: up to half a second, what the package's 119 modules take to compile, that the
#: other side of the comparison does not pay)
ORDINARY_UNSET = (*OPENBLAS_VARS, "PYTHONDONTWRITEBYTECODE")
UNSET_MARK = "ALLIANCE_BENCH_UNSET"


def unset_openblas() -> None:
    """Re-run this script without the variables of :data:`ORDINARY_UNSET` if any is set, and
    compile this checkout's modules (as Python does on a machine that writes its bytecode)."""
    present = [v for v in ORDINARY_UNSET if v in os.environ]
    if present and UNSET_MARK not in os.environ:
        env = {k: v for k, v in os.environ.items() if k not in ORDINARY_UNSET}
        env[UNSET_MARK] = ",".join(present)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    compile_tree(ROOT)


def compile_tree(code: Path) -> None:
    """Write the bytecode of the package in ``code`` (quietly; what is current is kept), so that
    no measured command compiles modules from source."""
    import compileall

    compileall.compile_dir(str(code / "sim"), quiet=2)


def environment_note() -> str:
    """What the benchmark changed in its environment, and the load it ran under."""
    unset = os.environ.get(UNSET_MARK)
    note = (
        f"ran with {', '.join(unset.split(','))} unset (as on an ordinary machine)"
        if unset
        else "OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE and PYTHONDONTWRITEBYTECODE not set"
    )
    return f"{note}; load average {load()}"


def load() -> str:
    """The 1-minute load average (other processes slow every figure)."""
    return f"{os.getloadavg()[0]:.1f}"


def numba_ready() -> bool:
    """Whether the numba engine can run here (alliance-sim[fast] installed)."""
    from sim.model import numba_engine

    return numba_engine.available()


def compile_times() -> tuple[float, float]:
    """Seconds to compile the numba kernel into an empty cache, then to load it from that cache,
    each in a fresh process."""
    code = "from sim.model.numba_engine import compile_seconds; print(compile_seconds())"
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code],
                    cwd=ROOT,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()[-1]
            )
            for _ in range(2)
        ]
    return out[0], out[1]


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (from /proc)."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def big_run(n: int, steps: int, engine: str = "numpy") -> tuple[float, float]:
    """Wall seconds and peak tree RSS (MiB) of ``alliance-sim run`` with n replicates."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            "-m",
            "sim.cli",
            "run",
            str(STATUS_QUO),
            "-n",
            str(n),
            "-t",
            str(steps),
            "--out",
            str(Path(out) / "r"),
            "--no-progress",
            "--no-report",
            "--engine",
            engine,
        ]
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss_kib(proc.pid))
            time.sleep(0.1)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"run failed with exit code {proc.returncode}")
    return wall, peak / 1024


def synthetic(actors: int, steps: int) -> Scenario:
    """A scenario of ``actors`` actors with every force on, for scaling measurements."""
    rng = np.random.default_rng(actors)
    names = [f"s{i}" for i in range(actors)]
    issues = {f"k{k}": {} for k in range(5)}
    W = rng.uniform(-0.5, 0.5, (actors, actors))
    return Scenario.model_validate(
        {
            "actors": {n: {"capability": float(rng.uniform(0.1, 1)), "growth": 0.002} for n in names},
            "issues": issues,
            "positions": {n: {k: float(rng.uniform(0, 10)) for k in issues} for n in names},
            "salience": {n: {k: float(rng.uniform(0.1, 1)) for k in issues} for n in names},
            "tie_matrix": [[0.0 if i == j else float(W[i, j]) for j in range(actors)] for i in range(actors)],
            "spheres": {names[0]: {names[2]: 0.8}, names[1]: {names[2]: 0.6}},
            "dependence": {names[0]: {names[3]: 0.3}},
            "pressure": {names[0]: 0.5, names[1]: 0.6},
            "mechanisms": {
                "affinity": 0.05,
                "balance": 0.03,
                "threat": 0.1,
                "pressure": 0.1,
                "competition": 0.04,
                "dependence": 0.04,
                "noise": 0.03,
            },
            "alliances": {"pair": {"members": names[:2]}},
            "run": {"steps": steps},
        }
    )


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print("  " + "  ".join(f"{h:>{w}}" for h, w in zip(header, widths)))
    for r in rows:
        print("  " + "  ".join(f"{x:>{w}}" for x, w in zip(r, widths)))


PHASES = [  # (module, function, phase): the step calls these through their module's globals
    (dynamics, "increments", "forces (products and element-wise passes)"),
    (dynamics, "draw", "random draws (noise, events, decisions)"),
    (dynamics, "decide", "alliance decisions"),
    (dynamics, "apply_events", "events"),
    (dynamics, "grow", "growth"),
    (collectors, "balanced_share", "per-step summaries"),
    (dynamics, "cohesion", "per-step summaries"),
    (collectors, "cohesion_bins", "per-step summaries"),
    (chunks, "compile_params", "per-chunk work (parameters, blocs, the replicate table)"),
    (collectors, "best_partition", "per-chunk work (parameters, blocs, the replicate table)"),
    (collectors, "encode_table", "per-chunk work (parameters, blocs, the replicate table)"),
]


def profile_chunk(phases, engine: str = "numpy", n: int = 4096, repeat: int = 3):
    """Nanoseconds per replicate-step of one chunk on ``engine``, in total and in each of
    ``phases`` (``(owner, attribute, phase)``: the function ``owner.attribute``, which the chunk
    calls through its owner, is timed as part of ``phase``), best of ``repeat``."""
    scenario = load_scenario(STATUS_QUO)
    steps = scenario.run.steps
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in phases]
    spent: collections.Counter = collections.Counter()

    def timed(fn, phase):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[phase] += time.perf_counter() - t

        return wrapper

    best_total, best = np.inf, {}
    try:
        for (owner, name, fn), (_, _, phase) in zip(saved, phases):
            setattr(owner, name, timed(fn, phase))
        for _ in range(repeat):
            spent.clear()
            t = time.perf_counter()
            run_chunk(replicate_task(scenario, 0, 0, n, 1, engine=engine))
            total = time.perf_counter() - t
            if total < best_total:
                best_total, best = total, dict(spent)
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)
    scale = 1e9 / (n * steps)
    return best_total * scale, {k: v * scale for k, v in best.items()}


def main() -> None:
    unset_openblas()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 10^6-replicate runs")
    parser.add_argument(
        "--phases", action="store_true", help="only table 5, where one replicate-step's time goes (seconds)"
    )
    parser.add_argument(
        "--cli", action="store_true", help="only tables 6 and 7, the command line and warm workers"
    )
    parser.add_argument("--pages", action="store_true", help="only tables 8 and 9, the pages")
    args = parser.parse_args()
    if args.pages or not args.phases:
        import page_bench
    if args.pages:
        page_bench.main([])
        return
    cores = os.cpu_count() or 1
    steps = 120
    fast = numba_ready()
    print(
        f"alliance-sim benchmarks: {cores} cores, numpy {np.__version__}, python "
        f"{sys.version.split()[0]}; {environment_note()}"
    )
    if not fast:
        print("numba is not installed: numpy engine only (pip install 'alliance-sim[fast]')")
    if args.phases:
        run_chunk(replicate_task(load_scenario(STATUS_QUO).with_run(steps=5), 0, 0, 64, 1))
        phases_table(fast)
        return
    if args.cli:
        cli_tables(fast)
        return

    if fast:
        cold, warm = compile_times()
        table(
            "0. numba engine: one-off compilation of the kernel (both precisions, fresh process)",
            ["empty cache s", "from the cache s"],
            [[f"{cold:.1f}", f"{warm:.1f}"]],
        )
    # warm-up (imports, the normal table, the compiled kernel)
    for engine in ("numpy", "numba") if fast else ("numpy",):
        run_chunk(replicate_task(load_scenario(STATUS_QUO).with_run(steps=5), 0, 0, 64, 1, engine=engine))
    ref = batch_run_rate(ReferenceModel, 3, steps)
    mesa_kernel = batch_run_rate(AllianceModel, 20, steps)
    rates = {}
    for workers, n in ((1, 65536), (cores, 131072)):
        for engine in ("numpy", "numba") if fast else ("numpy",):
            rates[engine, workers] = ensemble_rate(n, steps, workers, engine=engine, repeat=2)
    rows = [
        ["(a) mesa.batch_run, sim.model.reference", f"{ref:,.0f}", "1", "", ""],
        ["(b) mesa.batch_run, AllianceModel", f"{mesa_kernel:,.0f}", f"{mesa_kernel / ref:,.0f}", "1", ""],
    ]
    for (engine, workers), r in rates.items():
        ratio = f"{r / rates['numpy', workers]:.2f}" if engine != "numpy" else "1"
        rows.append(
            [
                f"(c) run_ensemble, {engine} engine, {workers} worker{'s' * (workers > 1)}",
                f"{r:,.0f}",
                f"{r / ref:,.0f}",
                f"{r / mesa_kernel:,.0f}",
                ratio,
            ]
        )
    table(
        f"1. replicate-steps per second, status_quo (10 actors, 120 steps; load {load()})",
        ["engine", "rep-steps/s", "vs (a)", "vs (b)", "vs numpy engine"],
        rows,
    )

    if not args.quick:
        rows = []
        for engine in ("numpy", "numba") if fast else ("numpy",):
            wall, peak = big_run(1_000_000, steps, engine)
            rows.append([engine, f"{wall:.1f}", f"{1_000_000 * steps / wall:,.0f}", f"{peak:,.0f}", load()])
        table(
            "2. 1,000,000 replicates x 120 steps through `alliance-sim run` (all cores)",
            ["engine", "wall s", "rep-steps/s", "peak RSS of the process tree (MiB)", "load"],
            rows,
        )

    sizes = [1_000, 10_000, 100_000] + ([] if args.quick else [1_000_000])
    rows = []
    for n in sizes:
        t = n * steps / ensemble_rate(n, steps, cores)
        rows.append([f"{n:,}", f"{t:.2f}", f"{t / n * 1e6:.2f}"])
    table(
        f"3a. time by replicates ({steps} steps, {cores} workers)",
        ["replicates", "seconds", "us per replicate"],
        rows,
    )
    rows = []
    for s in (30, 60, 120, 240):
        t = 16384 * s / ensemble_rate(16384, s, cores)
        rows.append([s, f"{t:.2f}", f"{t / s * 1e3:.1f}"])
    table("3b. time by steps (16,384 replicates)", ["steps", "seconds", "ms per step"], rows)
    rows = []
    for a in (5, 10, 20, 40):
        sc = synthetic(a, steps)
        r = ensemble_rate(8192, steps, cores, scenario=sc)
        rows.append([a, f"{r:,.0f}", f"{1e9 / r / (a * a):.1f}"])
    table(
        "3c. speed by actors (8,192 replicates, 120 steps, every force on)",
        ["actors", "rep-steps/s", "ns per tie-step"],
        rows,
    )
    rows = []
    for cs in (1024, 2048, 4096, 8192, 16384):
        rows.append([cs, f"{ensemble_rate(32768, steps, 1, chunk_size=cs):,.0f}"])
    table("4. chunk size (1 worker, 32,768 replicates)", ["chunk size", "rep-steps/s"], rows)

    phases_table(fast)
    cli_tables(fast)
    page_bench.main(["--sizes", "2000,100000"] if args.quick else [])


NUMBA_PHASES = [  # (module, function, phase) of the numba engine's chunk
    ("sim.run.chunks", "compile_params", "per-chunk work (parameters, blocs, the replicate table)"),
    ("sim.run.collectors", "best_partition", "per-chunk work (parameters, blocs, the replicate table)"),
    ("sim.run.collectors", "encode_table", "per-chunk work (parameters, blocs, the replicate table)"),
]


def numba_phase_profile() -> tuple[float, dict[str, float]]:
    """The numba engine's chunk: nanoseconds per replicate-step in total, in the compiled stretches
    (the draws and everything of the step, summaries included) and in per-chunk work."""
    import importlib

    from sim.model import numba_engine

    stretch = "compiled stretches (draws, events, decisions, forces, noise, growth, summaries)"
    phases = [(importlib.import_module(m), name, phase) for m, name, phase in NUMBA_PHASES]
    return profile_chunk([*phases, (numba_engine._Run, "stretch", stretch)], engine="numba")


def cli_run(n: int, workers: int, engine: str, steps: int = 120) -> tuple[float, float]:
    """Wall and CPU seconds (the process tree's user + system time) of ``alliance-sim run
    status_quo`` as a user types it, without the report."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "sim.cli", "run", str(STATUS_QUO), "-n", str(n), "-t", str(steps)]
        cmd += ["-j", str(workers), "--engine", engine, "--out", str(Path(out) / "r")]
        cmd += ["--no-progress", "--no-report"]
        before = os.times()
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def cli_tables(fast: bool, repeat: int = 2) -> None:
    """Tables 6 and 7: the command line end to end, and warm workers."""
    steps = 120
    engines = ("numpy", "numba") if fast else ("numpy",)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeat):  # alternating, so that both engines see the same load
        for engine in engines:
            wall, cpu = cli_run(65536, 1, engine)
            if engine not in best or wall < best[engine][0]:
                best[engine] = (wall, cpu)
    rows = []
    for engine, (wall, cpu) in best.items():
        ratio = f"{best['numpy'][0] / wall:.2f}" if engine != "numpy" else "1"
        rows.append([engine, f"{wall:.1f}", f"{cpu:.1f}", f"{65536 * steps / wall:,.0f}", ratio])
    table(
        f"6a. `alliance-sim run status_quo -n 65536 --workers 1` (120 steps, no report; best of {repeat}, "
        f"engines alternating; load {load()})",
        ["engine", "wall s", "CPU s", "rep-steps/s", "numba / numpy (wall)"],
        rows,
    )
    print(
        "  CPU s is the user + system time of the command's processes. With one worker a chunk steps in\n"
        "  one thread while others draw the next chunk's parameters, build the last one's table and\n"
        "  store it: on an idle machine CPU above wall is that overlap (a second core at work)"
    )
    if fast:
        n = 524288
        wall, cpu = cli_run(n, 2, "numba")
        table(
            f"6b. `alliance-sim run status_quo -n {n:,} -j 2 --engine numba` (start-up included; "
            f"load {load()})",
            ["wall s", "CPU s", "rep-steps/s", "target"],
            [[f"{wall:.1f}", f"{cpu:.1f}", f"{n * steps / wall:,.0f}", "3,000,000"]],
        )
    warm_table("numba" if fast else "numpy")


def warm_table(engine: str, calls: int = 4) -> None:
    """Seconds of consecutive short designs (a 24-step sweep point of 8,192 replicates each) on
    two workers: a pool started and shut down for each (cold) against the process's warm pool."""
    from sim.run.collectors import OutcomeCollector
    from sim.run.designs import Design
    from sim.run.ensemble import run_design
    from sim.run.executors import local_executor

    scenario = load_scenario(STATUS_QUO).with_run(steps=24)

    def design(seed: int, executor=None) -> float:
        t = time.perf_counter()
        run_design(
            scenario,
            Design.single(8192),
            OutcomeCollector(),
            seed=seed,
            workers=2,
            executor=executor,
            engine=engine,
            progress=False,
        )
        return time.perf_counter() - t

    rows = []
    for c in range(calls):
        pool = local_executor(2)  # a pool of the call's own, as every call had before
        try:
            cold = design(c, pool)
        finally:
            pool.shutdown()
        rows.append([c + 1, f"{cold:.2f}", f"{design(c):.2f}"])
    table(
        f"7. consecutive designs in one process, 2 workers, {engine} engine (8,192 replicates x 24 steps "
        f"each; load {load()})",
        ["call", "own pool s", "warm pool s"],
        rows,
    )


def phases_table(fast: bool = False) -> None:
    total, phases = profile_chunk(PHASES)
    rows = [[k, f"{v:,.0f}", f"{v / total:.0%}"] for k, v in sorted(phases.items(), key=lambda kv: -kv[1])]
    rows.append(
        [
            "the rest (update of the ties, pressure, defections, bookkeeping)",
            f"{total - sum(phases.values()):,.0f}",
            f"{1 - sum(phases.values()) / total:.0%}",
        ]
    )
    rows.append(["total", f"{total:,.0f}", "100%"])
    table(
        f"5a. where one replicate-step's time goes, numpy engine (1 core, one 4,096-replicate "
        f"chunk, timed around each phase; load {load()})",
        ["phase", "ns per replicate-step", "share"],
        rows,
    )
    if not fast:
        return
    run_chunk(replicate_task(load_scenario(STATUS_QUO).with_run(steps=5), 0, 0, 64, 1, engine="numba"))
    ntotal, nphases = numba_phase_profile()
    rows = [[k, f"{v:,.0f}", f"{v / ntotal:.0%}"] for k, v in sorted(nphases.items(), key=lambda kv: -kv[1])]
    rows.append(
        [
            "the rest (packing the state into tiles and back, bookkeeping)",
            f"{ntotal - sum(nphases.values()):,.0f}",
            f"{1 - sum(nphases.values()) / ntotal:.0%}",
        ]
    )
    rows.append(["total", f"{ntotal:,.0f}", "100%"])
    table(
        f"5b. the same chunk on the numba engine (load {load()})",
        ["phase", "ns per replicate-step", "share"],
        rows,
    )
    print(
        f"\n  numba engine / numpy engine on this chunk: {total / ntotal:.2f} x the replicate-steps per "
        "second"
    )


if __name__ == "__main__":
    main()
