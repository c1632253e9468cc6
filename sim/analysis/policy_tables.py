"""What evaluated policies show beyond their metrics: the interval of a share, a lever's value in
words, the warnings a result carries (levers that barely move, metrics within noise), which levers
matter (standardised regression coefficients with their errors) and where a policy fails
(:mod:`sim.analysis.levers` evaluates the policies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.analysis.levers import (
    LEVER_PREFIX,
    METRIC_PREFIX,
    PolicyError,
    natural_range,
)
from sim.spec.scenario import Scenario

if TYPE_CHECKING:
    from sim.analysis.levers import PolicyResults


def share_interval(p: float, se: float | None, worlds: int) -> tuple[float, float]:
    """95 % interval of a share of worlds: the wider of the bootstrap's (±1.96 standard errors)
    and Wilson's over the worlds (which stays honest when every world agrees)."""
    from sim.analysis.likelihood import wilson

    lo, hi = wilson(p * worlds, max(worlds, 1))
    if se is not None and np.isfinite(se):
        lo, hi = min(lo, max(p - 1.96 * se, 0.0)), max(hi, min(p + 1.96 * se, 1.0))
    return lo, hi


def lever_display(scenario: Scenario, name: str, value: float) -> str:
    """A lever's value as a reader names it: the option's name for an options lever (``as_is``),
    the number otherwise (signed, when the lever's range straddles zero)."""
    from sim.spec.lever_values import option_name

    lever = scenario.levers.get(name)
    if lever is not None:
        named = option_name(lever, value)
        if named is not None:
            return named
        lo, hi = lever.bounds
        if lo < 0 < hi and value != 0:
            return f"{value:+.3g}"
    return f"{value:.3g}"


def barely_moving(result: PolicyResults) -> list[int]:
    """The metrics whose mean moves across the policies by less than 1 % of the metric's natural
    range or by less than twice its noise (the median standard error of a policy's difference to
    the status quo): they do not tell the policies apart."""
    rob = result.robustness
    lo, hi = natural_range(result.scenario, result.objectives)
    out = []
    for k in range(rob.mean.shape[1]):
        spread = float(np.ptp(rob.mean[:, k]))
        noise = (
            2 * float(np.median(rob.diff_se[1:, k]))
            if rob.diff_se is not None and len(rob.diff_se) > 1
            else 0
        )
        if spread < max(0.01 * (hi[k] - lo[k]), noise):
            out.append(k)
    return out


#: share of the uncorrected regret that estimation noise may make up before a page warns
NOISE_WARNING = 0.25


def policy_warnings(result: PolicyResults) -> list[str]:
    """Sentences on what noise does to this evaluation: how much of the regret of the most robust
    policy was estimation noise (with the replicates that would shrink it), which policies cannot
    be told apart from it, and which metrics barely move."""
    rob = result.robustness
    s = result.settings
    R = int(s.get("replicates") or rob.replicates or 1)
    S = int(s.get("worlds") or result.metrics.shape[1])
    labels = [m.label or n for n, m in zip(result.objectives.names, result.objectives.metrics)]
    best = int(rob.rank()[0])
    out = []
    if not rob.corrected:
        out.append(
            f"With {R} replicate per world, regret and satisficing cannot be corrected for "
            "estimation noise, which inflates regret; run --replicates 4 or more."
        )
    elif rob.regret_p90_raw is not None:
        raw, cor = rob.regret_p90_raw[best], rob.regret_p90[best]
        frac = np.divide(raw - cor, raw, out=np.zeros_like(raw), where=raw > 0)
        k = int(np.argmax(frac))
        if frac[k] > NOISE_WARNING:
            lo, hi = natural_range(result.scenario, result.objectives)
            target = 0.05 * (hi[k] - lo[k])  # the noise's part falls as one over sqrt(replicates)
            need = int(np.ceil(R * ((raw[k] - cor[k]) / target) ** 2))
            out.append(
                f"With {R} replicates per world, estimation noise made up {frac[k]:.0%} of the "
                f"uncorrected 90th-percentile regret of the most robust policy on '{labels[k]}' "
                f"({raw[k]:.3g} before the correction, {cor[k]:.3g} after). The regrets shown are "
                f"corrected, but the correction is only as good as the replicates behind it: about "
                f"--replicates {need} would bring the noise's part under {target:.2g}."
            )
    tied = rob.tied_with_best()
    if tied.sum() > 1:
        out.append(
            f"{int(tied.sum())} policies cannot be told apart from the most robust with {S} worlds "
            f"× {R} replicates (satisficing share and worst regret within 1.96 standard errors): "
            "read their order as a tie; more --worlds (and --replicates) would separate them."
        )
    still = barely_moving(result)
    if still:
        names = ", ".join(f"'{labels[k]}'" for k in still)
        out.append(
            f"{names} barely move{'s' if len(still) == 1 else ''} across the policies (less than 1 % of "
            "the natural range, or within noise): they do not tell the policies apart and are left "
            "out of the trade-off figure."
        )
    return out


def _src_se(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, resamples: int = 200) -> np.ndarray:
    """Bootstrap standard errors of the standardised regression coefficients of ``y`` on the
    columns of ``X`` (policies resampled with replacement)."""
    n = len(y)
    draws = []
    for _ in range(resamples):
        i = rng.integers(0, n, size=n)
        Xb, yb = X[i], y[i]
        sx, sy = Xb.std(axis=0), yb.std()
        if sy == 0 or np.any(sx == 0):
            continue
        A = np.column_stack([np.ones(n), (Xb - Xb.mean(axis=0)) / sx])
        coef, *_ = np.linalg.lstsq(A, (yb - yb.mean()) / sy, rcond=None)
        draws.append(coef[1:])
    if len(draws) < 2:
        return np.full(X.shape[1], np.nan)
    return np.std(draws, axis=0, ddof=1)


