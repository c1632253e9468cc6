"""Differences between two runs: each fate's B − A with a paired and an unpaired interval.

Two runs of the same seed and chunk size draw replicate ``r`` from the same chunk seed
(:func:`sim.run.designs.stream_seeds`): common random numbers. Pairing the runs replicate by replicate
then removes the part of the Monte Carlo error the two share, and the interval of the mean paired
difference is narrower than the unpaired interval whenever the two fates are positively correlated
across replicates (Law 2015, section 11.2 on common random numbers; the paired-t interval of
section 10.2). Runs that do not share seeds are compared unpaired only.

References
----------
Law, A. M. (2015). Simulation Modeling and Analysis, 5th ed. McGraw-Hill (ch. 10-11).
Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions:
    comparison of eleven methods. Statistics in Medicine 17(8), 873-890 (method 10, the hybrid
    score interval used for the unpaired difference).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.outcomes import Z95, wilson_interval
from sim.vocabulary import FATES, REPLICATE, fate_column


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """Interval of ``p2 - p1`` for independent proportions: Newcombe's (1998) hybrid score method,
    built from the two Wilson intervals."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = (float(v) for v in wilson_interval(k1, n1, z))
    l2, u2 = (float(v) for v in wilson_interval(k2, n2, z))
    d = p2 - p1
    low = d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return float(low), float(high)


def paired_interval(x: np.ndarray, y: np.ndarray, z: float = Z95) -> tuple[float, float, float]:
    """Mean of ``y - x`` over pairs and its normal-theory interval: ``(mean, low, high)``."""
    d = np.asarray(y, dtype=np.float64) - np.asarray(x, dtype=np.float64)
    n = len(d)
    mean = float(d.mean())
    se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return mean, mean - z * se, mean + z * se


def pairing(a, b) -> str | None:
    """Why two result sets cannot be paired by replicate, or None when they can: they need the same
    seed, chunk size and number of replicates."""
    sa, sb = a.manifest.get("settings") or {}, b.manifest.get("settings") or {}
    for key, what in (("seed", "seeds"), ("chunk_size", "chunk sizes"), ("replicates", "replicates")):
        if sa.get(key) != sb.get(key):
            return f"different {what} ({sa.get(key)} and {sb.get(key)})"
    return None


def fate_differences(a, b, alliance: str | None = None) -> pd.DataFrame:
    """Each fate's B − A for one alliance, with the paired and the unpaired 95 % interval.

    Parameters
    ----------
    a, b : Results
        The runs (``B − A``: b's share minus a's).
    alliance : str, optional
        Default: a's focal alliance (it must exist in both).

    Returns
    -------
    DataFrame
        One row per fate: ``fate``, ``p_a``, ``p_b``, ``diff``, ``paired_low``, ``paired_high``
        (NaN when the runs cannot be paired: see :func:`pairing`), ``unpaired_low``,
        ``unpaired_high``, and the widths ``paired_width``, ``unpaired_width``.
    """
    alliance = alliance or a.focal
    col = fate_column(alliance)
    fa = a.read([REPLICATE, col]).sort_values(REPLICATE)
    fb = b.read([REPLICATE, col]).sort_values(REPLICATE)
    why = pairing(a, b)
    paired = why is None and np.array_equal(fa[REPLICATE].to_numpy(), fb[REPLICATE].to_numpy())
    rows = []
    for fate in FATES:
        x = (fa[col] == fate).to_numpy()
        y = (fb[col] == fate).to_numpy()
        lo_u, hi_u = newcombe_interval(int(x.sum()), len(x), int(y.sum()), len(y))
        if paired:
            _, lo_p, hi_p = paired_interval(x, y)
        else:
            lo_p = hi_p = float("nan")
        rows.append(
            {
                "fate": fate,
                "p_a": x.mean(),
                "p_b": y.mean(),
                "diff": y.mean() - x.mean(),
                "paired_low": lo_p,
                "paired_high": hi_p,
                "unpaired_low": lo_u,
                "unpaired_high": hi_u,
                "paired_width": hi_p - lo_p,
                "unpaired_width": hi_u - lo_u,
            }
        )
    return pd.DataFrame(rows)
