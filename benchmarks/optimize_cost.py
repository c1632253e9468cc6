"""Where the time of a many-objective policy search goes: the driver or the workers.

``alliance-sim optimize scenarios/policy.toml --evaluations 400 --seed 5`` without ``--owner``
judges policies by all eight metrics of the shipped policy file. The convergence measure, the
hypervolume of each generation's non-dominated set, is exact up to four objectives and a Monte
Carlo estimate above (Bader & Zitzler 2011); this script runs that search in-process with two
worker processes and prints the wall time, the CPU time of the driver (this process: NSGA-II,
the hypervolume, the bookkeeping) and of the workers (the simulations), and what one hypervolume
of the final front costs, estimated and (for comparison, on a front cut to five objectives) exact.

    .venv/bin/python benchmarks/optimize_cost.py [--evaluations 400] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the search and print the figures."""
    from sim.analysis.levers import natural_range
    from sim.analysis.optimize import _hso, _nondominated_max, hypervolume, optimize, scaled

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    generations = []
    started = time.perf_counter()
    result = optimize(
        ROOT / "scenarios" / "policy.toml",
        evaluations=args.evaluations,
        seed=args.seed,
        workers=args.workers,
        progress=False,
        on_generation=generations.append,
    )
    wall = time.perf_counter() - started
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    driver = me.ru_utime + me.ru_stime
    workers = kids.ru_utime + kids.ru_stime
    K = len(result.objectives.names)
    print(f"optimize scenarios/policy.toml --evaluations {args.evaluations} --seed {args.seed} (no --owner)")
    print(f"  objectives {K}, generations {len(generations)}, non-dominated policies {len(result.pareto)}")
    print(f"  wall time                 {wall:8.1f} s (with the fresh-world check of the front)")
    print(f"  driver CPU (this process) {driver:8.1f} s  ({driver / (driver + workers):.0%} of the CPU)")
    print(f"  workers' CPU              {workers:8.1f} s  ({workers / (driver + workers):.0%})")
    last = generations[-1]
    print(
        f"  final hypervolume         {last['hypervolume']:.4g} ± {last['hypervolume_se']:.2g} (Monte Carlo)"
    )

    lo, hi = natural_range(result.scenario, result.objectives)
    names = result.objectives.names
    points = scaled(result.pareto[[f"metric:{n}" for n in names]].to_numpy(), result.objectives.sign, lo, hi)
    t = time.perf_counter()
    hypervolume(points)
    estimated = time.perf_counter() - t
    five = _nondominated_max(points[:, :5])
    t = time.perf_counter()
    _hso(five)
    exact_five = time.perf_counter() - t
    print(f"  one estimate, {K} objectives, {len(points)} points: {estimated * 1000:8.1f} ms")
    print(f"  exact, the same front cut to 5 objectives:   {exact_five * 1000:8.1f} ms")
    print(f"  load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