def lever_importance(result: PolicyResults) -> pd.DataFrame:
    """How much each lever moves each metric across the evaluated policies: standardised
    regression coefficients (SRC) of the metric's mean over the worlds on the lever values, with
    the regression's R^2 (Saltelli et al. 2008, ch. 1.2.5: when R^2 is high, SRC^2 is the share of
    the metric's variance across policies the lever accounts for), and Spearman's rank correlation
    as a check that does not assume linearity. Common worlds and replicates make the policies'
    means paired, so small effects are not drowned in Monte Carlo noise.

    Returns one row per lever and metric: ``lever``, ``metric``, ``src`` with its standard error
    ``src_se`` (a bootstrap over the policies), ``spearman``, ``r2``, sorted by metric and by
    decreasing ``abs(src)``. Levers held fixed are left out.

    References
    ----------
    Saltelli, A. et al. (2008). Global Sensitivity Analysis: The Primer. Wiley.
    """
    t = result.table
    t = t[t.policy > 0] if len(t) > 2 else t  # the sample proper, without the added status quo
    levers = [c for c in t.columns if c.startswith(LEVER_PREFIX) and t[c].nunique() > 1]
    rows = []
    if not levers:
        return pd.DataFrame(columns=["lever", "metric", "src", "src_se", "spearman", "r2"])
    X = t[levers].to_numpy(dtype=float)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    A = np.column_stack([np.ones(len(Z)), Z])
    for name in result.objectives.names:
        y = t[METRIC_PREFIX + name].to_numpy(dtype=float)
        sd = y.std()
        if sd == 0:
            continue
        coef, *_ = np.linalg.lstsq(A, (y - y.mean()) / sd, rcond=None)
        se = _src_se(X, y, rng=np.random.default_rng(0))
        fitted = A @ coef
        ys = (y - y.mean()) / sd
        r2 = 1.0 - float(((ys - fitted) ** 2).sum() / (ys**2).sum())
        ranks_y = pd.Series(y).rank().to_numpy()
        for k, lever in enumerate(levers):
            ranks_x = pd.Series(X[:, k]).rank().to_numpy()
            rho = float(np.corrcoef(ranks_x, ranks_y)[0, 1])
            rows.append(
                {
                    "lever": lever.removeprefix(LEVER_PREFIX),
                    "metric": name,
                    "src": float(coef[k + 1]),
                    "src_se": float(se[k]),
                    "spearman": rho,
                    "r2": r2,
                }
            )
    if not rows:  # no metric moves across the policies
        return pd.DataFrame(columns=["lever", "metric", "src", "src_se", "spearman", "r2"])
    out = pd.DataFrame(rows)
    order = out.assign(size=out.src.abs()).sort_values(["metric", "size"], ascending=[True, False])
    return order.drop(columns="size").reset_index(drop=True)


def vulnerability(
    result: PolicyResults,
    policy: int | None = None,
    *,
    boxes: int = 1,
    min_coverage: float = 0.5,
    max_qp: float | None = 0.05,
    include: list[str] | None = None,
):
    """Where a policy fails: PRIM (:func:`sim.analysis.discovery.prim_boxes`) on the worlds in
    which it misses at least one of its thresholds, over the worlds' uncertain values. This closes
    the loop of robust decision making: the boxes are the scenarios to watch or to hedge against
    (Lempert et al. 2006; Bryant & Lempert 2010).

    ``policy`` defaults to the most robust one (rank 1); ``include`` (glob patterns of parameter
    paths, such as ``mechanisms.*``) limits the uncertain values PRIM may restrict, which sharpens
    the boxes when worlds are few and values many. Returns a
    :class:`~sim.analysis.discovery.Discovery` whose outcome names the policy.
    """
    from sim.analysis.discovery import Discovery, prim_boxes
    from sim.analysis.robustness import satisfied

    obj = result.objectives
    if np.isnan(obj.threshold).all():
        raise PolicyError(
            "no metric has a threshold, so no world is a failure; give a metric a "
            "'threshold' to find where a policy fails"
        )
    P = result.metrics.shape[0]
    if policy is None:
        policy = int(result.robustness.rank()[0])
    if not 0 <= policy < P:
        raise PolicyError(f"expected a policy in 0..{P - 1}, got {policy}")
    ok = satisfied(result.metrics[policy : policy + 1], obj.sign, obj.threshold)[0]
    fails = ~ok
    x = result.worlds.drop(columns="world").astype(np.float64)
    x = x.loc[:, x.nunique() > 1]
    x.columns = [c.removeprefix("param:") for c in x.columns]
    if include:
        from fnmatch import fnmatchcase

        x = x[[c for c in x.columns if any(fnmatchcase(c, pattern) for pattern in include)]]
        if x.shape[1] == 0:
            raise PolicyError(f"no uncertain value matches {', '.join(include)}")
    label = "failure to meet its thresholds"
    who = "the status quo" if policy == 0 else f"policy {policy}"
    if not fails.any():
        return Discovery(
            label,
            who,
            0.0,
            0,
            len(fails),
            [],
            list(x.columns),
            {"policy": policy, "unit": "worlds", "note": "the policy meets every threshold in every world"},
        )
    found = prim_boxes(x, fails, boxes=boxes, min_coverage=min_coverage, max_qp=max_qp)
    return Discovery(
        label,
        who,
        float(fails.mean()),
        int(fails.sum()),
        len(fails),
        found,
        list(x.columns),
        {"policy": policy, "unit": "worlds", "min_coverage": min_coverage, "max_qp": max_qp},
    )
