"""What the force attribution costs: the kernel and a whole run, with and without it, side by side.

    .venv/bin/python benchmarks/why_cost.py [SCENARIO] [--replicates N] [--repeats K]

Runs alternate (off, on, off, on, ...) so that other load on the machine hits both alike; the
minimum over the repeats is reported.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from sim.model import dynamics
from sim.model.attribution import Attribution
from sim.run.ensemble import run_ensemble
from sim.spec.params import compile_params
from sim.spec.scenario import load_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="?", default="scenarios/status_quo.toml")
    ap.add_argument("--replicates", "-n", type=int, default=4096)
    ap.add_argument("--repeats", "-k", type=int, default=3)
    args = ap.parse_args()
    scenario = load_scenario(args.scenario)
    params = compile_params(scenario, args.replicates, np.random.default_rng(1))
    kernel: dict[bool, list[float]] = {False: [], True: []}
    whole: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            for on in (False, True):
                t0 = time.perf_counter()
                why = Attribution(params) if on else None
                state = dynamics.run(params, np.random.default_rng(2), dtype=np.float32, why=why)
                if why is not None:
                    why.finish(state)
                kernel[on].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                run_ensemble(
                    scenario,
                    replicates=2 * args.replicates,
                    seed=1,
                    out=f"{tmp}/{k}{on}",
                    progress=False,
                    workers=1,
                    why=on,
                )
                whole[on].append(time.perf_counter() - t0)
    for name, times in (("kernel (dynamics.run)", kernel), ("whole run (run_ensemble)", whole)):
        off, on = min(times[False]), min(times[True])
        print(f"{name:26s} off {off:6.2f} s  on {on:6.2f} s  cost {100 * (on / off - 1):5.1f} %")
    print(
        f"{args.scenario}: kernel {args.replicates} replicates x {params.steps} steps, float32; "
        f"whole run {2 * args.replicates} replicates in chunks of 4096, one worker"
    )


if __name__ == "__main__":
    main()
