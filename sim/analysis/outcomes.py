"""What an ensemble means: fates, survival, cohesion, blocs, balance and betrayals.

Every function here is pure: arrays or data frames in, arrays or data frames out. They read the
columns of :attr:`sim.run.store.Results.replicates` (one row per replicate) and the per-step
summaries of :attr:`sim.run.store.Results.summary`, which merge exactly across chunks.

References
----------
Axelrod, R. & Bennett, D. S. (1993). A landscape theory of aggregation. British Journal of
    Political Science 23(2), 211-233.
Cartwright, D. & Harary, F. (1956). Structural balance: a generalization of Heider's theory.
    Psychological Review 63(5), 277-293.
Greenwood, M. (1926). The natural duration of cancer. Reports on Public Health and Medical
    Subjects 33, 1-26. London: HMSO.
Heider, F. (1946). Attitudes and cognitive organization. J. Psychology 21(1), 107-112.
Kalbfleisch, J. D. & Prentice, R. L. (2002). The Statistical Analysis of Failure Time Data,
    2nd ed. Wiley (the log-log interval, section 4.3).
Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations.
    J. American Statistical Association 53(282), 457-481.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    J. American Statistical Association 22(158), 209-212.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sim.analysis.fates import fate_rows
from sim.vocabulary import FATE_LABELS as LABELS
from sim.vocabulary import (
    FATES,
    Z95,
    Fate,
    bloc_column,
    capability_column,
    defector_column,
    end_step_column,
    fate_column,
)

FATE_LABELS = dict(zip(FATES, LABELS, strict=True))
COHESION_RANGE = (-1.0, 1.0)


# --------------------------------------------------------------------------------------------
# Fates
# --------------------------------------------------------------------------------------------


def fate_table(replicates: pd.DataFrame, alliance: str, actors: list[str] | None = None) -> pd.DataFrame:
    """P(holds), P(stab in the back) by who stabbed, P(drift apart), with 95 % Wilson intervals.

    Parameters
    ----------
    replicates : DataFrame
        One row per replicate with the columns ``<alliance>.fate`` and ``<alliance>.defector``.
    alliance : str
        The declared alliance.
    actors : list of str, optional
        Order of the per-defector rows (default: alphabetical).

    Returns
    -------
    DataFrame
        Columns ``outcome``, ``count``, ``p``, ``low``, ``high``; stabs are split into rows
        ``stab_in_the_back`` (any defector) and ``stab_in_the_back by <actor>``.

    References
    ----------
    Wilson (1927).
    """
    fate = replicates[fate_column(alliance)]
    defector = replicates[defector_column(alliance)]
    stab = fate == Fate.STAB.word
    fates = {word: int((fate == word).sum()) for word in FATES}
    stabs = {a: int((stab & (defector == a)).sum()) for a in set(defector[stab])}
    return fate_table_from_counts(len(fate), fates, stabs, actors)


def fate_table_from_counts(
    n: int, fates: Mapping[str, int], stabs: Mapping[str, int], actors: Sequence[str] | None = None
) -> pd.DataFrame:
    """:func:`fate_table` from the counts: replicates ``n``, replicates per fate word and stabs in
    the back per defector (only defectors who stabbed at least once); the rows of
    :func:`sim.analysis.fates.fate_rows`."""
    return pd.DataFrame(fate_rows(n, fates, stabs, actors))


def alliance_members(scenario: Mapping) -> dict[str, list[str]]:
    """The members of each declared alliance, from a manifest's resolved ``scenario`` data."""
    return {name: list(spec.get("members", [])) for name, spec in (scenario.get("alliances") or {}).items()}


