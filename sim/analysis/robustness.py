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
error, and the summaries above are not linear in it: the best policy in a world is picked from
noisy estimates (the maximum of noisy values is biased upward — the optimizer's curse of Smith &
Winkler 2006), and percentiles and threshold shares over the worlds widen with the noise. With few
replicates, regret comes out larger than it is and takes only a few lattice values. Given the
metrics replicate by replicate, :func:`robustness` removes that bias with the bootstrap bias
correction of Efron & Tibshirani (1993, ch. 10): the replicates of each world are resampled (the
same rows for every policy, so common random numbers stay paired), each summary is recomputed, and
its mean excess over the estimate is subtracted from it (clipped to the summary's range). A second
bootstrap, over worlds and replicates, gives each summary's standard error.

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
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall (ch. 10, bias).
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
    ``regret_max``, ``satisficing`` and ``met`` are corrected for estimation noise and the ``*_se``
    arrays hold their standard errors (module docstring); the uncorrected values stay in
    ``regret_p90_raw`` and ``satisficing_raw``.
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
    """The noisy summaries of ``M`` that the correction treats: regret (90th percentile and
    maximum), the satisficing share and each threshold's share."""
    r = regret(M, sign)
    has = ~np.isnan(threshold)
    met = np.full((M.shape[0], M.shape[2]), np.nan)
    if has.any():
        met[:, has] = (M[:, :, has] * sign[has] >= threshold[has] * sign[has]).mean(axis=1)
    return {
        "regret_p90": np.percentile(r, HIGH_PERCENTILE, axis=1),
        "regret_max": r.max(axis=1),
        "satisficing": satisfied(M, sign, threshold).mean(axis=1),
        "met": met,
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
        satisficing are corrected for estimation noise and get standard errors (module docstring).
    resamples : int
        Bootstrap resamples of each kind.
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
    keys = ("regret_p90", "regret_max", "satisficing", "met")
    inner: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    outer: dict[str, list[np.ndarray]] = {k: [] for k in (*keys, "mean", "diff")}
    worlds = np.arange(S)
    for _ in range(resamples):
        # replicates resampled within each world, the same rows for every policy and metric (the
        # pairing of common random numbers is kept); worlds as they are: the noise of the estimate
        idx = rng.integers(0, R, size=(S, R))
        Mb = X[:, worlds[:, None], idx, :].mean(axis=2)
        for k, v in _summaries(Mb, sign, threshold).items():
            if k in inner:
                inner[k].append(v)
        # worlds resampled too: the standard error of each summary
        ws = np.asarray(rng.integers(0, S, size=S), dtype=np.intp)
        idx = rng.integers(0, R, size=(S, R))
        Mb = X[:, ws[:, None], idx, :].mean(axis=2)
        found = _summaries(Mb, sign, threshold)
        for k, v in found.items():
            outer[k].append(v)
        outer["diff"].append(found["mean"] - found["mean"][:1])

    def corrected(k: str, lo: float, hi: float) -> np.ndarray:
        bias = np.mean(inner[k], axis=0) - base[k]
        return np.clip(base[k] - bias, lo, hi)

    def se(k: str) -> np.ndarray:
        return np.std(outer[k], axis=0, ddof=1)

    return Robustness(
        mean=q["mean"],
        p10=q["p10"],
        p90=q["p90"],
        regret_max=corrected("regret_max", 0.0, np.inf),
        regret_p90=corrected("regret_p90", 0.0, np.inf),
        satisficing=corrected("satisficing", 0.0, 1.0),
        met=corrected("met", 0.0, 1.0),
        mean_se=se("mean"),
        diff_se=se("diff"),
        regret_p90_se=se("regret_p90"),
        regret_max_se=se("regret_max"),
        satisficing_se=se("satisficing"),
        regret_p90_raw=base["regret_p90"],
        satisficing_raw=base["satisficing"],
        replicates=R,
    )
