"""Informative records: `calibrate` on 33 readings drawn from the model at a known parameter set.

For each history (the partnership held; it drifted apart) a truth is drawn from the prior of
scenarios/status_quo.toml (sim.analysis.synthetic), and its record written: 8 ties read at 4 yearly
dates (2023-2026), each a range of +-0.15 around the true tie read with width 0.05, plus the
alliance's status at the last date. `calibrate` runs on it with its defaults (method auto), and the
script prints the method chosen and why, the time taken (wall and this process's CPU), the
effective posterior draws, and for competition, threat and pressure the prior mean, the posterior
mean +- sd and the truth, saying whether the mean moved toward the truth.

It also prints rejection's acceptance on one record read with width 0.05 and with width 0.15, from
one prior ensemble (the normalised kernel: the wider error accepts more).

    python benchmarks/informative_record.py [--workers 2] [--out DIR]
    python benchmarks/informative_record.py --write-examples   # regenerate seeds/synthetic_tone.csv

The machine's other load is printed (os.getloadavg) so the times can be read against it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from sim import load_scenario
from sim.analysis import likelihood, synthetic
from sim.analysis.calibration import calibrate, simulate
from sim.present.calibration_pages import summary_lines
from sim.spec.observations import load_record

ROOT = Path(__file__).resolve().parents[1]
STATUS_QUO = ROOT / "scenarios" / "status_quo.toml"
WATCHED = ("mechanisms.competition", "mechanisms.threat", "mechanisms.pressure")
HISTORIES = (("held", 1), ("drift_apart", 2))


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the workers, once their pool is shut)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def acceptance_by_width(out: Path, seed: int = 1, replicates: int = 20_000) -> None:
    """Rejection's acceptance on the held record read with width 0.05 and 0.15 (one ensemble)."""
    scenario = load_scenario(STATUS_QUO)
    truth = synthetic.draw_truth(scenario, seed=seed, history="held")
    rates = {}
    ens = None
    for width in (0.05, 0.15):
        path = out / f"held-width-{width}.toml"
        obs = synthetic.tie_readings(truth, width=width, alliance=scenario.focal_alliance)
        path.write_text(synthetic.toml_text(obs, f"width {width}"), encoding="utf-8")
        record = load_record(path, scenario)
        if ens is None:
            ens = simulate(scenario, record, replicates=replicates, seed=seed, keep_states=False)
        obs = record.observations
        log_rel = likelihood.log_likelihoods(obs, ens.values) - likelihood.log_sup(obs)
        rates[width] = float(np.exp(log_rel.sum(axis=1)).mean())
    print(
        f"normalised kernel, one prior ensemble of {replicates:,}: expected acceptance "
        f"{rates[0.05]:.3g} with width 0.05, {rates[0.15]:.3g} with width 0.15"
    )


def run_history(name: str, seed: int, out: Path, workers: int) -> None:
    scenario = load_scenario(STATUS_QUO)
    path = out / f"{name}.toml"
    truth = synthetic.write_record(path, scenario, seed=seed, history=name)
    record = load_record(path, scenario)
    print(
        f"\n{name}: {len(record)} readings, truth replicate {truth.replicate} "
        f"({truth.fate}, step {truth.end_step})"
    )
    wall, cpu, kids = time.perf_counter(), time.process_time(), _children_cpu()
    cal = calibrate(STATUS_QUO, path, workers=workers, say=print)
    wall, cpu, kids = time.perf_counter() - wall, time.process_time() - cpu, _children_cpu() - kids
    print("\n".join("  " + line for line in summary_lines(cal)[:8]))
    print(
        f"  {wall:.0f} s wall, {cpu:.0f} s CPU in this process and {kids:.0f} s in its workers "
        f"({workers} worker(s)); effective "
        f"posterior draws {cal.posterior.effective:.0f}; log evidence {cal.log_evidence:.2f} +- "
        f"{cal.log_evidence_se:.2f}; load average {os.getloadavg()[0]:.1f}"
    )
    if name == "held":
        wider_acceptance(scenario, truth, out, record, cal)
    for p in WATCHED:
        prior = float(cal.ensemble.sampled[p].mean())
        post = cal.posterior.sampled[p]
        se = post.std() / np.sqrt(cal.posterior.effective)
        t = truth.values[p]
        toward = abs(post.mean() - t) < abs(prior - t)
        print(
            f"  {p:<24} prior {prior:.4f}  posterior {post.mean():.4f} +- {post.std():.4f} "
            f"(mean +- {se:.4f})  truth {t:.4f}  {'toward the truth' if toward else 'NOT toward the truth'}"
        )
    pressure_force(cal, truth)