def who_stabs_whom(
    replicates: pd.DataFrame,
    members: Mapping[str, Sequence[str]],
    actors: Sequence[str],
    normalize: bool = False,
) -> pd.DataFrame:
    """Count betrayals: defector (rows) by betrayed partner (columns), over all alliances.

    A replicate in which alliance ``a`` ended as a stab in the back by ``d`` adds one to
    ``(d, m)`` for every other member ``m`` of ``a``.

    Parameters
    ----------
    replicates : DataFrame
        Columns ``<alliance>.fate`` and ``<alliance>.defector`` for each alliance in ``members``
        (alliances without these columns are skipped).
    members : mapping
        Alliance name to its member actors (see :func:`alliance_members`).
    actors : sequence of str
        Row and column order.
    normalize : bool
        Divide by the number of replicates: the probability that ``d`` stabs ``m`` in the back
        (within some alliance) by the horizon.

    Returns
    -------
    DataFrame
        ``(A, A)`` with index ``defector`` and columns ``betrayed``.
    """
    stabs = {}
    for name in members:
        fate_col, def_col = fate_column(name), defector_column(name)
        if fate_col not in replicates or def_col not in replicates:
            continue
        stab = replicates[fate_col].to_numpy() == Fate.STAB.word
        stabs[name] = pd.Series(replicates[def_col].to_numpy()[stab]).value_counts().to_dict()
    return stab_matrix(stabs, members, actors, len(replicates), normalize)


def stab_matrix(
    stabs: Mapping[str, Mapping[str, int]],
    members: Mapping[str, Sequence[str]],
    actors: Sequence[str],
    n: int,
    normalize: bool = False,
) -> pd.DataFrame:
    """:func:`who_stabs_whom` from the counts: stabs in the back per defector in each alliance
    (alliances left out are skipped), over ``n`` replicates."""
    actors = list(actors)
    pos = {a: i for i, a in enumerate(actors)}
    out = np.zeros((len(actors), len(actors)))
    for name, group in members.items():
        for d, c in (stabs.get(name) or {}).items():
            if d not in pos:
                continue
            for m in group:
                if m != d and m in pos:
                    out[pos[d], pos[m]] += c
    if normalize:
        out = out / max(n, 1)
    frame = pd.DataFrame(
        out, index=pd.Index(actors, name="defector"), columns=pd.Index(actors, name="betrayed")
    )
    return frame if normalize else frame.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Survival (time to the end of an alliance)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalCurve:
    """A Kaplan-Meier estimate: one entry per distinct event time.

    Attributes
    ----------
    time : ndarray
        Distinct times at which at least one alliance ended, ascending.
    at_risk, events : ndarray
        Alliances still active just before ``time``, and those that ended at ``time``.
    survival : ndarray
        ``S(t)`` just after ``time`` (the step function is right-continuous; ``S = 1`` before
        the first event).
    low, high : ndarray
        Pointwise 95 % confidence limits from Greenwood's variance.
    n : int
        Number of subjects.
    horizon : float
        The end of follow-up (where the holding alliances are censored).
    """

    time: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    survival: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int
    horizon: float

    def at(self, t) -> np.ndarray:
        """``S(t)`` (and nothing past the horizon is extrapolated: NaN there)."""
        t = np.asarray(t, dtype=float)
        idx = np.searchsorted(self.time, t, side="right")
        s = np.concatenate([[1.0], self.survival])[idx]
        return np.where(t > self.horizon, np.nan, s)

    def steps(self, grid) -> pd.DataFrame:
        """``S``, ``low`` and ``high`` evaluated on ``grid`` (e.g. every step 0..T)."""
        grid = np.asarray(grid, dtype=float)
        idx = np.searchsorted(self.time, grid, side="right")
        pad = np.concatenate
        return pd.DataFrame(
            {
                "time": grid,
                "survival": pad([[1.0], self.survival])[idx],
                "low": pad([[1.0], self.low])[idx],
                "high": pad([[1.0], self.high])[idx],
            }
        )

    @property
    def final(self) -> float:
        """``S`` at the horizon."""
        return float(self.survival[-1]) if len(self.survival) else 1.0

    def median(self) -> float:
        """Median time to the end: the first time with ``S <= 0.5`` (NaN when never reached)."""
        below = np.nonzero(self.survival <= 0.5)[0]
        return float(self.time[below[0]]) if len(below) else float("nan")


