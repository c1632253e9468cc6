"""What a record can tell before it is calibrated on: how far its readings, were every one of them
exact, could narrow each uncertain value of a scenario.

A pre-posterior check (the "design of a record" question of Bayesian experimental design; see
Chaloner & Verdinelli 1995). Draw replicates from the prior and keep, for each, its uncertain values
θ and the exact quantities x the record's observations read (each tie, each alliance's status...).
For any function f, ``E[(θ - f(x))²] >= E[Var(θ | x)]``, with equality for the posterior mean
``f(x) = E[θ | x]``; so a regression of θ on x, fitted on some replicates and scored on others,
estimates from above the posterior variance that exact readings would leave, and noisy readings
(ranges, signs, errors) leave more. Two numbers per value:

- ``sd_ratio``: ``sqrt(E[(θ - f(x))²] / Var(θ))``, the posterior sd over the prior sd that exact
  readings would give at best. Above 0.5, no sampler can halve the prior's spread from this record.
- ``toward``: the share of truths for which the posterior mean moves from the prior mean toward the
  truth (same side of the prior mean). 0.5 is a coin's; 1 is a record that always points the way.

The regression is a ridge least squares on each reading, its square and its cube (standardised),
cross-fitted over ``folds`` folds so that every replicate is predicted by a fit that did not see
it; the Monte Carlo errors are bootstrap errors over the replicates. The polynomial is not the
best possible f, so the ratios are estimates from above (a boosted-tree regression on the
informative record of the README gave ratios lower by 0.01 or less).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.spec.observations import Record
from sim.spec.scenario import Scenario

#: the degree of the polynomial in each reading
DEGREE = 3
#: ridge penalty on the standardised features (relative to the number of rows)
RIDGE = 1e-3


@dataclass(frozen=True)
class Reach:
    """How far a record could narrow each value (see the module's docstring)."""

    params: tuple[str, ...]
    prior_sd: dict[str, float]
    sd_ratio: dict[str, float]
    sd_ratio_error: dict[str, float]
    toward: dict[str, float]
    toward_error: dict[str, float]
    replicates: int
    readings: int
    sides: np.ndarray = field(repr=False, compare=False)  # (replicates, params): mean on the truth's side

    def all_toward(self, params) -> tuple[float, float]:
        """The share of truths for which the posterior means of all of ``params`` move toward the
        truth at once, and its binomial standard error."""
        cols = [self.params.index(p) for p in params]
        share = float(self.sides[:, cols].all(axis=1).mean())
        return share, float(np.sqrt(share * (1 - share) / self.replicates))

    def ranked(self) -> list[str]:
        """The values, the most narrowed first."""
        return sorted(self.params, key=lambda p: self.sd_ratio[p])

    def halves(self, p: str) -> str:
        """Whether exact readings could halve the prior sd of ``p``, told apart from noise."""
        r, e = self.sd_ratio[p], self.sd_ratio_error[p]
        if r + 2 * e < 0.5:
            return "yes"
        if r - 2 * e > 0.5:
            return "no"
        return "cannot tell"


def _features(x: np.ndarray) -> np.ndarray:
    """Each reading, its square and its cube; constant columns (readings that never vary) dropped."""
    x = np.asarray(x, dtype=np.float64)
    keep = x.std(axis=0) > 0
    x = x[:, keep]
    return np.column_stack([x**k for k in range(1, DEGREE + 1)]) if x.size else np.zeros((len(x), 0))


def _cross_fitted(f: np.ndarray, y: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Out-of-fold ridge predictions of every column of ``y`` (n, m) from features ``f`` (n, p)."""
    n = len(y)
    fold = rng.permutation(n) % folds
    pred = np.empty_like(y)
    for k in range(folds):
        fit, held = fold != k, fold == k
        mu, sd = f[fit].mean(axis=0), f[fit].std(axis=0)
        sd[sd == 0] = 1.0
        z = np.column_stack([np.ones(n), (f - mu) / sd])
        gram = z[fit].T @ z[fit]
        gram[1:, 1:] += RIDGE * fit.sum() * np.eye(z.shape[1] - 1)
        beta = np.linalg.solve(gram, z[fit].T @ y[fit])
        pred[held] = z[held] @ beta
    return pred


def reach_from_draws(
    readings: np.ndarray,
    values: dict[str, np.ndarray],
    *,
    folds: int = 4,
    bootstrap: int = 200,
    seed: int = 0,
) -> Reach:
    """:class:`Reach` from prior draws: ``readings`` (n, K), the exact quantities the record reads in
    each replicate (NaN where a replicate never reached a reading: treated as 0 with an indicator),
    and ``values`` the uncertain values (each (n,))."""
    readings = np.asarray(readings, dtype=np.float64)
    n = len(readings)
    if n < 10 * folds:
        raise ValueError(
            f"expected at least {10 * folds} replicates to estimate what a record can tell, got {n}"
        )
    missing = np.isnan(readings)
    x = np.where(missing, 0.0, readings)
    if missing.any():
        x = np.column_stack([x, missing[:, missing.any(axis=0)].astype(np.float64)])
    params = tuple(values)
    y = np.column_stack([np.asarray(values[p], dtype=np.float64).ravel() for p in params])
    rng = np.random.default_rng(seed)
    pred = _cross_fitted(_features(x), y, folds, rng)
    mean, var = y.mean(axis=0), y.var(axis=0)
    var[var == 0] = np.nan
    sq = (y - pred) ** 2
    side = np.sign(pred - mean) == np.sign(y - mean)
    ratio = np.sqrt(sq.mean(axis=0) / var)
    boot = rng.integers(0, n, size=(bootstrap, n))
    ratio_b = np.array([np.sqrt(sq[b].mean(axis=0) / var) for b in boot])
    side_b = np.array([side[b].mean(axis=0) for b in boot])
    return Reach(
        params,
        {p: float(np.sqrt(v)) for p, v in zip(params, var)},
        {p: float(v) for p, v in zip(params, ratio)},
        {p: float(v) for p, v in zip(params, ratio_b.std(axis=0))},
        {p: float(v) for p, v in zip(params, side.mean(axis=0))},
        {p: float(v) for p, v in zip(params, side_b.std(axis=0))},
        n,
        readings.shape[1],
        side,
    )


def record_reach(
    scenario: Scenario,
    record: Record,
    *,
    replicates: int = 20_000,
    seed: int = 0,
    workers: int | None = 1,
    engine: str = "numpy",
    progress: bool = False,
) -> Reach:
    """:class:`Reach` of every uncertain value of ``scenario`` from ``record``: ``replicates`` prior
    replicates run to the record's last date, each reading exactly what the record's observations
    read."""
    from sim.analysis.readings import simulate

    got = simulate(
        scenario,
        record,
        replicates=replicates,
        seed=seed,
        keep_states=False,
        workers=workers,
        engine=engine,
        progress=progress,
    )
    values = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in got.sampled.items()}
    values = {k: v for k, v in values.items() if v.std() > 0}
    return reach_from_draws(got.values, values, seed=seed)


def reach_of(
    scenario_path: str | Path,
    observations: str | Path,
    *,
    values: dict | None = None,
    exclude: list[str] | None = None,
    show: list[str] | None = None,
    **kw,
) -> Reach:
    """:func:`record_reach` from a scenario file and an observations file (``values``: ``--set``).
    ``show``: values the caller will show; each must be an uncertain value of the scenario, which is
    checked before anything runs (:class:`~sim.errors.InputError` naming the first that is not)."""
    from sim.errors import InputError
    from sim.spec.observations import load_record
    from sim.spec.parammap import uncertain_slots
    from sim.spec.scenario import load_scenario

    scenario = load_scenario(scenario_path, values=values)
    known = {s.path for s in uncertain_slots(scenario)}
    for name in show or ():
        if name not in known:
            raise InputError(
                f"{scenario_path}: --values: {name!r} is not an uncertain value of the scenario (expected "
                "a path that `alliance-sim show` lists with a range)"
            )
    record = load_record(observations, scenario)
    if exclude:
        record = record.without(exclude)
    return record_reach(scenario, record, **kw)
