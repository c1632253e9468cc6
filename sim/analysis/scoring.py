"""Scoring: how probable each scenario found a record (its evidence, the basis of Bayes factors
between scenarios), and proper scores of probabilistic forecasts against what was later observed
(the backtest of :mod:`sim.analysis.backtest`).

Proper scores (Gneiting & Raftery 2007) reward a forecaster for saying what it believes: the log
score ``log p(y)`` of the observed outcome, the Brier score ``(1 - p)^2`` of a discrete outcome that
happened with forecast probability ``p``, and the continuous ranked probability score of a
quantity, ``CRPS(F, y) = E|X - y| - E|X - X'| / 2`` for ``X, X'`` independent draws from the
forecast ``F``, estimated from an ensemble (the energy form). Lower Brier and CRPS, higher log
score, are better.

References
----------
Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and estimation.
    JASA 102, 359-378.
Kass, R. E. & Raftery, A. E. (1995). Bayes factors. JASA 90, 773-795.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import likelihood
from sim.analysis.readings import DEFAULT_CHUNK, PILOT_REPLICATES, predictive_table, simulate
from sim.errors import InputError
from sim.spec.observations import load_record
from sim.spec.scenario import load_scenario


def crps_ensemble(draws: np.ndarray, y: float) -> float:
    """CRPS of an ensemble forecast ``draws`` for the outcome ``y`` (energy form, computed from the
    sorted draws in ``O(n log n)``)."""
    x = np.sort(np.asarray(draws, dtype=np.float64))
    n = x.size
    if n == 0:
        return math.nan
    first = float(np.abs(x - y).mean())
    # E|X - X'| over all ordered pairs = 2 / n^2 * sum_i (2 i - n - 1) x_(i)
    spread = 2.0 * float(((2 * np.arange(1, n + 1) - n - 1) * x).sum()) / (n * n)
    return first - 0.5 * spread


def score_scenarios(
    paths: list[Path],
    observations: Path,
    *,
    replicates: int,
    seed: int,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = False,
    workers: int | None = 1,
    predictive: dict | None = None,
    engine: str = "numpy",
    method: str = "prior",
    particles: int | None = None,
    values: dict | None = None,
) -> pd.DataFrame:
    """Rank scenarios by the probability each gave the record (its marginal likelihood under the
    error model, on ``L``: the normalisation of the rejection kernel leaves it unchanged), with
    log scores, Monte Carlo errors and log Bayes factors against the best.

    ``method="prior"`` estimates it by the mean likelihood over ``replicates`` prior replicates
    (unbiased, but its error grows with the record's information); ``"smc"`` by the SMC² evidence
    (:mod:`sim.analysis.assimilation`, ``particles`` parameter particles), with its standard
    error from the particles' lineages. The standard error of a log Bayes factor treats the
    scenarios' estimates as independent. With ``predictive`` (a dict), each scenario's prior
    predictive table (:func:`predictive_table`) is stored in it by name. ``values`` are set on
    every scenario (``--set``).
    """
    rows = []
    for path in paths:
        scenario = load_scenario(path, values=values)
        record = load_record(observations, scenario)
        ens = simulate(
            scenario,
            record,
            replicates=replicates if method == "prior" else min(replicates, PILOT_REPLICATES),
            seed=seed,
            chunk_size=chunk_size,
            keep_states=False,
            progress=progress,
            workers=workers,
            engine=engine,
        )
        log_l = likelihood.log_likelihoods(record.observations, ens.values)
        s = likelihood.log_score_from_log(log_l.sum(axis=1))
        log_z, se = s.log_score, s.log_se
        if method == "smc":
            from sim.analysis.assimilation import smc2

            res = smc2(
                scenario, record, particles=particles or 400, seed=seed, workers=workers, engine=engine
            )
            log_z, se = res.log_evidence, res.log_evidence_se
        bind = likelihood.binding_observation(np.exp(log_l - likelihood.log_sup(record.observations)))
        if predictive is not None:
            predictive[Path(path).stem] = predictive_table(record, ens.values)
        # replicates whose every reading has a likelihood above the floor: none, and the prior
        # mean would be the floor's artefact, not an estimate (SMC refuses a record it cannot show)
        reproduced = int((log_l > likelihood.LOG_TINY).all(axis=1).sum())
        rows.append(
            {
                "scenario": Path(path).stem,
                "p_record": math.exp(log_z) if log_z > -700 else 0.0,
                "log_score": log_z,
                "log_se": se,
                "replicates": s.n,
                "binding": record.observations[bind.index].id,
                "reproduced": reproduced,
                "estimable": reproduced > 0 or method == "smc",
            }
        )
    return _rank_scores(pd.DataFrame(rows), observations)


def needed_replicates(n: int) -> int:
    """Replicates that would show about ten reproductions of a record none of ``n`` reproduced,
    were its probability at the 95 % upper bound ``3 / n`` (the rule of three); more are needed
    if it is lower."""
    return math.ceil(10 * n / 3)


def _rank_scores(table: pd.DataFrame, observations: Path) -> pd.DataFrame:
    """Rank the scores of the scenarios that reproduced the record at least once; the others are
    kept, marked not estimable (``estimable`` false, no score, ``p_record_below`` the 95 % upper
    bound of their probability, no rank); none estimable is refused with one line."""
    if "estimable" not in table:
        table["estimable"] = table["reproduced"] > 0
    if not table["estimable"].any():
        n = int(table["replicates"].min())
        raise InputError(
            f"{observations}: no replicate of {', '.join(table['scenario'])} reproduced the record "
            f"(P(record) below {3 / n:.1g} at 95 % with {n:,} replicates), so no score can be "
            f"estimated; run at least {needed_replicates(n):,} replicates per scenario (--replicates), "
            f"more if it is rarer, use --method smc, or review the binding observation "
            f"({table['binding'].iloc[0]})"
        )
    table["p_record_below"] = np.where(table["estimable"], np.nan, 3 / table["replicates"])
    for col in ("p_record", "log_score", "log_se"):
        table[col] = table[col].where(table["estimable"])
    table = table.sort_values(["estimable", "log_score"], ascending=False, kind="stable")
    best = table.iloc[0]
    table["log_bf_vs_best"] = table["log_score"] - best["log_score"]
    table["log_bf_se"] = np.hypot(table["log_se"], best["log_se"])
    table.loc[table.index[0], "log_bf_se"] = 0.0
    rank = np.arange(1, len(table) + 1)
    table.insert(0, "rank", pd.array(np.where(table["estimable"], rank, 0), dtype="Int64"))
    table.loc[~table["estimable"], "rank"] = pd.NA
    return table.reset_index(drop=True)
