"""Simulation-based calibration (Talts et al. 2018) of sequential assimilation on informative records.

Each repetition draws a truth from the prior of scenarios/status_quo.toml, reads its record (8 ties
at 4 yearly dates 2023-2026 and the alliance's status at the last date: 33 readings) and computes
the SMC² posterior (sim.analysis.sbc.sbc_repetition). With ``--readings series`` (the default) each
tie is read as ``tie + N(0, 0.1)``, a quantitative series through benchmarks/status_quo_series.toml
(the status quo with a measurement on the tie's own scale, which adds no uncertain value): drawn
from the likelihood's own error model, as SBC requires. ``--readings ranges`` reads each tie as a
range of +-0.15 centred on the true tie with width 0.05 (the informative record of the README);
a range centred exactly on the truth is not a draw from the range likelihood (which would place
its centre at tie + error + a uniform offset), so coverage there is not the sampler's check.
If the sampler is right, the truth falls inside the central 90 % posterior interval in 90 % of
repetitions. The table gives, for competition, threat and pressure, the coverage with its 95 %
Wilson interval, the posterior sd over the prior sd (mean and root mean square), the share of
repetitions whose posterior mean moved from the prior mean toward the truth, and the mean rank of
the truth (1/2 if calibrated).

Then records in which the partnership ended (drift apart, stab in the back) go through `calibrate`
with its defaults: it must not refuse them.

    python benchmarks/sbc_informative.py [--repetitions 100] [--particles 256] [--jobs 2] [--readings series]

Repetitions run in parallel, one per process (``--jobs``); the total time is printed.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

from sim import load_scenario
from sim.analysis import synthetic
from sim.analysis.calibration import CalibrationError, calibrate
from sim.analysis.likelihood import wilson
from sim.analysis.sbc import prior_moments, sbc_repetition, summarise_repetitions

ROOT = Path(__file__).resolve().parents[1]
STATUS_QUO = ROOT / "scenarios" / "status_quo.toml"
SERIES = ROOT / "benchmarks" / "status_quo_series.toml"
PARAMS = ("mechanisms.competition", "mechanisms.threat", "mechanisms.pressure")


def table(reps, prior) -> None:
    mean, sd = prior
    res = summarise_repetitions(reps, sd, mean)
    n = res.repetitions
    print(
        f"\n{n} repetitions; central 90 % interval; effective draws per posterior: median "
        f"{np.median(res.accepted):.0f}, min {res.accepted.min():.0f}"
    )
    print(
        f"{'value':<26}{'coverage':>9}  {'95 % interval':>13}  {'sd ratio: mean':>14}  {'rms':>5}"
        f"  {'mean moved toward truth':>23}  {'mean rank':>9}"
    )
    for p in PARAMS:
        k = round(res.coverage[p] * n)
        lo, hi = wilson(k, n)
        print(
            f"{p:<26}{res.coverage[p]:>9.2f}  {lo:>6.2f}-{hi:<6.2f}  "
            f"{res.posterior_sd[p] / res.prior_sd[p]:>14.2f}  {res.rms_sd[p] / res.prior_sd[p]:>5.2f}"
            f"  {res.toward[p]:>23.2f}  {res.ranks[p].mean():>9.2f}"
        )
    noisy = [r for r in reps if r.loglik_var > 2.0]
    for name, group in (
        ("log-likelihood variance within 2", [r for r in reps if r.loglik_var <= 2.0]),
        ("above 2 at the cap of state particles", noisy),
    ):
        if group:
            cover = ", ".join(
                f"{p.split('.')[1]} {np.mean([r.inside[p] for r in group]):.2f}" for p in PARAMS
            )
            print(f"  {len(group)} repetitions with the {name}: coverage {cover}")
    fates = {}
    for r in reps:
        fates[r.fate] = fates.get(r.fate, 0) + 1
    print("fates of the truths: " + ", ".join(f"{f} {c}" for f, c in sorted(fates.items())))


def endings(out: Path, workers: int) -> None:
    scenario = load_scenario(STATUS_QUO)
    for history, seed in (("drift_apart", 2), ("stab_in_the_back", 3)):
        path = out / f"{history}.toml"
        truth = synthetic.write_record(path, scenario, seed=seed, history=history)
        start = time.perf_counter()
        try:
            cal = calibrate(STATUS_QUO, path, workers=workers, say=lambda line: print("  " + line))
        except CalibrationError as e:
            print(f"{history}: REFUSED: {e}")
            continue
        moved = ", ".join(
            f"{p.split('.')[1]} {cal.ensemble.sampled[p].mean():.3f} -> "
            f"{cal.posterior.sampled[p].mean():.3f} (truth {truth.values[p]:.3f})"
            for p in PARAMS
        )
        print(
            f"{history} (ended at step {truth.end_step}): not refused, {cal.method}, "
            f"{cal.posterior.effective:.0f} effective draws in {time.perf_counter() - start:.0f} s; {moved}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", "-r", type=int, default=100)
    parser.add_argument("--particles", type=int, default=256)
    parser.add_argument("--jobs", "-j", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-endings", action="store_true")
    parser.add_argument(
        "--max-moves", type=int, default=4, help="PMMH iterations at most per resample-move (default 4)"
    )
    parser.add_argument(
        "--max-state-particles",
        type=int,
        default=128,
        help="cap of each filter's state particles (default 128)",
    )
    parser.add_argument(
        "--readings",
        choices=["series", "ranges"],
        default="series",
        help="series: tie + N(0, 0.1), drawn from the likelihood (default); ranges: +-0.15 around the truth",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    scenario = SERIES if args.readings == "series" else STATUS_QUO
    run = partial(
        sbc_repetition,
        scenario,
        params=PARAMS,
        seed=args.seed,
        particles=args.particles,
        readings=args.readings,
        max_state_particles=args.max_state_particles,
        max_moves=args.max_moves,
    )
    prior = prior_moments(load_scenario(STATUS_QUO), PARAMS)
    print(
        f"readings: {args.readings}; {args.particles} parameter particles, at most "
        f"{args.max_state_particles} state particles each, at most {args.max_moves} moves per resample-move"
    )
    ctx = multiprocessing.get_context("spawn")
    reps = []
    with cf.ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
        for i, rep in enumerate(pool.map(run, range(args.repetitions))):
            reps.append(rep)
            if (i + 1) % 10 == 0:
                print(f"  {i + 1} repetitions, {time.perf_counter() - start:.0f} s", flush=True)
            if (i + 1) % 25 == 0 and i + 1 < args.repetitions:
                table(reps, prior)  # the table so far, in case the run is cut short
    table(reps, prior)
    if not args.no_endings:
        print("\nrecords in which the partnership ended, through `calibrate` (defaults):")
        endings(Path(tempfile.mkdtemp(prefix="sbc-endings-")), args.jobs)
    print(f"\ntotal {time.perf_counter() - start:.0f} s; load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
