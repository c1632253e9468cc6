"""Out-of-sample skill: calibrate on the readings up to a date, predict the later ones, and score
the predictions with proper scores against two baselines.

The record is split at ``until``: the readings dated on or before it condition the scenario
(:func:`sim.analysis.calibration.condition`, rejection or SMC as the record needs); the later ones
are predicted by three forecasters, each an ensemble of what the replicates show at each later
reading's step:

- *calibrated*: the posterior draws continued from their own states at the last calibrated date
  (the view from that date, :mod:`sim.analysis.projection`);
- *prior*: the uncalibrated scenario's replicates from its start (the prior predictive);
- *persistence*: the last reading of the same thing carries (a tie drawn uniformly in the last
  range read of it, a fact holding as last read with that reading's own misrecording error, a
  series' last value). A later reading of something never read before has no persistence forecast.

Each reading is scored by the log score of the reading as recorded (the log of the forecast
probability, or density for a series row, that the reading comes out as it did, reading error
included), the Brier score ``(1 - p)^2`` for discrete facts and tie signs, and the CRPS for tie
ranges (against the range's midpoint) and series rows (against the value), the forecast draws
carrying the reading's error (Gneiting & Raftery 2007; :mod:`sim.analysis.scoring`). Scores are
compared over the readings every forecaster predicts. Their Monte Carlo errors come from
bootstrapping each forecaster's ensemble members; a difference within twice its standard error is
reported as not told apart from noise, with the ensemble size that would settle it.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import likelihood
from sim.analysis.calibration import DEFAULT_REPLICATES, Calibration, condition
from sim.analysis.readings import ObservationCollector, gather, simulate
from sim.analysis.scoring import crps_ensemble
from sim.errors import InputError
from sim.model import dynamics
from sim.run.designs import Design, Start
from sim.run.ensemble import run_design
from sim.spec.observations import READ_TIES, TIE_KINDS, Observation, Record, load_record
from sim.spec.scenario import Scenario, load_scenario

FORECASTERS = ("calibrated", "prior", "persistence")
PRIOR_REPLICATES = 20_000
PERSISTENCE_DRAWS = 4000
BOOTSTRAP = 200
BACKTEST_STREAM = 1_000_039


def split(record: Record, until: _dt.date) -> tuple[Record, Record]:
    """The readings dated on or before ``until`` and those after it (both must be non-empty)."""
    early = [k for k, o in enumerate(record.observations) if o.date <= until]
    late = [k for k, o in enumerate(record.observations) if o.date > until]
    if not early or not late:
        first, last = min(o.date for o in record.observations), record.last_date
        raise InputError(
            f"--until: expected a date between the record's first and last readings ({first} and "
            f"{last}) that leaves readings on both sides, got {until.isoformat()}"
        )

    def part(idx):
        obs = tuple(record.observations[k] for k in idx)
        return Record(record.path, record.start, record.unit, obs, tuple(record.steps[k] for k in idx))

    return part(early), part(late)


def _about(o: Observation) -> tuple:
    """What a reading is a reading of (readings of one thing persist into each other)."""
    if o.kind in READ_TIES:
        return ("tie", o.from_, o.to, o.mutual, o.measurement if o.is_series else None)
    if o.kind in ("alliance_active", "alliance_ended"):
        return ("alliance", o.alliance)
    if o.kind == "same_bloc":
        return ("bloc", frozenset(o.actors or []))
    return ("event", o.event)


def _says(o: Observation) -> tuple:
    """The proposition a discrete reading states."""
    return (o.kind, o.fate, o.same, o.fired)


def persistence(
    fit: Record, test: Record, rng: np.random.Generator, n: int = PERSISTENCE_DRAWS
) -> np.ndarray:
    """``(n, K)`` persistence draws of what each later reading reads (NaN columns where nothing of
    the kind was read before): see the module docstring."""
    last: dict = {}
    for o in sorted(fit.observations, key=lambda o: o.date):
        last[_about(o)] = o
    out = np.full((n, len(test)), np.nan)
    for k, o in enumerate(test.observations):
        j = last.get(_about(o))
        if j is None:
            continue
        if o.is_series:
            out[:, k] = float(j.value)
        elif o.kind in READ_TIES:
            lo, hi = j.bounds
            out[:, k] = rng.uniform(max(lo, -1.0), min(hi, 1.0), n)
        else:
            holds = rng.random(n) >= j.misrecord
            out[:, k] = holds if _says(j) == _says(o) else ~holds
    return out


def continued(cal: Calibration, test: Record, *, seed: int, workers, engine: str) -> np.ndarray:
    """``(m, K)`` what each posterior draw, continued from its state at the last calibrated step,
    reads at the later readings' steps."""
    post = cal.posterior
    assert post is not None
    t0 = cal.record.last_step
    m = post.m
    scenario = cal.scenario.with_run(steps=max(test.last_step, t0 + 1))
    design = Design(
        {p: v[None, :] for p, v in post.sampled.items()},
        m,
        start=Start(t0, {k: post.states[k] for k in dynamics.STATE_ARRAYS}),
    )
    collector = ObservationCollector(scenario, test, keep_states=False, sampled=False)
    parts = run_design(scenario, design, collector, seed=seed, workers=workers, progress=False, engine=engine)
    return gather(parts, False)["values"]


