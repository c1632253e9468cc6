"""Conditioning on the observed record, the pure part: likelihoods of observations, weights,
effective sample size, acceptance, the binding observation, scenario scores and Bayes factors.

Everything here works on arrays already recorded from an ensemble (see
:mod:`sim.analysis.calibration` for the runs): ``values`` is an ``(n, K)`` array holding, for each
of ``n`` replicates and ``K`` observations, what the observation reads at its step (a tie's value,
or 1/0 for whether a discrete observation agrees with the replicate).

The error model (:mod:`sim.spec.observations`) makes each observation's likelihood a number in
[0, 1]; the likelihood of a record is their product. That product is the ABC acceptance kernel:
accepting a prior draw with probability equal to it gives exact draws from the posterior of the
model *with that error model* (Wilkinson 2013), the same as weighting all draws by it
(importance sampling from the prior). Its mean over prior draws is the probability the scenario
gave the record, the marginal likelihood used to score and rank scenarios (Bayes factors, Kass &
Raftery 1995).

References
----------
Pritchard, J. K., Seielstad, M. T., Perez-Lezaun, A. & Feldman, M. W. (1999). Population growth of
    human Y chromosomes: a study of Y chromosome microsatellites. Mol. Biol. Evol. 16, 1791-1798.
Beaumont, M. A., Zhang, W. & Balding, D. J. (2002). Approximate Bayesian computation in population
    genetics. Genetics 162, 2025-2035.
Wilkinson, R. D. (2013). Approximate Bayesian computation (ABC) gives exact results under the
    assumption of model error. Stat. Appl. Genet. Mol. Biol. 12(2), 129-141.
Kish, L. (1965). Survey Sampling. Wiley (the effective sample size of weights).
Kass, R. E. & Raftery, A. E. (1995). Bayes factors. JASA 90, 773-795.
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22, 209-212.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from sim.spec.observations import TIE_KINDS, Observation

TINY = 1e-300  # the floor of a likelihood before its logarithm is taken
LOG_TINY = math.log(TINY)
SERIES_BAND = 1.959963984540054  # a series reading "happened" within this many sd of the replicate's
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _log_interval(v: np.ndarray, lo: float, hi: float, s: float) -> np.ndarray:
    """``log(Phi((hi - v) / s) - Phi((lo - v) / s))`` without underflow (log-CDFs, and the upper
    tail read through the symmetry ``Phi(x) = 1 - Phi(-x)``)."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        upper = (hi - v) / s
        lower = (lo - v) / s
        if math.isinf(lo):
            return log_ndtr(upper)
        if math.isinf(hi):
            return log_ndtr(-lower)
        # both bounds finite: on the side of the range where the tails are thin, flip
        flip = lower > 0
        a = np.where(flip, -lower, upper)  # the larger argument
        b = np.where(flip, -upper, lower)
        la, lb = log_ndtr(a), log_ndtr(b)
        return la + np.log1p(-np.exp(np.minimum(lb - la, 0.0)))


