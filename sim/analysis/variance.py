"""How much of an outcome's variance each kind of input explains, from a run's own replicates.

A plain run samples every uncertain value once per replicate and records it (``param:<path>``
columns), so first-order sensitivity indices can be estimated from the run itself, with no extra
design ("given data"): sort the replicates by one input, cut them into ``M`` equal-count bins, and
compare the variance of the outcome's bin means with its total variance (Plischke, Borgonovo &
Smith 2013). The raw between-bin share is biased upward by sampling noise (about ``(M - 1) / n``
even for an input with no effect); the correction of Kelley's (1935) epsilon-squared removes that
bias, so an estimate may fall slightly below zero and a sum over many inputs stays unbiased.

Summing the first-order indices of the inputs of one basis (article claim, public figure,
modelling assumption) gives the share of the outcome's variance those inputs explain on their own.
What no first-order index explains is interactions between inputs and the model's own chance
(noise, stochastic events, the members' decisions): for a yes/no outcome such as "the alliance
holds" the latter is usually most of it.

References
----------
Kelley, T. L. (1935). An unbiased correlation ratio measure. PNAS 21(9), 554-559.
Plischke, E., Borgonovo, E. & Smith, C. L. (2013). Global sensitivity measures from given data.
    European Journal of Operational Research 226(3), 536-550.
Saltelli, A. et al. (2008). Global Sensitivity Analysis: The Primer. Wiley (ch. 1: first-order
    indices and what they leave out).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sim.vocabulary import BASES, BASIS_ARTICLE, BASIS_ASSUMPTION, BASIS_FIGURE, BASIS_NONE, PARAM_PREFIX


def bins_for(n: int) -> int:
    """Bins per input for ``n`` replicates: about ``sqrt(n)``, at least 2, at most 50, with at
    least 20 replicates per bin where ``n`` allows."""
    return int(np.clip(min(round(np.sqrt(n)), n // 20), 2, 50))


def _index(order: np.ndarray, y: np.ndarray, m: int) -> float:
    """Epsilon-squared of ``y`` over ``m`` equal-count bins of the rows in ``order``."""
    return float(_indices(order, y[None, :], m)[0])


def _indices(order: np.ndarray, ys: np.ndarray, m: int) -> np.ndarray:
    """:func:`_index` of each row of ``ys`` (outcomes of the same rows, e.g. an outcome and its
    shuffles) in one pass: the rows are gathered and summed by bin together."""
    n = ys.shape[1]
    mean = ys.mean(axis=1)
    total = ((ys - mean[:, None]) ** 2).sum(axis=1)
    if n < 4:
        return np.full(len(ys), np.nan)
    edges = np.linspace(0, n, m + 1).round().astype(int)
    sums = np.add.reduceat(ys[:, order], edges[:-1], axis=1)
    counts = np.diff(edges)
    between = (sums**2 / counts).sum(axis=1) - n * mean**2
    ms_within = (total - between) / max(n - m, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (between - (m - 1) * ms_within) / total
    return np.where(total > 0, out, np.nan)


def first_order_given_data(x: np.ndarray, y: np.ndarray, bins: int | None = None) -> float:
    """Given-data first-order index of ``y`` on one input ``x``: bias-corrected correlation ratio.

    Parameters
    ----------
    x : (n,) array
        One sampled input.
    y : (n,) array
        The outcome (e.g. 1 where the alliance held, else 0).
    bins : int, optional
        Equal-count bins of ``x`` (default :func:`bins_for`).

    Returns
    -------
    float
        ``(SS_between - (M - 1) MS_within) / SS_total`` (Kelley's epsilon-squared): an estimate of
        ``Var(E[y | x]) / Var(y)`` with no upward bias; ``nan`` when ``y`` does not vary.
    """
    y = np.asarray(y, dtype=np.float64)
    order = np.argsort(np.asarray(x, dtype=np.float64), kind="stable")
    return _index(order, y, bins or bins_for(len(y)))


def variance_by_basis(
    replicates: pd.DataFrame,
    outcome: np.ndarray,
    basis_of: Callable[[str], str],
    permutations: int = 20,
    seed: int = 0,
) -> pd.DataFrame:
    """Share of an outcome's variance explained, first order, by the inputs of each basis.

    Parameters
    ----------
    replicates : DataFrame
        A run's replicate table; its ``param:<path>`` columns are the inputs.
    outcome : (n,) array
        The outcome per replicate (row order of ``replicates``).
    basis_of : callable
        The basis of a parameter path (one of :data:`sim.vocabulary.BASES`).
    permutations : int
        How many shuffles of the outcome measure the estimate's noise: the same sums computed on a
        shuffled outcome (where every true index is 0) spread by about the estimate's own error.
    seed : int
        Seed of the shuffles.

    Returns
    -------
    DataFrame
        One row per basis present: ``basis``, ``inputs`` (how many sampled values), ``share`` (sum
        of their first-order indices), ``noise`` (two standard deviations of that sum under
        shuffling), ``top`` (the three largest, ``path (index)``); then a row ``interactions and
        chance`` with the rest. Ordered as :data:`sim.vocabulary.BASES`.
    """
    y = np.asarray(outcome, dtype=np.float64)
    m = bins_for(len(y))
    rng = np.random.default_rng(seed)
    # the outcome and its shuffles as the rows of one array, binned together for each input
    ys = np.vstack([y[None, :], *(rng.permutation(y)[None, :] for _ in range(permutations))])
    found: dict[str, list[tuple[str, float]]] = {}
    null: dict[str, np.ndarray] = {}
    for c in (c for c in replicates.columns if c.startswith(PARAM_PREFIX)):
        x = replicates[c].to_numpy(dtype=np.float64)
        if np.ptp(x) == 0:
            continue
        order = np.argsort(x, kind="stable")
        indices = _indices(order, ys, m)
        s = float(indices[0])
        if not np.isfinite(s):
            continue
        basis = basis_of(c[len(PARAM_PREFIX) :])
        found.setdefault(basis, []).append((c[len(PARAM_PREFIX) :], s))
        null[basis] = null.get(basis, np.zeros(permutations)) + indices[1:]
    out: list[dict[str, Any]] = []
    for basis in BASES:
        rows = sorted(found.get(basis, []), key=lambda r: -r[1])
        if not rows:
            continue
        out.append(
            {
                "basis": basis,
                "inputs": len(rows),
                "share": sum(s for _, s in rows),
                "noise": 2 * float(np.std(null[basis])),
                "top": ", ".join(f"{p} ({s:.2f})" for p, s in rows[:3]),
            }
        )
    explained = sum(float(r["share"]) for r in out)
    out.append(
        {
            "basis": "interactions and chance",
            "inputs": 0,
            "share": 1.0 - explained,
            "noise": float(np.sqrt(sum(float(r["noise"]) ** 2 for r in out))),
            "top": "interactions between inputs; noise, stochastic events and decisions",
        }
    )
    return pd.DataFrame(out)


def percent(x: float) -> str:
    """A share as a whole percentage, without a "-0" for small negative estimates."""
    return str(int(round(100 * x)) + 0)


#: the plural of each basis in a sentence ("by modelling assumptions")
BASIS_PLURAL = {
    BASIS_ARTICLE: "article claims",
    BASIS_FIGURE: "public figures",
    BASIS_ASSUMPTION: "modelling assumptions",
    BASIS_NONE: "ungrounded values",
}


def basis_count(n: int, basis: str) -> str:
    """``1 article claim``, ``3 ungrounded values``: a count of values of one basis in words."""
    plural = BASIS_PLURAL.get(basis, f"{basis}s")
    if n != 1:
        return f"{n} {plural}"
    return f"1 {plural[:-1] if plural.endswith('s') else plural}"


def share_text(share: float, noise: float) -> str:
    """A variance share with its noise, never below zero: ``35 ± 10 %`` when the share stands out
    from its noise; ``under 4 % (within noise)`` when it does not (the bias-corrected estimate can
    fall below zero, a share cannot)."""
    if share - noise > 0:
        return f"{percent(share)} ± {percent(noise)} %"
    return f"under {max(math.ceil(100 * max(share + noise, 0.0)), 1)} % (within noise)"


def _values(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"


def describe(table: pd.DataFrame, outcome_label: str) -> str:
    """One sentence saying what :func:`variance_by_basis` found."""
    share = dict(zip(table["basis"], table["share"], strict=True))
    noise = dict(zip(table["basis"], table["noise"], strict=True))
    parts = [
        f"{share_text(share[b], noise[b])} by {BASIS_PLURAL.get(b, b)} ({_values(int(n))})"
        for b, n in zip(table["basis"], table["inputs"], strict=True)
        if b in BASES
    ]
    inputs = sum(max(share[b], 0.0) for b in share if b in BASES)
    rest = min(max(1.0 - inputs, 0.0), 1.0)
    text = (
        f"Of the variance of whether the alliance {outcome_label}, the sampled values explain on "
        f"their own {', '.join(parts)}; the remaining {percent(rest)} % is interactions "
        "between them and the model's own chance (noise, stochastic events, the members' "
        "decisions); ± is the estimate's noise (two standard deviations of the same sum on "
        "shuffled outcomes), and a share within its noise is shown as a bound (the estimate, "
        "corrected for bias, may fall below zero; a share cannot)."
    )
    a = {k: max(share.get(k, 0.0), 0.0) for k in BASES}
    noise_inputs = float(np.sqrt(sum(noise[b] ** 2 for b in share if b in BASES)))
    if inputs > max(0.02, noise_inputs):
        grounded = a[BASIS_ARTICLE] + a[BASIS_FIGURE]
        assumed = a[BASIS_ASSUMPTION]
        lead = (
            "modelling assumptions"
            if assumed > grounded
            else "values grounded in the article or public figures"
        )
        text += (
            f" Of what the inputs explain, {100 * assumed / inputs:.0f} % comes from modelling "
            f"assumptions: the answer rests more on {lead}, so it is only as good as "
            + ("those assumptions." if assumed > grounded else "those sources.")
        )
    else:
        text += " The inputs explain no more than the estimate's noise."
    return text