def wider_acceptance(scenario, truth, out: Path, record, cal) -> None:
    """Rejection's expected acceptance ``Z / L_max`` on this record read with width 0.05 and 0.15,
    from SMC evidences (rare-event estimates from a prior ensemble rest on its best few draws)."""
    from sim.analysis.assimilation import smc2

    path = out / "held-width-0.15.toml"
    obs = synthetic.tie_readings(truth, width=0.15, alliance=scenario.focal_alliance)
    path.write_text(synthetic.toml_text(obs, "width 0.15"), encoding="utf-8")
    wide = load_record(path, scenario)
    res = smc2(scenario, wide, particles=200, seed=5, workers=2)
    for width, rec, z, se in (
        (0.05, record, cal.log_evidence, cal.log_evidence_se),
        (0.15, wide, res.log_evidence, res.log_evidence_se),
    ):
        log_acc = z - float(likelihood.log_sup(rec.observations).sum())
        print(
            f"  width {width}: log evidence {z:.2f} +- {se:.2f}; expected acceptance of rejection "
            f"exp({log_acc:.2f}) = {np.exp(log_acc):.3g}"
        )


def pressure_force(cal, truth) -> None:
    """The pressure force on the partnership is ``alpha_prs p_China p_Russia``: the record can
    inform that product while leaving its three factors confounded."""
    names = ("mechanisms.pressure", "pressure.China", "pressure.Russia")

    def product(draws):
        return draws[names[0]] * draws[names[1]] * draws[names[2]]

    prior, post = product(cal.ensemble.sampled), product(cal.posterior.sampled)
    t = np.prod([truth.values[n] for n in names])
    toward = "toward" if abs(post.mean() - t) < abs(prior.mean() - t) else "NOT toward"
    print(
        f"  {'alpha_prs p_C p_R':<24} prior {prior.mean():.4f}  posterior {post.mean():.4f} +- "
        f"{post.std():.4f}  truth {t:.4f}  {toward} the truth"
    )


def write_examples() -> None:
    """Regenerate seeds/synthetic_tone.csv from seeds/synthetic_tone.toml at a known parameter set."""
    scenario = load_scenario(ROOT / "seeds" / "synthetic_tone.toml")
    pairs = (("China", "Russia"), ("Russia", "China"))
    dates = tuple(dt.date(2022 + (2 + 3 * q) // 12, (2 + 3 * q) % 12 + 1, 4) for q in range(1, 16))
    fix = {"measurements.tone.a": 0.2, "measurements.tone.b": 3.0}
    truth = synthetic.draw_truth(scenario, seed=20220204, pairs=pairs, dates=dates, fix=fix)
    rows = synthetic.series_rows(truth, pairs=pairs, dates=dates, a=0.2, b=3.0, sd=0.15, seed=1)
    synthetic.write_series(ROOT / "seeds" / "synthetic_tone.csv", rows)
    print(f"wrote {len(rows)} rows to seeds/synthetic_tone.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", "-j", type=int, default=2)
    parser.add_argument("--out", type=Path, help="folder for the records (default: a temporary one)")
    parser.add_argument("--write-examples", action="store_true")
    args = parser.parse_args()
    if args.write_examples:
        write_examples()
        return
    out = args.out or Path(tempfile.mkdtemp(prefix="informative-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"records in {out}; load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    acceptance_by_width(out)
    for name, seed in HISTORIES:
        run_history(name, seed, out, args.workers)


if __name__ == "__main__":
    main()