def reading_scores(o: Observation, draws: np.ndarray, rng: np.random.Generator) -> dict:
    """The scores of one reading under one forecaster's draws (what its replicates show)."""
    if np.isnan(draws).all():
        return {"log": math.nan, "brier": math.nan, "crps": math.nan}
    log_l = likelihood.log_likelihoods([o], draws[:, None])[:, 0]
    top = float(log_l.max())
    p = float(np.exp(log_l - top).mean()) * math.exp(top)
    out = {"log": math.log(max(p, likelihood.TINY)), "brier": math.nan, "crps": math.nan}
    if o.kind in TIE_KINDS and o.kind == "tie_range":
        lo, hi = o.bounds
        y = 0.5 * (max(lo, -1.0) + min(hi, 1.0))
        out["crps"] = crps_ensemble(draws + o.tie_width * rng.standard_normal(draws.size), y)
    elif o.is_series and o.sd is not None and o.value is not None:
        out["crps"] = crps_ensemble(draws + o.sd * rng.standard_normal(draws.size), o.value)
    else:
        out["brier"] = (1.0 - min(p, 1.0)) ** 2
    return out


@dataclass
class Backtest:
    """A backtest: the split record, the calibration on its first part, the forecasters' draws of
    the later readings, each reading's scores and the summary with Monte Carlo errors."""

    source: Path
    until: _dt.date
    fit: Record
    test: Record
    calibration: Calibration
    draws: dict[str, np.ndarray]  # forecaster -> (n, K) what its replicates show at each reading
    readings: pd.DataFrame  # one row per later reading: each forecaster's scores
    table: pd.DataFrame  # one row per forecaster and score: mean and Monte Carlo error
    differences: pd.DataFrame  # calibrated minus each baseline, per score
    common: list[str]  # the readings every forecaster predicts


def _score_frame(test: Record, draws: dict[str, np.ndarray], rng) -> pd.DataFrame:
    rows = []
    for k, o in enumerate(test.observations):
        row = {"id": o.id, "date": o.date.isoformat(), "observed": o.describe()}
        for name, d in draws.items():
            for score, v in reading_scores(o, d[:, k], rng).items():
                row[f"{name}:{score}"] = v
        rows.append(row)
    return pd.DataFrame(rows)


def _boot(test: Record, d: np.ndarray, common: list[int], rng) -> dict[str, np.ndarray]:
    """Bootstrap replicates (over ensemble members) of the mean of each score over ``common``."""
    n = len(d)
    reps: dict[str, list[float]] = {"log": [], "brier": [], "crps": []}
    for _ in range(BOOTSTRAP):
        rows = d[rng.integers(0, n, n)]
        scores = [reading_scores(test.observations[k], rows[:, k], rng) for k in common]
        for s in reps:
            vals = [x[s] for x in scores if not math.isnan(x[s])]
            reps[s].append(float(np.mean(vals)) if vals else math.nan)
    return {s: np.array(v) for s, v in reps.items()}


SCORES = ("log", "brier", "crps")