def kaplan_meier(
    durations,
    observed,
    horizon: float | None = None,
    z: float = Z95,
    conf_type: Literal["log-log", "plain"] = "log-log",
) -> SurvivalCurve:
    """Kaplan-Meier product-limit estimate of survival, with Greenwood 95 % intervals.

    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)``, with ``d_i`` events at ``t_i`` and ``n_i`` at
    risk just before; a subject censored at ``t_i`` is at risk at ``t_i`` (events come before
    censorings at the same time).

    Greenwood's variance is ``Var S(t) = S(t)² sum_{t_i <= t} d_i / (n_i (n_i - d_i))``. The
    ``"plain"`` interval is ``S ± z sqrt(Var)`` clipped to [0, 1]; the ``"log-log"`` interval
    (the default) transforms it as ``S ** exp(± z σ / log S)`` with
    ``σ² = sum d_i / (n_i (n_i - d_i)) / (log S)²``, which stays inside (0, 1) and behaves
    better in the tails.

    Parameters
    ----------
    durations : array_like
        Time of the end (event) or of censoring, per subject.
    observed : array_like of bool
        True where the end was observed, False where censored.
    horizon : float, optional
        End of follow-up (default: the largest duration).
    z : float
        Normal quantile of the interval.
    conf_type : {"log-log", "plain"}
        Transform of the Greenwood interval.

    Returns
    -------
    SurvivalCurve

    References
    ----------
    Kaplan & Meier (1958); Greenwood (1926); Kalbfleisch & Prentice (2002) for the log-log
    interval.
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError("expected durations and observed of the same length")
    n = len(t)
    if horizon is None:
        horizon = float(t.max()) if n else 0.0
    times = np.unique(t[e])
    events = _count_at(t[e], times).astype(np.int64)
    sorted_t = np.sort(t)
    at_risk = n - np.searchsorted(sorted_t, times, side="left")
    return survival_from_counts(times, events, at_risk, n, float(horizon), z, conf_type)


def survival_from_counts(
    times,
    events,
    at_risk,
    n: int,
    horizon: float,
    z: float = Z95,
    conf_type: Literal["log-log", "plain"] = "log-log",
) -> SurvivalCurve:
    """The Kaplan-Meier estimate and its Greenwood interval from the counts alone: the distinct
    event times, the events at each and the subjects at risk just before each (see
    :func:`kaplan_meier`, which counts them from the durations; a streaming digest counts them
    row group by row group and gets the same curve)."""
    times = np.asarray(times, dtype=float)
    events = np.asarray(events, dtype=np.int64)
    at_risk = np.asarray(at_risk, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 - events / at_risk
        surv = np.cumprod(factor)
        terms = np.where(at_risk > events, events / (at_risk * (at_risk - events)), np.inf)
        cum = np.cumsum(terms)
        if conf_type == "plain":
            se = surv * np.sqrt(cum)
            low, high = surv - z * se, surv + z * se
        elif conf_type == "log-log":
            log_s = np.log(surv)
            sigma = np.sqrt(cum) / np.abs(log_s)
            low = surv ** np.exp(z * sigma)
            high = surv ** np.exp(-z * sigma)
        else:
            raise ValueError(f"unknown conf_type {conf_type!r}; expected 'log-log' or 'plain'")
    zero = surv <= 0
    low = np.where(zero, 0.0, low)
    high = np.where(zero, 0.0, high)
    low = np.clip(np.nan_to_num(low, nan=0.0), 0.0, 1.0)
    high = np.clip(np.nan_to_num(high, nan=1.0), 0.0, 1.0)
    return SurvivalCurve(times, at_risk.astype(np.int64), events, surv, low, high, n, float(horizon))


def _count_at(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    s = np.sort(values)
    return np.searchsorted(s, grid, side="right") - np.searchsorted(s, grid, side="left")


def alliance_survival(
    replicates: pd.DataFrame, alliance: str, horizon: int, fate: str | None = None, **kwargs
) -> SurvivalCurve:
    """Time until an alliance ends, censored at the horizon where it holds.

    Parameters
    ----------
    replicates : DataFrame
        Columns ``<alliance>.fate`` and ``<alliance>.end_step``.
    alliance : str
    horizon : int
        Steps of the run (``end_step`` of a holding alliance).
    fate : str, optional
        Count only endings of this kind (``"stab_in_the_back"`` or ``"drift_apart"``) as events
        and censor the others at their end: the cause-specific survival.
    **kwargs
        Passed to :func:`kaplan_meier`.

    References
    ----------
    Kaplan & Meier (1958); Greenwood (1926).
    """
    fates = replicates[fate_column(alliance)].to_numpy()
    ended = fates != Fate.HOLDS.word if fate is None else fates == fate
    t = replicates[end_step_column(alliance)].to_numpy(dtype=float)
    t = np.where(fates == Fate.HOLDS.word, float(horizon), t)
    return kaplan_meier(t, ended, horizon=horizon, **kwargs)


# --------------------------------------------------------------------------------------------
# Cohesion over time (from the histograms)
# --------------------------------------------------------------------------------------------


def histogram_quantiles(
    counts, q, low: float = COHESION_RANGE[0], high: float = COHESION_RANGE[1]
) -> np.ndarray:
    """Quantiles of a sample known only through its histogram on equal bins.

    The mass of each bin is spread uniformly over it, and the quantile is read from the
    piecewise-linear cumulative distribution, so it is within one bin width of the sample
    quantile.

    Parameters
    ----------
    counts : array_like, shape (..., bins)
        Counts over ``bins`` equal bins of ``[low, high]``.
    q : array_like, shape (m,)
        Probabilities in [0, 1].
    low, high : float
        The histogram's range.

    Returns
    -------
    ndarray, shape (..., m)
        NaN where a histogram is empty.
    """
    counts = np.asarray(counts, dtype=float)
    q = np.atleast_1d(np.asarray(q, dtype=float))
    bins = counts.shape[-1]
    edges = np.linspace(low, high, bins + 1)
    flat = counts.reshape(-1, bins)
    total = flat.sum(axis=1)
    cdf = np.concatenate([np.zeros((len(flat), 1)), np.cumsum(flat, axis=1)], axis=1)
    out = np.full((len(flat), len(q)), np.nan)
    for r in np.nonzero(total > 0)[0]:
        c = cdf[r] / total[r]
        # the lowest edge where the CDF reaches q, interpolated inside the bin
        idx = np.where(q > 0, np.searchsorted(c, q, side="left"), np.searchsorted(c, 0.0, side="right"))
        idx = np.clip(idx, 1, bins)
        c0, c1 = c[idx - 1], c[idx]
        frac = np.where(c1 > c0, (q - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0)
        out[r] = edges[idx - 1] + np.clip(frac, 0.0, 1.0) * (edges[idx] - edges[idx - 1])
    return out.reshape(counts.shape[:-1] + (len(q),))


def cohesion_quantiles(summary: Mapping[str, np.ndarray], q=(0.05, 0.5, 0.95)) -> np.ndarray:
    """Quantiles of each alliance's cohesion at every step, from ``cohesion_hist``.

    Cohesion is the mean disposition among an alliance's members (in [-1, 1]).

    Returns
    -------
    ndarray, shape (steps + 1, L, len(q))
    """
    return histogram_quantiles(summary["cohesion_hist"], q, *COHESION_RANGE)


def cohesion_bands(
    summary: Mapping[str, np.ndarray], alliances: Sequence[str], q=(0.05, 0.25, 0.5, 0.75, 0.95)
) -> dict[str, pd.DataFrame]:
    """Per alliance, a frame with ``step`` and one column per quantile (``q05``, ``q50``...)."""
    values = cohesion_quantiles(summary, q)
    names = [f"q{round(100 * p):02d}" for p in q]
    out = {}
    for a, name in enumerate(alliances):
        frame = pd.DataFrame(values[:, a, :], columns=names)
        frame.insert(0, "step", np.arange(values.shape[0]))
        out[name] = frame
    return out


def active_share(summary: Mapping[str, np.ndarray]) -> np.ndarray:
    """Share of replicates in which each alliance is still active, per step: (steps + 1, L)."""
    return np.asarray(summary["active"], dtype=float) / float(np.asarray(summary["n"]).sum())


# --------------------------------------------------------------------------------------------
# Blocs, balance and ties
# --------------------------------------------------------------------------------------------


def bloc_columns(replicates: pd.DataFrame, actors: Sequence[str]) -> list[str] | None:
    """The ``bloc:<actor>`` columns in actor order, or None when the result set has none."""
    cols = [bloc_column(a) for a in actors]
    return cols if all(c in replicates for c in cols) else None


def same_bloc_probability(replicates: pd.DataFrame, actors: Sequence[str]) -> pd.DataFrame:
    """The probability that each actor ends in the same bloc as each other one.

    The blocs are the Axelrod-Bennett two-bloc partition of the final ties, one per replicate,
    in the columns ``bloc:<actor>`` (0 or 1).

    Returns
    -------
    DataFrame
        ``(A, A)``, symmetric, with ones on the diagonal.

    Raises
    ------
    KeyError
        When a ``bloc:<actor>`` column is missing.

    References
    ----------
    Axelrod & Bennett (1993).
    """
    cols = [bloc_column(a) for a in actors]
    missing = [c for c in cols if c not in replicates]
    if missing:
        raise KeyError(f"no bloc columns for {', '.join(missing)}")
    B = replicates[cols].to_numpy(dtype=np.int8)
    n = max(len(B), 1)
    same = (B[:, :, None] == B[:, None, :]).sum(axis=0) / n
    return pd.DataFrame(same, index=list(actors), columns=list(actors))


def modal_blocs(replicates: pd.DataFrame, actors: Sequence[str]) -> np.ndarray:
    """A typical two-bloc partition: each actor with the first actor when P(same) >= 1/2.

    Returns an int array (0 with the first actor, 1 opposite).
    """
    p = same_bloc_probability(replicates, actors).to_numpy()
    return (p[0] < 0.5).astype(np.int64)


def balance_index(summary: Mapping[str, np.ndarray]) -> np.ndarray:
    """Mean share of balanced triads per step, ``balance_sum / balance_n``: (steps + 1,).

    A triad is balanced when the product of the signs of its three (symmetrised) ties is
    positive: "the friend of my friend is my friend". The experiment runner averages it over the
    first replicates of each chunk (``balance_n`` of them; all replicates when absent).

    References
    ----------
    Heider (1946); Cartwright & Harary (1956).
    """
    count = summary.get("balance_n", summary["n"])
    return np.asarray(summary["balance_sum"], dtype=float) / float(np.asarray(count).sum())


def frustration(summary: Mapping[str, np.ndarray]) -> np.ndarray:
    """Mean share of unbalanced triads per step, ``1 - balance_index``: (steps + 1,).

    References
    ----------
    Cartwright & Harary (1956).
    """
    return 1.0 - balance_index(summary)


def mean_ties(summary: Mapping[str, np.ndarray], actors: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean final tie matrix over replicates (row: from, column: to), ``ties_sum / n``."""
    n = float(np.asarray(summary["n"]).sum())
    W = np.asarray(summary["ties_sum"], dtype=float) / n
    labels = list(actors) if actors is not None else list(range(W.shape[0]))
    return pd.DataFrame(W, index=labels, columns=labels)


def tie_sd(summary: Mapping[str, np.ndarray], actors: Sequence[str] | None = None) -> pd.DataFrame:
    """Standard deviation of the final ties over replicates, from ``ties_sq`` and ``ties_sum``."""
    n = float(np.asarray(summary["n"]).sum())
    m = np.asarray(summary["ties_sum"], dtype=float) / n
    var = np.maximum(np.asarray(summary["ties_sq"], dtype=float) / n - m * m, 0.0)
    labels = list(actors) if actors is not None else list(range(m.shape[0]))
    return pd.DataFrame(np.sqrt(var), index=labels, columns=labels)


def mean_capability(replicates: pd.DataFrame, actors: Sequence[str]) -> pd.Series:
    """Mean final capability (share of power) of each actor (NaN where not recorded)."""
    return pd.Series(
        {
            a: float(replicates[capability_column(a)].mean())
            if capability_column(a) in replicates
            else float("nan")
            for a in actors
        }
    )
