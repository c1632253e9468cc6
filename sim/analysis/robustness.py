"""Robustness of policies over many worlds: percentiles, regret and satisficing.

Pure functions on a metric array ``M`` of shape ``(P, S, K)``: P policies evaluated on the same S
worlds (sampled states of the world, common to every policy), K metrics, each with a direction
(``sign`` +1 to maximise, -1 to minimise) and an optional threshold (NaN for none).

- **Percentiles**: each metric's mean and 10th/90th percentile over the worlds.
- **Regret** of policy p in world s on metric k: the gap to the best policy in that world,
  ``max_q sign_k M[q, s, k] - sign_k M[p, s, k]`` (>= 0, in the metric's own units). This is
  Savage's (1951) regret against the best-performing alternative in each state of the world, as
  used for robust decisions by Lempert et al. (2006) and among the regret definitions compared by
  Herman et al. (2015) and McPhail et al. (2018). Summarised per policy by its maximum (minimax regret)
  and its 90th percentile over the worlds (a less extreme-sensitive summary, Herman et al. 2015).
- **Satisficing** (Starr's domain criterion; Herman et al. 2015, McPhail et al. 2018): the share
  of worlds in which every metric with a threshold meets it (at least the threshold when
  maximised, at most it when minimised).

The best policy is looked for among the P evaluated, so regret is relative to that set.

**Estimation noise.** Each entry of ``M`` is a mean over R replicates, so it carries Monte Carlo
error, and the summaries above are not linear in it. Two things inflate them. (1) The best policy
in a world is picked from noisy estimates, and the maximum of noisy values is biased upward (the
optimizer's curse, Smith & Winkler 2006): ten identical policies show a large regret. (2) A 90th
percentile or a threshold share over the worlds widens with the noise of each world's estimate.
With few replicates regret comes out far larger than it is and takes only a few lattice values.
Given the metrics replicate by replicate, :func:`corrected` removes (1) by cross-fitting — the best
policy of a world is chosen on one half of its replicates and the regret measured on the other
half, both ways round, so selection and measurement use independent noise (sample splitting, as
in honest estimation; Athey & Imbens 2016) — and (2) by reading each world through its noise: the
per-world regrets are pulled toward the policy's mean regret until their spread matches the true
values' spread, the estimator's sampling variance (a bootstrap over the replicates) taken off by
the method of moments (constrained empirical Bayes, Louis 1984), and a threshold share is the
average over the worlds of each world's posterior probability of meeting the threshold. This
removes most, not all, of the inflation: ten identical policies (true regret 0) measured with 4
replicates per world show a 90th-percentile regret of 0.75 plain and about 0.02 corrected; a
policy truly 0.3 behind in every world shows 0.75 plain and about 0.48 corrected with 4
replicates, 0.50 and 0.37 with 16 (``tests/test_robustness.py``). A bootstrap over worlds, each
resampled world bringing its replicates (and so its own noise) along and the same worlds drawn for
every policy (common random numbers stay paired), gives every summary's standard error (Efron &
Tibshirani 1993; resampling the first stage of a two-stage sample carries both stages' variance).

References
----------
Savage, L. J. (1951). The theory of statistical decision. JASA 46(253), 55-67.
Herman, J. D., Reed, P. M., Zeff, H. B. & Characklis, G. W. (2015). How should robustness be
defined for water systems planning under change? J. Water Resour. Plann. Manage. 141(10), 04015012.
McPhail, C., Maier, H. R., Kwakkel, J. H., Giuliani, M., Castelletti, A. & Westra, S. (2018).
Robustness metrics: how are they calculated, when should they be used and why do they give
different results? Earth's Future 6, 169-191.
Smith, J. E. & Winkler, R. L. (2006). The optimizer's curse: skepticism and postdecision surprise
in decision analysis. Management Science 52(3), 311-322.
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
Athey, S. & Imbens, G. (2016). Recursive partitioning for heterogeneous causal effects. PNAS
113(27), 7353-7360 (honest estimation: select on one sample, estimate on another).
Louis, T. A. (1984). Estimating a population of parameter values using Bayes and empirical Bayes
methods. JASA 79(386), 393-398.
Lempert, R. J., Groves, D. G., Popper, S. W. & Bankes, S. C. (2006). A general, analytic method
for generating robust strategies and narrative scenarios. Management Science 52(4), 514-528.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

LOW_PERCENTILE = 10
HIGH_PERCENTILE = 90


def _check(M: np.ndarray, sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    M = np.asarray(M, dtype=float)
    sign = np.asarray(sign, dtype=float)
    if M.ndim != 3 or sign.shape != (M.shape[2],):
        raise ValueError(
            f"expected M of shape (P, S, K) and sign of shape (K,), got {M.shape} and {sign.shape}"
        )
    if not np.all(np.isin(sign, (-1.0, 1.0))):
        raise ValueError("expected signs of +1 (maximise) or -1 (minimise)")
    return M, sign


def percentiles(M: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, 10th and 90th percentile of each metric over the worlds: each ``(P, K)``."""
    M = np.asarray(M, dtype=float)
    return {
        "mean": M.mean(axis=1),
        "p10": np.percentile(M, LOW_PERCENTILE, axis=1),
        "p90": np.percentile(M, HIGH_PERCENTILE, axis=1),
    }