def log_likelihoods(
    observations: list[Observation] | tuple[Observation, ...], values: np.ndarray
) -> np.ndarray:
    """The log-likelihood of each observation in each replicate, ``(n, K)``, floored at
    ``log(1e-300)``.

    A tie observation with range ``[low, high]`` (a sign is ``[0, 1]`` or ``[-1, 0]``; a bound at
    -1 or 1 is open) and error width ``s`` has likelihood ``Phi((high - w) / s) - Phi((low - w) / s)``
    for the recorded tie ``w``: the chance that the tie plus a normal reading error lands in the
    range (interval-censored normal error); ``s = 0`` is the indicator of the range. A discrete
    observation misrecorded with probability ``e`` has ``1 - e`` where the replicate agrees
    (value 1) and ``e`` where it does not. A series row (``tie_series``) reading ``y`` with error
    ``sd`` where the replicate's measurement model predicts ``v = a + b w`` (what ``values``
    holds for it) has the normal density ``phi((y - v) / sd) / sd``.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    for k, o in enumerate(observations):
        v = values[:, k]
        if o.kind in TIE_KINDS:
            lo, hi = o.bounds
            s = o.tie_width
            if s == 0:
                out[:, k] = np.where((v >= lo) & (v <= hi), 0.0, LOG_TINY)
            else:
                out[:, k] = _log_interval(v, lo, hi, s)
        elif o.is_series:
            y, sd = o.reading
            z = (y - v) / sd
            out[:, k] = -0.5 * z * z - _LOG_SQRT_2PI - math.log(sd)
        else:
            e = o.misrecord
            with np.errstate(divide="ignore"):
                out[:, k] = np.where(v > 0.5, np.log1p(-e), np.log(e) if e > 0 else -np.inf)
    return np.maximum(np.nan_to_num(out, nan=LOG_TINY), LOG_TINY)


def log_sup(observations: list[Observation] | tuple[Observation, ...]) -> np.ndarray:
    """``(K,)`` the log of each observation's largest possible likelihood (its supremum over what a
    replicate can show), which normalises the ABC kernel.

    A tie range read with width ``s`` is likeliest for a tie at its centre, clipped to the tie's
    scale [-1, 1] (a range open at one end: at that end of the scale): there
    ``2 Phi(half-width / s) - 1``. A hard range (``s = 0``) reaches 1; a discrete observation
    ``1 - e``; a series row the normal density at its mode, ``1 / (sd sqrt(2 pi))``.
    """
    out = np.zeros(len(observations))
    for k, o in enumerate(observations):
        if o.kind in TIE_KINDS:
            lo, hi = o.bounds
            if o.tie_width == 0:
                continue
            if math.isinf(lo) and math.isinf(hi):
                continue
            centre = (
                -1.0 if math.isinf(lo) else 1.0 if math.isinf(hi) else min(max(0.5 * (lo + hi), -1.0), 1.0)
            )
            out[k] = float(_log_interval(np.array([centre]), lo, hi, o.tie_width)[0])
        elif o.is_series:
            out[k] = -_LOG_SQRT_2PI - math.log(o.reading[1])
        else:
            out[k] = math.log1p(-o.misrecord)
    return out


def likelihoods(observations: list[Observation] | tuple[Observation, ...], values: np.ndarray) -> np.ndarray:
    """The likelihood of each observation in each replicate, ``(n, K)``: ``exp`` of
    :func:`log_likelihoods` (a probability in [0, 1] for every kind but a series row, whose
    likelihood is a density); a likelihood at the floor of :func:`log_likelihoods` is 0."""
    log_l = log_likelihoods(observations, values)
    return np.where(log_l <= LOG_TINY, 0.0, np.exp(log_l))


def relative(observations, values: np.ndarray) -> np.ndarray:
    """``(n, K)`` each observation's likelihood over its supremum (:func:`log_sup`), in [0, 1]:
    the normalised kernel, 1 where the replicate shows what the observation reads best."""
    return np.exp(np.minimum(log_likelihoods(observations, values) - log_sup(observations), 0.0))


def happened(observations, values: np.ndarray) -> np.ndarray:
    """Whether each observation happened in each replicate, without reading error: ``(n, K)`` bool
    (a tie inside its range, a discrete observation that agrees, a series reading within
    1.96 of its sd of the replicate's predicted reading)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.empty(values.shape, dtype=bool)
    for k, o in enumerate(observations):
        if o.kind in TIE_KINDS:
            lo, hi = o.bounds
            out[:, k] = (values[:, k] >= lo) & (values[:, k] <= hi)
        elif o.is_series:
            y, sd = o.reading
            out[:, k] = np.abs(values[:, k] - y) <= SERIES_BAND * sd
        else:
            out[:, k] = values[:, k] > 0.5
    return out


def log_likelihood(lik: np.ndarray) -> np.ndarray:
    """Log-likelihood of the whole record in each replicate: the sum of the logs of ``(n, K)``."""
    return np.log(np.maximum(lik, TINY)).sum(axis=1)


def normalised(log_w: np.ndarray) -> np.ndarray:
    """Weights proportional to ``exp(log_w)``, summing to one (all zero if every weight is)."""
    log_w = np.asarray(log_w, dtype=np.float64)
    top = log_w.max(initial=-np.inf)
    if not np.isfinite(top):
        return np.zeros_like(log_w)
    w = np.exp(log_w - top)
    return w / w.sum()


def ess(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (0 for no weight)."""
    w = np.asarray(weights, dtype=np.float64)
    s2 = float((w * w).sum())
    return float(w.sum() ** 2 / s2) if s2 > 0 else 0.0


def accept(record_likelihood: np.ndarray, u: np.ndarray) -> np.ndarray:
    """ABC rejection with the error model as kernel: replicate r is kept when ``u_r < L_r``
    (``u`` uniform on [0, 1)); the kept draws follow the posterior exactly (Wilkinson 2013)."""
    return np.asarray(u) < np.asarray(record_likelihood)


@dataclass(frozen=True)
class Binding:
    """The observation that limits acceptance most: without it acceptance would rise by ``gain``."""

    index: int
    acceptance_without: float
    gain: float


def binding_observation(lik: np.ndarray) -> Binding:
    """The observation whose removal raises the expected acceptance ``mean_r prod_k L_rk`` the most
    (leave-one-out, computed from the ``(n, K)`` likelihoods without rerunning anything)."""
    log_l = np.log(np.maximum(lik, TINY))
    total = log_l.sum(axis=1)
    base = float(np.exp(total).mean())
    without = np.exp(total[:, None] - log_l).mean(axis=0)  # (K,)
    k = int(np.argmax(without))
    gain = float(without[k] / base) if base > 0 else math.inf
    return Binding(k, float(without[k]), gain)


def wilson(successes: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's (1927) score interval for a proportion (95 % by default)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Score:
    """How well a scenario anticipated a record: the probability it gave it and its log score.

    ``evidence`` = mean over prior replicates of the record's likelihood (the marginal likelihood,
    an unbiased Monte Carlo estimate); ``log_score`` its natural log; ``log_se`` the Monte Carlo
    standard error of ``log_score`` (delta method: ``sd(L) / (mean(L) sqrt(n))``).
    """

    evidence: float
    log_score: float
    log_se: float
    n: int


def score(record_likelihood: np.ndarray) -> Score:
    """The :class:`Score` of a scenario from the record likelihood of each of its prior replicates."""
    L = np.asarray(record_likelihood, dtype=np.float64)
    n = L.size
    mean = float(L.mean()) if n else 0.0
    if mean <= 0:
        return Score(0.0, -math.inf, math.inf, n)
    se = float(L.std(ddof=1) / (mean * math.sqrt(n))) if n > 1 else math.inf
    return Score(mean, math.log(mean), se, n)


def log_score_from_log(log_l: np.ndarray) -> Score:
    """As :func:`score`, from log-likelihoods (safe when the record's probability underflows)."""
    log_l = np.asarray(log_l, dtype=np.float64)
    n = log_l.size
    top = log_l.max(initial=-np.inf)
    if not np.isfinite(top):
        return Score(0.0, -math.inf, math.inf, n)
    scaled = np.exp(log_l - top)
    mean = float(scaled.mean())
    se = float(scaled.std(ddof=1) / (mean * math.sqrt(n))) if n > 1 else math.inf
    log_mean = math.log(mean) + float(top)
    return Score(math.exp(log_mean), log_mean, se, n)


def bayes_factor(a: Score, b: Score) -> tuple[float, float]:
    """``log BF(a : b)`` and its Monte Carlo standard error (independent ensembles)."""
    return a.log_score - b.log_score, math.hypot(a.log_se, b.log_se)


def weighted_quantile(x: np.ndarray, w: np.ndarray, q) -> np.ndarray:
    """Quantiles of ``x`` under weights ``w`` (the inverse of the weighted empirical CDF, midpoint
    rule)."""
    order = np.argsort(x, kind="stable")
    xs, ws = np.asarray(x)[order], np.asarray(w, dtype=np.float64)[order]
    cdf = (np.cumsum(ws) - 0.5 * ws) / ws.sum()
    return np.interp(q, cdf, xs)


def ks_distance(prior: np.ndarray, posterior: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance between prior and posterior draws of one parameter."""
    a, b = np.sort(prior), np.sort(posterior)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


def ks_threshold(n: int, m: int, alpha: float = 0.001) -> float:
    """The KS distance above which prior and posterior differ at level ``alpha`` (asymptotic:
    ``c(alpha) sqrt((n + m) / (n m))``, ``c = sqrt(-ln(alpha / 2) / 2)``)."""
    c = math.sqrt(-math.log(alpha / 2) / 2)
    return c * math.sqrt((n + m) / (n * m))
