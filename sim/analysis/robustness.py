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

References
----------
Savage, L. J. (1951). The theory of statistical decision. JASA 46(253), 55-67.
Herman, J. D., Reed, P. M., Zeff, H. B. & Characklis, G. W. (2015). How should robustness be
defined for water systems planning under change? J. Water Resour. Plann. Manage. 141(10), 04015012.
McPhail, C., Maier, H. R., Kwakkel, J. H., Giuliani, M., Castelletti, A. & Westra, S. (2018).
Robustness metrics: how are they calculated, when should they be used and why do they give
different results? Earth's Future 6, 169-191.
Lempert, R. J., Groves, D. G., Popper, S. W. & Bankes, S. C. (2006). A general, analytic method
for generating robust strategies and narrative scenarios. Management Science 52(4), 514-528.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """Per-policy summaries; arrays are ``(P, K)`` unless noted."""

    mean: np.ndarray
    p10: np.ndarray
    p90: np.ndarray
    regret_max: np.ndarray
    regret_p90: np.ndarray
    satisficing: np.ndarray  # (P,) share of worlds meeting every threshold

    def rank(self) -> np.ndarray:
        """Policy indices from most to least robust: the highest satisficing share first, then the
        smallest worst normalised 90th-percentile regret (each metric's regret divided by its
        largest 90th-percentile regret over the policies, so metrics in different units weigh
        alike; a minimax over metrics), then the policy's index (stable)."""
        scale = self.regret_p90.max(axis=0)
        normalised = np.divide(self.regret_p90, scale, out=np.zeros_like(self.regret_p90), where=scale > 0)
        worst = normalised.max(axis=1) if normalised.shape[1] else np.zeros(len(normalised))
        return np.lexsort((np.arange(len(worst)), worst, -self.satisficing))


def robustness(M: np.ndarray, sign: np.ndarray, threshold: np.ndarray | None = None) -> Robustness:
    """All per-policy robustness summaries of ``M`` (module docstring)."""
    M, sign = _check(M, sign)
    if threshold is None:
        threshold = np.full(M.shape[2], np.nan)
    r = regret(M, sign)
    q = percentiles(M)
    return Robustness(
        mean=q["mean"],
        p10=q["p10"],
        p90=q["p90"],
        regret_max=r.max(axis=1),
        regret_p90=np.percentile(r, HIGH_PERCENTILE, axis=1),
        satisficing=satisfied(M, sign, threshold).mean(axis=1),
    )