def _predicts(d: np.ndarray) -> list[int]:
    """The readings a forecaster has draws for."""
    return [k for k in range(d.shape[1]) if not np.isnan(d[:, k]).all()]


def _means(frame: pd.DataFrame, name: str, ks: list[int]) -> dict[str, tuple[float, int]]:
    sub = frame.iloc[ks]
    out = {}
    for s in SCORES:
        col = sub[f"{name}:{s}"].dropna()
        if not col.empty:
            out[s] = (float(col.mean()), len(col))
    return out


def summarise(test: Record, draws: dict[str, np.ndarray], frame: pd.DataFrame, rng):
    """The summary table (each forecaster over the readings it predicts), the differences of the
    calibrated forecast against each baseline (over the readings both predict) and the readings
    all three predict."""
    rows = []
    for name, d in draws.items():
        ks = _predicts(d)
        boot = _boot(test, d, ks, rng)
        for s, (mean, n) in _means(frame, name, ks).items():
            se = float(np.nanstd(boot[s], ddof=1))
            rows.append(
                {"forecaster": name, "score": s, "readings": n, "mean": mean, "mc_se": se, "members": len(d)}
            )
    diffs = []
    mine = draws["calibrated"]
    for base in ("prior", "persistence"):
        ks = sorted(set(_predicts(mine)) & set(_predicts(draws[base])))
        ba, bb = _boot(test, mine, ks, rng), _boot(test, draws[base], ks, rng)
        a, b = _means(frame, "calibrated", ks), _means(frame, base, ks)
        for s in SCORES:
            if s in a and s in b:
                se = math.hypot(float(np.nanstd(ba[s], ddof=1)), float(np.nanstd(bb[s], ddof=1)))
                diffs.append(_verdict(s, base, a[s][0] - b[s][0], se, a[s][1], len(mine)))
    common = [k for k in range(len(test)) if all(k in _predicts(d) for d in draws.values())]
    return pd.DataFrame(rows), pd.DataFrame(diffs), [test.observations[k].id for k in common]


def _verdict(score: str, base: str, diff: float, se: float, readings: int, members: int) -> dict:
    better = diff > 0 if score == "log" else diff < 0
    if abs(diff) > 2 * se:
        verdict = "calibrated better" if better else f"{base} better"
    else:
        need = int(members * (2 * se / max(abs(diff), 1e-12)) ** 2) if diff else 0
        verdict = "cannot be told from noise" + (
            f" (about {need:,} draws each would settle it)" if need else ""
        )
    return {
        "score": score,
        "against": base,
        "readings": readings,
        "difference": diff,
        "mc_se": se,
        "verdict": verdict,
    }


def backtest(
    scenario_path: str | Path,
    observations: str | Path,
    until: _dt.date,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    method: str = "auto",
    particles: int | None = None,
    workers: int | None = 1,
    engine: str = "numpy",
    progress: bool = False,
    say=None,
) -> Backtest:
    """Calibrate ``scenario_path`` on the readings of ``observations`` up to ``until``, predict
    the later ones and score the predictions (module docstring)."""
    source = Path(scenario_path)
    scenario: Scenario = load_scenario(source)
    record = load_record(observations, scenario)
    fit, test = split(record, until)
    seed = scenario.run.seed if seed is None else seed
    replicates = replicates or DEFAULT_REPLICATES
    cal = condition(
        scenario,
        source,
        fit,
        replicates=replicates,
        seed=seed,
        progress=progress,
        workers=workers,
        engine=engine,
        method=method,
        particles=particles,
        say=say,
    )
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(BACKTEST_STREAM,)))
    prior = simulate(
        scenario,
        test,
        replicates=min(replicates, PRIOR_REPLICATES),
        seed=seed + 1,
        keep_states=False,
        workers=workers,
        engine=engine,
    )
    draws = {
        "calibrated": continued(cal, test, seed=seed + 2, workers=workers, engine=engine),
        "prior": prior.values,
        "persistence": persistence(fit, test, rng),
    }
    frame = _score_frame(test, draws, rng)
    table, differences, common = summarise(test, draws, frame, rng)
    return Backtest(source, until, fit, test, cal, draws, frame, table, differences, common)
