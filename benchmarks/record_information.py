"""What records of different designs could tell of the status quo's coefficients, were every
reading exact (sim.analysis.identifiability; the `identify` command for a record of one's own).

For each design, prior replicates of scenarios/status_quo.toml are read exactly as the design reads
them; the table gives, for competition, threat and pressure, the posterior sd over the prior sd that
exact readings would leave at best and the share of truths whose posterior mean moves toward them,
and the share for which all three move toward their truths at once. Noisy readings (the ±0.15
ranges of the informative record) tell less.

    python benchmarks/record_information.py [--replicates 20000] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from sim import load_scenario
from sim.analysis import synthetic
from sim.analysis.identifiability import record_reach

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ("mechanisms.competition", "mechanisms.threat", "mechanisms.pressure")


def designs(actors):
    monthly = tuple(dt.date(2022 + (2 + m) // 12, (2 + m) % 12 + 1, 4) for m in range(1, 49))
    every_tie = tuple((a, b) for a in actors for b in actors if a != b)
    return (
        ("8 ties x 4 yearly dates (the informative record)", synthetic.PAIRS, synthetic.DATES),
        ("8 ties x 48 monthly dates", synthetic.PAIRS, monthly),
        (f"all {len(every_tie)} ties x 4 yearly dates", every_tie, synthetic.DATES),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", "-n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scenario = load_scenario(ROOT / "scenarios" / "status_quo.toml")
    print(f"{args.replicates:,} prior replicates per design; each cell: post sd / prior sd at best, and the")
    print("share of truths whose posterior mean moves toward them (± Monte Carlo error)")
    head = "".join(f"{p.split('.')[1]:>28}" for p in PARAMS)
    print(f"{'design':<52}{head}{'all three toward':>22}")
    for name, pairs, dates in designs(list(scenario.actors)):
        start = time.perf_counter()
        record = synthetic._raw(pairs, dates, scenario.focal_alliance, scenario)
        r = record_reach(scenario, record, replicates=args.replicates, seed=args.seed)
        cells = "".join(
            f"{r.sd_ratio[p]:>9.3f}±{r.sd_ratio_error[p]:.3f}, {r.toward[p]:.2f}±{r.toward_error[p]:.3f}"
            for p in PARAMS
        )
        share, err = r.all_toward(PARAMS)
        print(f"{name:<52}{cells}{share:>14.3f} ± {err:.3f}   ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
