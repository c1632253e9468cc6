"""Sensitivity from a finished run: moment-independent indices from the sampled values and outcomes
already in a result directory, without new simulations ("given data").

Every replicate of an ensemble draws its uncertain values independently (the ``param:`` columns)
and ends in an outcome, so the replicate table is a random sample of (inputs, output). Two
moment-independent indices are estimated from it:

- **Borgonovo's delta** (Borgonovo 2007): half the expected L1 distance between the output's
  distribution and its distribution given the input, ``delta_i = 1/2 E_Xi sum_y |P(y) - P(y | X_i)|``
  for an output with finitely many values (a fate, an end-step class, active or not). The inner
  distribution is estimated on a partition of ``X_i`` into equiprobable classes (the given-data
  estimator of Plischke, Borgonovo & Smith 2013). Written here rather than taken from SALib because
  SALib's ``delta`` smooths the output's density with a Gaussian kernel, which does not suit outputs
  with two or three values (measured on 20,000 replicates: 34 s for five inputs, and every input,
  relevant or not, got 0.155).
- **PAWN** (Pianosi & Wagener 2015) as SALib defines it: the Kolmogorov-Smirnov distance between
  the output's distribution and its distribution within each of ``S`` quantile slices of ``X_i``,
  summarised by the median over slices (computed from counts; a test holds it equal to SALib's
  ``pawn.analyze``).

Both are biased upward by sampling noise (a finite class never matches the whole sample exactly).
The same index is computed for ``dummies`` made-up inputs (random permutations of a sampled value,
independent of the output by construction): their mean is the bias every index carries, their
spread its noise, and their mean plus ``z`` standard deviations the *noise level*: an index below it
cannot be told from noise (the verdict of :meth:`GivenDataResult.verdict`, which also gives each
index less the bias and, for one within noise, about how many replicates would separate it). With
many inputs some would pass a plain two-sd bar by chance alone, so the bar is
:func:`noise_z` standard deviations: a Bonferroni bound at 5 % over all the inputs.

The outputs: the alliance's fate (three values), whether it ended in a stab in the back, when it
ended (classes of the end step, held as one more class), and, over time, whether it is still
active after step ``t``: indices against time.

References
----------
Borgonovo, E. (2007). A new uncertainty importance measure. Reliability Engineering & System Safety
    92(6), 771-784.
Plischke, E., Borgonovo, E. & Smith, C. L. (2013). Global sensitivity measures from given data.
    European Journal of Operational Research 226(3), 536-550.
Pianosi, F. & Wagener, T. (2015). A simple and efficient method for global sensitivity analysis
    based on cumulative distribution functions. Environmental Modelling & Software 67, 1-11.
Herman, J. & Usher, W. (2017). SALib: an open-source Python library for sensitivity analysis.
    Journal of Open Source Software 2(9), 97.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.vocabulary import FATES, PARAM_PREFIX, end_step_column, fate_column

METHODS = ("delta", "pawn")
DUMMY = "(dummy: noise level)"
#: made-up inputs whose indices measure the noise
DUMMIES = 10
#: what each output is, in words
OUTPUT_WORDS = {
    "fate": "fate (holds, stab in the back, drift apart)",
    "stab": "stab in the back or not",
    "holds": "holds or not",
    "end": "when it ended",
}


def noise_z(inputs: int, level: float = 0.05) -> float:
    """Standard deviations above the dummies' mean an index must reach to stand out from noise
    among ``inputs`` inputs: the one-sided normal quantile at ``level / inputs`` (Bonferroni), so
    that in fewer than one analysis in twenty does an input without effect pass by chance."""
    from statistics import NormalDist

    return float(NormalDist().inv_cdf(1.0 - level / max(inputs, 1)))


def partition(x: np.ndarray, classes: int) -> np.ndarray:
    """The class (0 .. classes - 1) of each value in a partition into equiprobable classes by rank."""
    rank = np.argsort(np.argsort(x, kind="stable"), kind="stable")
    return (rank * classes // len(x)).astype(np.intp)


def default_classes(n: int) -> int:
    """Classes of the partition of an input for ``n`` replicates: ``round(sqrt(n) / 2)`` within
    [2, 50], so that each class holds enough replicates to estimate a conditional distribution."""
    return int(min(50, max(2, round(np.sqrt(n) / 2))))


def delta_discrete(
    X: np.ndarray, y: np.ndarray, classes: int | None = None, parts: np.ndarray | None = None
) -> np.ndarray:
    """Borgonovo's delta of each column of ``X`` for an output ``y`` with finitely many values.

    ``delta_i = 1/2 sum_m (n_m / n) sum_y |P(y | X_i in m) - P(y)|`` over equiprobable classes
    ``m`` of ``X_i`` (Plischke et al. 2013); ``classes`` defaults to :func:`default_classes`.

    Parameters
    ----------
    X : (n, D) array
    y : (n,) array of labels
    parts : (n, D) int array, optional
        The class of each value (:func:`partition` of each column), when already computed.

    Returns
    -------
    (D,) array in [0, 1]
    """
    n, D = X.shape
    classes = classes or default_classes(n)
    if parts is None:
        parts = np.column_stack([partition(X[:, i], classes) for i in range(D)])
    _, code = np.unique(y, return_inverse=True)
    K = int(code.max()) + 1 if n else 0
    whole = np.bincount(code, minlength=K) / n
    out = np.empty(D)
    for i in range(D):
        counts = np.bincount(parts[:, i] * K + code, minlength=classes * K).reshape(classes, K)
        size = counts.sum(axis=1, keepdims=True)
        cond = counts / np.maximum(size, 1)
        out[i] = 0.5 * float(((size[:, 0] / n) * np.abs(cond - whole).sum(axis=1)).sum())
    return out


def pawn_discrete(X: np.ndarray, y: np.ndarray, slices: int = 10) -> np.ndarray:
    """PAWN indices (Pianosi & Wagener 2015) of each column of ``X`` for an output ``y`` with finitely
    many values, as SALib's ``pawn.analyze`` defines them: ``X_i`` is cut at its quantiles
    ``0, 1/S, ..., 1`` into ``S`` slices (``q_s <= x < q_{s+1}``), the Kolmogorov-Smirnov distance
    between the output's distribution in each slice and in the whole sample is taken, and the index
    is the median over the slices that hold replicates.

    Computed with counts instead of one two-sample test per slice (SALib takes about 4 s per output
    for 60 inputs and 20,000 replicates; this, milliseconds); tests hold the two equal.

    Returns
    -------
    (D,) array in [0, 1]
    """
    n, D = X.shape
    _, code = np.unique(y, return_inverse=True)
    K = int(code.max()) + 1 if n else 0
    whole = np.cumsum(np.bincount(code, minlength=K)) / n
    step = 1 / slices
    seq = np.arange(0, 1 + step, step)  # SALib's quantile levels, rounding included
    out = np.empty(D)
    for i in range(D):
        x = X[:, i]
        q = np.nanquantile(x, seq)
        s = np.searchsorted(q, x, side="right") - 1  # q[s] <= x < q[s + 1]
        ok = (s >= 0) & (s < len(q) - 1)
        S = len(q) - 1
        counts = np.bincount(s[ok] * K + code[ok], minlength=S * K).reshape(S, K)
        size = counts.sum(axis=1)
        filled = size > 0
        cdf = np.cumsum(counts[filled], axis=1) / size[filled, None]
        out[i] = float(np.median(np.abs(cdf - whole).max(axis=1))) if filled.any() else np.nan
    return out


def sampled_if_big(results, size: int | None, seed: int = 0):
    """``results`` itself when it has at most ``size`` replicates (default
    :data:`sim.analysis.digest.SAMPLE_SIZE`) or is already a sample, else a seeded uniform sample
    of ``size`` of its rows (:func:`sim.analysis.digest.sampled`)."""
    from sim.analysis import digest

    size = digest.SAMPLE_SIZE if size is None else int(size)
    n = getattr(results, "n", None)  # a table of one's own (read() and columns only): as it is
    if isinstance(results, digest.SampledResults) or n is None or n <= size:
        return results
    return digest.sampled(results, size, seed)


def sample_settings(results) -> dict:
    """``{"sample": {"size", "total", "seed"}}`` when ``results`` is a seeded sample of a run's rows
    (:class:`sim.analysis.digest.SampledResults`) smaller than the run, else nothing."""
    info = getattr(results, "info", None)
    if info is None or info.whole:
        return {}
    return {"sample": {"size": int(info.size), "total": int(info.total), "seed": int(info.seed)}}


@dataclass
class GivenDataResult:
    """Indices of every sampled parameter for each output, and over time."""

    method: str
    alliance: str
    names: list[str]  # parameter paths (without the param: prefix), the dummy last
    indices: pd.DataFrame  # index: names; columns: outputs
    over_time: pd.DataFrame  # index: steps; columns: names (index of "active after step t")
    settings: dict = field(default_factory=dict)

    noise: pd.DataFrame | None = None  # index: outputs; columns: mean, sd, level

    def ranking(self, output: str, top: int = 10) -> list[str]:
        """The ``top`` parameters with the largest index for ``output`` (the dummy left out)."""
        s = self.indices[output].drop(DUMMY, errors="ignore").sort_values(ascending=False)
        return list(s.index[:top])

    def verdict(self, output: str, top: int | None = None) -> pd.DataFrame:
        """The parameters by decreasing index for ``output``: ``index``, ``above_noise`` (the
        index less the dummies' mean, the bias every index carries), ``within_noise`` (the index
        does not exceed the noise level) and ``replicates_needed`` (for one within noise and above
        the bias: about how many replicates would bring the noise level below it, the noise
        falling as one over the square root of the replicates; else none)."""
        s = self.indices[output].drop(DUMMY, errors="ignore").sort_values(ascending=False)
        if top is not None:
            s = s.head(top)
        n = int(self.settings.get("replicates", 0))
        z = float(self.settings.get("noise_z", 2.0))
        if self.noise is None:
            level, mean, sd = float(self.indices.loc[DUMMY, output]), 0.0, np.nan
        else:
            mean, sd, level = (float(self.noise.loc[output, c]) for c in ("mean", "sd", "level"))
        need = []
        for v in s.to_numpy():
            excess = v - mean
            if v > level or not np.isfinite(sd) or excess <= 0 or n <= 0:
                need.append(pd.NA)
            else:
                need.append(int(np.ceil(n * (z * sd / excess) ** 2)))
        return pd.DataFrame(
            {
                "index": s.to_numpy(),
                "above_noise": s.to_numpy() - mean,
                "within_noise": s.to_numpy() <= level,
                "replicates_needed": pd.array(need, dtype="Int64"),
            },
            index=s.index,
        )


def _checked(results, method: str, alliance: str | None) -> str:
    """The alliance analysed (default: the focal one), the method and the alliance refused in one
    line when unknown."""
    if method not in METHODS:
        raise InputError(
            f"--method: expected one of {', '.join(METHODS)} for a result directory, got {method!r}"
        )
    alliance = alliance or results.focal or (results.alliances[0] if results.alliances else "")
    if not alliance or alliance not in results.alliances:
        raise InputError(
            f"--alliance: expected one of {', '.join(results.alliances) or '(none)'}, got {alliance!r}"
        )
    return alliance


def _inputs(results, table: pd.DataFrame, cols: list[str], seed: int, dummies: int):
    """The inputs: the sampled values that vary, then the dummies (seeded permutations of them);
    the varying values' names and how many they are."""
    X = table[cols].to_numpy(np.float64)
    keep = X.std(axis=0) > 0
    if not keep.any():
        raise InputError(
            f"{results.directory}: no sampled parameter varies across the replicates; "
            "expected a run of a scenario with uncertain values (not --point)"
        )
    names = [c[len(PARAM_PREFIX) :] for c, k in zip(cols, keep) if k]
    real = X[:, keep]
    rng = np.random.default_rng(seed)
    D = real.shape[1]
    X = np.column_stack([real] + [rng.permutation(real[:, j % D]) for j in range(max(dummies, 2))])
    return X, names, D