def regret(M: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Regret of each policy in each world on each metric, ``(P, S, K)``, >= 0 (module docstring)."""
    M, sign = _check(M, sign)
    signed = M * sign
    return signed.max(axis=0, keepdims=True) - signed


def satisfied(M: np.ndarray, sign: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Whether each policy meets every threshold in each world, ``(P, S)`` bool. Metrics whose
    threshold is NaN do not count; with no thresholds at all every world satisfies."""
    M, sign = _check(M, sign)
    threshold = np.asarray(threshold, dtype=float)
    has = ~np.isnan(threshold)
    if not has.any():
        return np.ones(M.shape[:2], dtype=bool)
    ok = M[:, :, has] * sign[has] >= threshold[has] * sign[has]
    return ok.all(axis=2)


@dataclass(frozen=True)
class Robustness:
    """Per-policy summaries; arrays are ``(P, K)`` unless noted.

    With replicate-level metrics (:func:`robustness` with ``replicates``), ``regret_p90``,
    ``regret_max``, ``satisficing`` and ``met`` are corrected for estimation noise
    (:func:`corrected`) and the ``*_se`` arrays hold their standard errors; the uncorrected values
    stay in ``regret_p90_raw`` and ``satisficing_raw``.
    """

    mean: np.ndarray
    p10: np.ndarray
    p90: np.ndarray
    regret_max: np.ndarray
    regret_p90: np.ndarray
    satisficing: np.ndarray  # (P,) share of worlds meeting every threshold
    met: np.ndarray | None = None  # (P, K) share of worlds meeting each threshold (NaN: none)
    mean_se: np.ndarray | None = None
    diff_se: np.ndarray | None = None  # (P, K) of each policy's mean minus the status quo's
    regret_p90_se: np.ndarray | None = None
    regret_max_se: np.ndarray | None = None
    satisficing_se: np.ndarray | None = None  # (P,)
    regret_p90_raw: np.ndarray | None = None
    satisficing_raw: np.ndarray | None = None  # (P,)
    replicates: int = 0  # replicates per policy and world behind the correction (0: none)

    @property
    def corrected(self) -> bool:
        """Whether regret and satisficing were corrected for estimation noise."""
        return self.replicates >= 2

    def normalised_worst(self) -> np.ndarray:
        """``(P,)`` each policy's largest regret over the metrics, each metric's 90th-percentile
        regret divided by its largest over the policies (so metrics in different units weigh
        alike)."""
        scale = self.regret_p90.max(axis=0)
        normalised = np.divide(self.regret_p90, scale, out=np.zeros_like(self.regret_p90), where=scale > 0)
        return normalised.max(axis=1) if normalised.shape[1] else np.zeros(len(normalised))

    def rank(self) -> np.ndarray:
        """Policy indices from most to least robust: the highest satisficing share first, then the
        smallest worst normalised 90th-percentile regret (:meth:`normalised_worst`, a minimax over
        metrics), then the policy's index (stable)."""
        worst = self.normalised_worst()
        return np.lexsort((np.arange(len(worst)), worst, -self.satisficing))

    def tied_with_best(self, z: float = 1.96) -> np.ndarray:
        """``(P,)`` whether each policy's satisficing share and worst normalised regret are both
        within ``z`` standard errors of the most robust policy's (it cannot be told from it with
        the worlds and replicates run). All False without standard errors, except the best."""
        best = int(self.rank()[0])
        out = np.zeros(len(self.satisficing), dtype=bool)
        out[best] = True
        if self.satisficing_se is None or self.regret_p90_se is None:
            return out
        scale = self.regret_p90.max(axis=0)
        se_norm = np.divide(self.regret_p90_se, scale, out=np.zeros_like(self.regret_p90_se), where=scale > 0)
        worst = self.normalised_worst()
        k_worst = np.argmax(
            np.divide(self.regret_p90, scale, out=np.zeros_like(self.regret_p90), where=scale > 0), axis=1
        )
        w_se = se_norm[np.arange(len(worst)), k_worst] if se_norm.shape[1] else np.zeros(len(worst))
        s_close = np.abs(self.satisficing - self.satisficing[best]) <= z * np.hypot(
            self.satisficing_se, self.satisficing_se[best]
        )
        w_close = np.abs(worst - worst[best]) <= z * np.hypot(w_se, w_se[best])
        return out | (s_close & w_close)


def _summaries(M: np.ndarray, sign: np.ndarray, threshold: np.ndarray) -> dict[str, np.ndarray]:
    """The plain summaries of ``M``: regret (90th percentile and maximum), the satisficing share
    and each threshold's share, and the mean."""
    r = regret(M, sign)
    return {
        "regret_p90": np.percentile(r, HIGH_PERCENTILE, axis=1),
        "regret_max": r.max(axis=1),
        **_shares(M, sign, threshold),
        "mean": M.mean(axis=1),
    }


def _shares(M: np.ndarray, sign: np.ndarray, threshold: np.ndarray) -> dict[str, np.ndarray]:
    has = ~np.isnan(threshold)
    met = np.full((M.shape[0], M.shape[2]), np.nan)
    if has.any():
        met[:, has] = (M[:, :, has] * sign[has] >= threshold[has] * sign[has]).mean(axis=1)
    return {"satisficing": satisfied(M, sign, threshold).mean(axis=1), "met": met}


def denoise(values: np.ndarray, noise_var: np.ndarray) -> np.ndarray:
    """Per-world estimates ``(P, S, K)`` pulled toward their mean over the worlds so that their
    spread matches the spread of the true values: each policy's and metric's variance over the
    worlds less the estimation noise's (``noise_var``, ``(P, K)``), by the method of moments. The
    histogram of such estimates matches that of the true values (Louis 1984), so their
    percentiles are not widened by noise."""
    m = values.mean(axis=1, keepdims=True)
    total = values.var(axis=1, ddof=1, keepdims=True) if values.shape[1] > 1 else np.zeros_like(m)
    signal = np.clip(total - noise_var[:, None, :], 0.0, None)
    k = np.sqrt(np.divide(signal, total, out=np.zeros_like(total), where=total > 0))
    return m + k * (values - m)


def _half_noise(d: np.ndarray) -> np.ndarray:
    """Sampling variance ``(P, S, K)`` of the mean over replicates (axis 2) of ``d``."""
    n = d.shape[2]
    return d.var(axis=2, ddof=1) / n if n > 1 else np.full(d.shape[:2] + d.shape[3:], np.nan)


def shares_given_noise(
    M: np.ndarray, noise: np.ndarray, sign: np.ndarray, threshold: np.ndarray
) -> dict[str, np.ndarray]:
    """The expected share of worlds in which each policy meets each threshold (and all of them),
    given noisy per-world estimates ``M`` (P, S, K) with sampling variances ``noise``: each
    world's true value is read through its normal posterior under a normal spread of true values
    over the worlds (mean and variance by the method of moments, the noise taken off), and the
    posterior probabilities that it meets the threshold are averaged over the worlds (a
    world-by-world empirical Bayes reading, Louis 1984). Noise-free metrics count as they are."""
    from scipy.special import ndtr

    has = ~np.isnan(threshold)
    P, S, K = M.shape
    met = np.full((P, K), np.nan)
    prob = np.ones((P, S, K))
    if has.any():
        m = M.mean(axis=1, keepdims=True)
        total = M.var(axis=1, ddof=1, keepdims=True) if S > 1 else np.zeros_like(m)
        v = noise.mean(axis=1, keepdims=True)
        signal = np.clip(total - v, 0.0, None)
        shrink = np.divide(signal, signal + v, out=np.ones_like(signal), where=(signal + v) > 0)
        post_mean = m + shrink * (M - m)
        post_sd = np.sqrt(shrink * v)
        gap = (post_mean - threshold) * sign
        exact = (M * sign >= threshold * sign).astype(float)
        p = np.where(
            post_sd > 0, ndtr(np.divide(gap, post_sd, out=np.zeros_like(gap), where=post_sd > 0)), exact
        )
        prob[:, :, has] = p[:, :, has]
        met[:, has] = prob[:, :, has].mean(axis=1)
    return {"satisficing": prob.prod(axis=2).mean(axis=1), "met": met}


def cross_fitted_regret(X: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Per-world regret ``(P, S, K)`` from replicate-level metrics ``X`` (P, S, R, K), the best
    policy of each world chosen on one half of its replicates and the regret measured on the other
    half, both ways round and averaged (so the choice and the measurement use independent noise)."""
    Xs = X * sign
    A, B = Xs[:, :, 0::2, :].mean(axis=2), Xs[:, :, 1::2, :].mean(axis=2)
    rows = np.arange(X.shape[1])[:, None]
    cols = np.arange(X.shape[3])[None, :]
    best_a, best_b = A.argmax(axis=0), B.argmax(axis=0)  # (S, K)
    r_b = B[best_a, rows, cols][None] - B  # chosen on A, measured on B
    r_a = A[best_b, rows, cols][None] - A
    return (r_a + r_b) / 2


def regret_noise(
    X: np.ndarray, sign: np.ndarray, rng: np.random.Generator, resamples: int = 30
) -> np.ndarray:
    """Sampling variance ``(P, K)`` of :func:`cross_fitted_regret` in a world, averaged over the
    worlds: the bootstrap variance over replicates resampled within each world (the same rows for
    every policy), which includes how often noise changes which policy is chosen as best."""
    S, R = X.shape[1], X.shape[2]
    rows = np.arange(S)[:, None]
    draws = []
    for _ in range(resamples):
        idx = np.asarray(rng.integers(0, R, size=(S, R)), dtype=np.intp)
        draws.append(cross_fitted_regret(X[:, rows, idx, :], sign))
    # a resample's spread is (R - 1) / R of the sample's (the plug-in variance): undo that
    return np.var(draws, axis=0, ddof=1).mean(axis=1) * R / (R - 1)


def corrected(
    X: np.ndarray, sign: np.ndarray, threshold: np.ndarray, noise: np.ndarray
) -> dict[str, np.ndarray]:
    """Regret and satisficing from replicate-level metrics ``X`` (P, S, R, K), corrected for
    estimation noise (module docstring): cross-fitted regrets (:func:`cross_fitted_regret`)
    denoised (:func:`denoise`, with the regret's sampling variance ``noise`` from
    :func:`regret_noise`) before their percentiles are taken, and threshold shares that read each
    world through its noise (:func:`shares_given_noise`)."""
    rt = denoise(cross_fitted_regret(X, sign), noise)
    M = X.mean(axis=2)
    return {
        "regret_p90": np.clip(np.percentile(rt, HIGH_PERCENTILE, axis=1), 0.0, None),
        "regret_max": np.clip(rt.max(axis=1), 0.0, None),
        **shares_given_noise(M, _half_noise(X), sign, threshold),
        "mean": M.mean(axis=1),
    }


def robustness(
    M: np.ndarray,
    sign: np.ndarray,
    threshold: np.ndarray | None = None,
    *,
    replicates: np.ndarray | None = None,
    resamples: int = 100,
    seed: int = 0,
) -> Robustness:
    """All per-policy robustness summaries of ``M`` (module docstring).

    Parameters
    ----------
    M : (P, S, K) array
        Each metric's mean over the replicates of each policy in each world.
    sign, threshold : (K,) arrays
        Direction (+1 maximise, -1 minimise) and satisficing threshold (NaN for none).
    replicates : (P, S, R, K) array, optional
        The metrics replicate by replicate (``M`` is their mean). With ``R >= 2`` regret and
        satisficing are corrected for estimation noise (:func:`corrected`) and every summary gets
        a standard error.
    resamples : int
        Bootstrap resamples of the worlds (each with its replicates) for the standard errors.
    seed : int
        Seed of the bootstrap.
    """
    M, sign = _check(M, sign)
    if threshold is None:
        threshold = np.full(M.shape[2], np.nan)
    threshold = np.asarray(threshold, dtype=float)
    q = percentiles(M)
    base = _summaries(M, sign, threshold)
    plain: dict[str, Any] = {
        "mean": q["mean"],
        "p10": q["p10"],
        "p90": q["p90"],
        "regret_max": base["regret_max"],
        "regret_p90": base["regret_p90"],
        "satisficing": base["satisficing"],
        "met": base["met"],
    }
    if replicates is None or replicates.shape[2] < 2 or resamples < 2:
        return Robustness(**plain)
    X = np.asarray(replicates, dtype=float)
    P, S, R, K = X.shape
    if (P, S, K) != M.shape:
        raise ValueError(f"expected replicates of shape {M.shape[:2] + (R,) + M.shape[2:]}, got {X.shape}")
    rng = np.random.default_rng([seed, 0x424F4F54])  # "BOOT"
    noise = regret_noise(X, sign, rng)
    found = corrected(X, sign, threshold, noise)
    draws: dict[str, list[np.ndarray]] = {k: [] for k in (*found, "diff")}
    for _ in range(resamples):
        # worlds resampled with their replicates (the same worlds for every policy, so common
        # random numbers stay paired): each world's estimate brings its own noise along, so the
        # spread covers both the sampling of worlds and the noise within them
        ws = np.asarray(rng.integers(0, S, size=S), dtype=np.intp)
        for k, v in corrected(X[:, ws], sign, threshold, noise).items():
            draws[k].append(v)
        draws["diff"].append(draws["mean"][-1] - draws["mean"][-1][:1])

    def se(k: str) -> np.ndarray:
        return np.std(draws[k], axis=0, ddof=1)

    return Robustness(
        mean=q["mean"],
        p10=q["p10"],
        p90=q["p90"],
        regret_max=found["regret_max"],
        regret_p90=found["regret_p90"],
        satisficing=found["satisficing"],
        met=found["met"],
        mean_se=se("mean"),
        diff_se=se("diff"),
        regret_p90_se=se("regret_p90"),
        regret_max_se=se("regret_max"),
        satisficing_se=se("satisficing"),
        regret_p90_raw=base["regret_p90"],
        satisficing_raw=base["satisficing"],
        replicates=R,
    )