def given_data(
    results,
    method: str = "delta",
    alliance: str | None = None,
    *,
    times: int = 12,
    seed: int = 0,
    slices: int = 10,
    dummies: int = DUMMIES,
    sample_size: int | None = None,
) -> GivenDataResult:
    """Delta or PAWN indices of a finished run's sampled parameters (no new simulations).

    Parameters
    ----------
    results : sim.run.store.Results
        A finished run whose replicates sampled their uncertain values (``param:`` columns).
    method : {"delta", "pawn"}
    alliance : str, optional
        The alliance whose outcomes are analysed (default: the focal alliance).
    times : int
        Points of the time axis of ``P(active after step t)`` (equally spaced over the run).
    seed : int
        Seed of the dummy inputs' permutations.
    slices : int
        PAWN's conditioning slices.
    dummies : int
        Made-up inputs (permutations of sampled values) whose indices measure the noise.
    sample_size : int
        A run with more replicates is read through a uniform sample of this many of its rows,
        seeded with ``seed`` (:func:`sim.analysis.digest.sampled`; default
        :data:`sim.analysis.digest.SAMPLE_SIZE`); ``settings["sample"]`` then says which.
    """
    alliance = _checked(results, method, alliance)
    started = time.perf_counter()
    results = sampled_if_big(results, sample_size, seed)
    cols = [c for c in results.columns if c.startswith(PARAM_PREFIX)]
    table = results.read(cols + [fate_column(alliance), end_step_column(alliance)])
    X, names, D = _inputs(results, table, cols, seed, dummies)
    fate = table[fate_column(alliance)].to_numpy()
    end = table[end_step_column(alliance)].to_numpy(np.int64)
    T = results.steps
    held = fate == FATES[0]
    end_class = np.where(held, times, np.minimum(end * times // max(T, 1), times - 1))
    outputs = {"fate": fate, "stab": fate == FATES[1], "holds": held, "end": end_class}

    classes = default_classes(len(X))
    parts = (
        np.column_stack([partition(X[:, i], classes) for i in range(X.shape[1])])
        if method == "delta"
        else None
    )

    def index(y) -> np.ndarray:
        if method == "delta":
            return delta_discrete(X, y, classes, parts)
        return pawn_discrete(X, y, slices)

    z = noise_z(D)

    def split(values: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The real inputs' indices, and the dummies' mean, sd and level (mean + z sd)."""
        dummy = values[D:]
        mean, sd = float(dummy.mean()), float(dummy.std(ddof=1))
        return values[:D], mean, sd, mean + z * sd

    found, noise = {}, {}
    for k, y in outputs.items():
        values, mean, sd, level = split(index(y))
        found[k] = np.append(values, level)
        noise[k] = {"mean": mean, "sd": sd, "level": level}
    indices = pd.DataFrame(found, index=names + [DUMMY])
    grid = np.unique(np.linspace(0, T - 1, times).round().astype(int))
    rows = {}
    for t in grid:
        active = (end > t) | held
        if 0 < active.mean() < 1:
            values, _, _, level = split(index(active))
            rows[int(t)] = np.append(values, level)
        else:
            rows[int(t)] = np.zeros(D + 1)
    over_time = pd.DataFrame(rows, index=names + [DUMMY]).T
    over_time.index.name = "step"
    names = names + [DUMMY]
    return GivenDataResult(
        method,
        alliance,
        names,
        indices,
        over_time,
        {
            **dict(replicates=len(table), parameters=len(names) - 1, seconds=time.perf_counter() - started),
            **dict(directory=str(results.directory), times=[int(t) for t in grid], seed=seed),
            "slices": slices if method == "pawn" else None,
            "classes": classes if method == "delta" else None,
            **dict(dummies=max(dummies, 2), noise_z=z),
            **sample_settings(results),
        },
        pd.DataFrame(noise).T,
    )
